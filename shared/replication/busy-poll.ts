// Busy polling of the replication link (`replication.busyPollUs`). A strict output
// commit waits for a replication round trip per reply, and on an idle host most of that
// round trip is not the wire but waking the process that must answer: the backup asleep
// in epoll when the primary's batch lands, the primary asleep when the CONFIRM does. On
// this lab's VM a wake-up of an idle CPU costs tens of µs, each way (measured: `intact
// scenario overhead-rr`, strict mode added 64-117 µs per exchange with both sides
// sleeping, and 18-30 µs, within 1.5 link round trips, once the VM's own idle CPUs
// polled: guest_halt_poll_ns 200000 instead of the 0 this machine boots with). So for
// `busyPollUs` after its last replication traffic the process does not sleep: a
// setImmediate chain keeps libuv's poll timeout at 0 (epoll_wait returns at once, the
// loop goes round), and the next message is read as soon as it lands. The price is a
// CPU kept busy while traffic flows, and only then: after `busyPollUs` of silence the
// loop sleeps as usual. Off (0) by default, as Linux's own busy_poll; for services that
// trade a core for latency (DESIGN targets: added latency per exchange).
// Each round yields the CPU (sched_yield) first: a runnable client, app or peer process
// on this CPU runs before the poll goes round again. It is still not the kernel's
// idle polling, which the guest's scheduler never sees: a polling process looks busy to
// it, so no task waiting on the other CPU is moved to this one. Measured side by side
// (`intact scenario throughput --set replication.busyPollUs=1000`, one run each,
// 2026-11-23 04:39-04:52, server → client as % of off): strict 47.6% yielding, 46.7%
// not, 50.8% without polling; output replay 78.2%, 70.1%, 77.4%. With yielding, strict
// request/response added −22 to +6 µs per exchange over off (`overhead-rr`, same flag).
import { cpuYield } from '../../native/index.js';

export class BusyPoll {
  private until = 0;
  private running = false;
  private stopped = false;
  /** Turns of the loop spent polling since the start (for tests and diagnostics). */
  spins = 0;

  constructor(
    /** Microseconds to keep polling after the last traffic; 0: never. */
    private readonly us: number,
    private readonly now: () => number = () => performance.now(),
    /** Gives the CPU to whoever else is runnable on it; undefined: never yield. */
    private readonly yieldCpu: (() => void) | undefined = us > 0 ? cpuYield() : undefined,
  ) {}

  get active(): boolean {
    return this.running;
  }

  /** Replication traffic just now: poll for `us` more. */
  touch(): void {
    if (this.us <= 0 || this.stopped) return;
    this.until = this.now() + this.us / 1000;
    if (this.running) return;
    this.running = true;
    setImmediate(this.spin);
  }

  /** For good (the link is closed): the loop may sleep, and exit. */
  stop(): void {
    this.stopped = true;
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
