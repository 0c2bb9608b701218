// A socket belongs to the network namespace of the thread that created it, for its
// whole life. So to open a link inside another namespace, the calling thread steps in,
// creates its sockets, and steps straight back out: one process can drive links in
// several namespaces (tests, benchmarks), with no `ip netns exec` per role.
#pragma once

#include <napi.h>

#include <string>

#include "fd.h"

namespace intact {

class NetnsGuard {
 public:
  // `netns` empty: stay where we are. A bare name means /run/netns/<name> (what
  // `ip netns add` creates); anything with a '/' is a path to a namespace file.
  NetnsGuard(Napi::Env env, const std::string& netns);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  UniqueFd home_;
};

}  // namespace intact
