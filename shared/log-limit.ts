// Log lines for things that repeat (a misconfigured peer retrying every second) without
// flooding the log: the first occurrence of each key is logged, then at most one line
// per interval carrying how many occurrences that line stands for. Counting is the
// caller's (events, metrics); this only decides which occurrences get a line.
export interface LogDecision {
  /** Write a line for this occurrence. */
  log: boolean;
  /** Occurrences of this key so far, this one included. */
  count: number;
  /** Occurrences since the last line that got none (0 on a first line). */
  suppressed: number;
}

/** Keys kept at most: a peer that varies the key (a new source port each time) must
 *  not grow this without bound; past it, the oldest key is forgotten and logs again. */
const MAX_KEYS = 1024;

export class LogLimiter {
  private readonly keys = new Map<string, { count: number; lastLogAt: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 60_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  admit(key: string): LogDecision {
    const t = this.now();
    const k = this.keys.get(key);
    if (!k) {
      if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
      this.keys.set(key, { count: 1, lastLogAt: t, suppressed: 0 });
      return { log: true, count: 1, suppressed: 0 };
    }
    k.count++;
    if (t - k.lastLogAt < this.intervalMs) {
      k.suppressed++;
      return { log: false, count: k.count, suppressed: k.suppressed };
    }
    const suppressed = k.suppressed;
    k.lastLogAt = t;
    k.suppressed = 0;
    return { log: true, count: k.count, suppressed };
  }
}
