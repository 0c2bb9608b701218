// Busy polling of the replication link (`replication.busyPollUs`). A strict output
// commit waits for a replication round trip per reply, and on an idle host most of that
// round trip is not the wire but waking the process that must answer: the backup asleep
// in epoll when the primary's batch lands, the primary asleep when the CONFIRM does. On
// this lab's VM a wake-up of an idle CPU costs tens of µs, each way (measured: `intact
// scenario overhead-rr`, strict mode added 72-102 µs per exchange with the backup
// sleeping, 5-41 µs with it polling; the link's round trip was 31-35 µs). So for
// `busyPollUs` after its last replication traffic the process does not sleep: a
// setImmediate chain keeps libuv's poll timeout at 0 (epoll_wait returns at once, the
// loop goes round), and the next message is read as soon as it lands. The price is a
// CPU kept busy while traffic flows, and only then: after `busyPollUs` of silence the
// loop sleeps as usual. Off (0) by default, as Linux's own busy_poll; for services that
// trade a core for latency (DESIGN targets: added latency per exchange).
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
    setImmediate(this.spin);
  };
}
