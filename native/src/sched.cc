#include "sched.h"

#include <errno.h>
#include <sched.h>

#include "errors.h"

namespace intact {

Napi::Value SetRealtimeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "setRealtime(priority): priority must be a number");
  }
  int prio = info[0].As<Napi::Number>().Int32Value();
  if (prio < 1 || prio > 99) throw Napi::RangeError::New(env, "setRealtime: priority must be in [1, 99]");
  sched_param p{};
  p.sched_priority = prio;
  // pid 0 = the calling thread (Linux applies sched_setscheduler per thread).
  if (sched_setscheduler(0, SCHED_RR, &p) != 0) {
    if (errno == EPERM) return Napi::Boolean::New(env, false);
    throw SyscallError(env, "sched_setscheduler", errno);
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value SetNormalJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sched_param p{};
  p.sched_priority = 0;
  if (sched_setscheduler(0, SCHED_OTHER, &p) != 0) throw SyscallError(env, "sched_setscheduler", errno);
  return env.Undefined();
}

Napi::Value YieldJs(const Napi::CallbackInfo& info) {
  // Linux's sched_yield cannot fail; for a SCHED_OTHER thread it lets any other
  // runnable thread on this CPU go first and returns at once when there is none.
  sched_yield();
  return info.Env().Undefined();
}

}  // namespace intact
