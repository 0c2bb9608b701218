// How this host's idle CPUs wait, read from sysfs. Waking a process asleep on an idle
// CPU is most of a strict output commit's cost on a VM whose idle virtual CPUs halt at
// once, so the scenario reports record it and the primary names it at start.
import { readFileSync } from 'node:fs';

export interface CpuIdle {
  /** cpuidle driver and governor (e.g. haltpoll, intel_idle / menu), null if none. */
  driver: string | null;
  governor: string | null;
  /** KVM guest halt polling: how long an idle CPU polls before halting, ns; null when
   *  the haltpoll module is absent. */
  guestHaltPollNs: number | null;
}

function readSys(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** The cpuidle settings of this host, from sysfs (nulls where there is no such file). */
export function cpuIdle(): CpuIdle {
  const poll = readSys('/sys/module/haltpoll/parameters/guest_halt_poll_ns');
  return {
    driver: readSys('/sys/devices/system/cpu/cpuidle/current_driver'),
    governor: readSys('/sys/devices/system/cpu/cpuidle/current_governor') ?? readSys('/sys/devices/system/cpu/cpuidle/current_governor_ro'),
    guestHaltPollNs: poll !== null && /^\d+$/.test(poll) ? Number(poll) : null,
  };
}

/** One line for a report: "haltpoll / haltpoll, guest halt polling 0 ns". */
export function cpuIdleLabel(c: CpuIdle): string {
  const parts = [c.driver ? `${c.driver} / ${c.governor ?? '?'}` : 'no cpuidle driver'];
  if (c.guestHaltPollNs !== null) parts.push(`guest halt polling ${c.guestHaltPollNs} ns`);
  return parts.join(', ');
}

/** A VM guest whose idle CPUs halt without polling first (haltpoll with
 *  guest_halt_poll_ns 0): each wake-up of a sleeping process costs tens of µs. */
export function haltsAtOnce(c: CpuIdle): boolean {
  return c.driver === 'haltpoll' && c.guestHaltPollNs === 0;
}
