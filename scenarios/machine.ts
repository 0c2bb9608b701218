// The machine a figure was measured on: it goes into every summary and report.
import os from 'node:os';
import { cpuIdle, type CpuIdle } from '../shared/cpu-idle.js';

export { cpuIdleLabel, type CpuIdle } from '../shared/cpu-idle.js';

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
   *  64-117 µs; with 200 µs of halt polling, 21-31 µs and 18-30 µs. */
  cpuIdle: CpuIdle;
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
