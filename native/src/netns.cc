#include "netns.h"

#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "errors.h"

namespace intact {

NetnsGuard::NetnsGuard(Napi::Env env, const std::string& netns) {
  if (netns.empty()) return;
  if (netns.find('\0') != std::string::npos) {
    throw CodedError(env, "ERR_INTACT_NO_SUCH_NETNS", "bad network namespace name");
  }
  std::string path = netns.find('/') == std::string::npos ? "/run/netns/" + netns : netns;
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home) throw SyscallError(env, "open", errno, "/proc/thread-self/ns/net");
  UniqueFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!target) {
    int err = errno;
    if (err == ENOENT) {
      throw CodedError(env, "ERR_INTACT_NO_SUCH_NETNS",
                       "no network namespace '" + netns + "' (" + path + ")", err, "open");
    }
    throw SyscallError(env, "open", err, path);
  }
  if (::setns(target.get(), CLONE_NEWNET) != 0) {
    int err = errno;
    throw SyscallError(env, "setns", err, path);
  }
  home_ = std::move(home);
}

NetnsGuard::~NetnsGuard() {
  if (!home_) return;
  if (::setns(home_.get(), CLONE_NEWNET) != 0) {
    // The main thread would go on in the wrong namespace: every later socket, and
    // every test after it, would be silently wrong. Stop instead.
    std::fprintf(stderr, "intact: cannot return to the original network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
}

}  // namespace intact
