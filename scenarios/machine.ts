// The machine a figure was measured on: it goes into every summary and report.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGB: number;
  kernel: string;
  node: string;
  /** How an idle CPU waits, which sets what waking a sleeping process costs: every
   *  latency figure depends on it. Measured here (`intact scenario overhead-rr`, this
   *  2-core VM): with the guest's halt polling off (guest_halt_poll_ns 0, as this
   *  machine boots) a kernel TCP exchange took 72-91 µs and strict replication added
   *  64-117 µs; with 200 µs of halt polling, 22-30 µs and 20-30 µs. */
  cpuIdle: CpuIdle;
}

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

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    cpuIdle: cpuIdle(),
  };
}
