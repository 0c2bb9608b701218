// Busy polling of the replication link (`replication.busyPollUs`). A strict output
// commit waits for a replication round trip per reply, and on an idle host most of that
// round trip is not the wire but waking the process that must answer: the backup asleep
// in epoll when the primary's batch lands, the primary asleep when the CONFIRM does. On
// this lab's VM a wake-up of an idle CPU costs tens of µs, each way (`intact scenario
// overhead-rr`: strict mode added 64-117 µs per exchange with both sides sleeping, and
// 18-30 µs, within 1.5 link round trips, once the VM's own idle CPUs polled:
// guest_halt_poll_ns 200000 instead of the 0 this machine boots with). So after its
// replication traffic the process does not sleep at once: a setImmediate chain keeps
// libuv's poll timeout at 0 (epoll_wait returns at once, the loop goes round), and the
// next message is read as soon as it lands.
// How long: the window adapts to the gaps between messages as KVM's halt polling does
// (adapt() below), between 0 and the configured bound (default 200 µs, shared/config.ts
// DEFAULT_BUSY_POLL_US, KVM's own bound). Request/response at full speed and bulk keep
// the bound; a sparse client, whose requests come milliseconds apart, soon polls for
// nothing and costs nothing. Measured 2026-11-23 (figures at DEFAULT_BUSY_POLL_US): the
// bound polled fixed cost a sparse load ~0.1 ms of the primary's CPU per exchange,
// adapting cost no more than sleeping, within noise.
// Each round yields the CPU (sched_yield) first: a runnable client, app or peer process
// on this CPU runs before the poll goes round again. It is still not the kernel's
// idle polling, which the guest's scheduler never sees: a polling process looks busy to
// it, so no task waiting on the other CPU is moved to this one. Measured side by side
// (`intact scenario throughput --set replication.busyPollUs=1000`, one run each,
// 2026-11-23 04:39-04:52, server → client as % of off): strict 47.6% yielding, 46.7%
// not, 50.8% without polling; output replay 78.2%, 70.1%, 77.4%.
import { cpuYield } from '../../native/index.js';

/** Where a window that had shrunk to nothing starts growing again (µs): KVM's
 *  halt_poll_ns_grow_start. */
export const GROW_START_US = 10;

export class BusyPoll {
  private until = 0;
  private running = false;
  private stopped = false;
  /** performance.now() of the last traffic (NaN: none yet). */
  private last = Number.NaN;
  /** Turns of the loop spent polling since the start (for tests and diagnostics). */
  spins = 0;
  /** How long (µs) the loop polls after traffic now: adapted between 0 and the
   *  configured bound by the gaps it meets (adapt()). */
  windowUs: number;

  constructor(
    /** At most this many microseconds of polling after the last traffic; 0: never. */
    private readonly us: number,
    private readonly now: () => number = () => performance.now(),
    /** Gives the CPU to whoever else is runnable on it; undefined: never yield. */
    private readonly yieldCpu: (() => void) | undefined = us > 0 ? cpuYield() : undefined,
  ) {
    this.windowUs = Math.max(0, us);
  }

  get active(): boolean {
    return this.running;
  }

  /** Replication traffic just now: poll for the window's length more. */
  touch(): void {
    if (this.us <= 0 || this.stopped) return;
    const now = this.now();
    this.adapt((now - this.last) * 1000);
    this.last = now;
    if (this.windowUs === 0) return;
    this.until = now + this.windowUs / 1000;
    if (this.running) return;
    this.running = true;
    setImmediate(this.spin);
  }

  /** For good (the link is closed): the loop may sleep, and exit. */
  stop(): void {
    this.stopped = true;
  }

  /** The window after a gap of `gapUs` between two traffics, as KVM sizes a vCPU's
   *  halt polling: a gap the window covered leaves it be; a gap it missed but the bound
   *  would have covered doubles it (from GROW_START_US); a gap past the bound, where
   *  polling could only burn the CPU, halves it (to 0 below GROW_START_US). Dense
   *  traffic keeps the bound; sparse traffic soon polls for nothing, costs nothing. */
  private adapt(gapUs: number): void {
    if (!(gapUs > this.windowUs)) return; // covered, or the first traffic (NaN)
    if (gapUs <= this.us) this.windowUs = Math.min(this.us, Math.max(GROW_START_US, this.windowUs * 2));
    else this.windowUs = this.windowUs / 2 < GROW_START_US ? 0 : this.windowUs / 2;
  }

  private readonly spin = (): void => {
    if (this.stopped || this.now() >= this.until) {
      this.running = false;
      return;
    }
    this.spins++;
    this.yieldCpu?.();
    setImmediate(this.spin);
  };
}
