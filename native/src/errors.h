// JS errors thrown by the addon. Every one carries a stable `code`; syscall failures
// also carry `errno` and `syscall` in the manner of Node's own errors. native/errors.ts
// turns them into IntactError instances.
#pragma once

#include <napi.h>

#include <string>

namespace intact {

// code ERR_INTACT_SYSCALL, errno, syscall; message "<syscall> failed: <strerror>".
Napi::Error SyscallError(Napi::Env env, const char* syscall, int err,
                         const std::string& detail = "");

// Any other coded error (ERR_INTACT_NO_SUCH_INTERFACE, ERR_INTACT_NO_CAP_NET_RAW, ...),
// optionally with the errno and syscall that revealed it.
Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message,
                       int err = 0, const char* syscall = nullptr);

}  // namespace intact
