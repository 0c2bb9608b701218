// Scheduling of the calling thread: heartbeat threads run real-time, as corosync's
// do, so a machine saturated by data traffic still beats and judges on time (busy is
// not dead).
#pragma once

#include <napi.h>

namespace intact {

// setRealtime(priority): SCHED_RR at `priority` (1..99) for the calling thread only.
// Returns true, or false with no change when not permitted (no CAP_SYS_NICE / RLIMIT_RTPRIO).
Napi::Value SetRealtimeJs(const Napi::CallbackInfo& info);

// setNormal(): back to SCHED_OTHER for the calling thread (always permitted).
Napi::Value SetNormalJs(const Napi::CallbackInfo& info);

// yield(): sched_yield() for the calling thread. A thread that polls instead of
// sleeping calls it each round, so it spins only on a CPU nobody else wants.
Napi::Value YieldJs(const Napi::CallbackInfo& info);

}  // namespace intact
