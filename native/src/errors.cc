#include "errors.h"

#include <cstring>

namespace intact {

Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message,
                       int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (err != 0) {
    // Node reports errno negated (uv style); keep that convention.
    e.Set("errno", Napi::Number::New(env, -err));
  }
  if (syscall != nullptr) e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

Napi::Error SyscallError(Napi::Env env, const char* syscall, int err,
                         const std::string& detail) {
  std::string msg = std::string(syscall) + " failed: " + std::strerror(err);
  if (!detail.empty()) msg += " (" + detail + ")";
  return CodedError(env, "ERR_INTACT_SYSCALL", msg, err, syscall);
}

}  // namespace intact
