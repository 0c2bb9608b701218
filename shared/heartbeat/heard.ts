// Evidence of the peer's life that the main thread sees (replication data and
// confirmations), handed to the heartbeat thread through shared memory: one slot per
// path with the last time traffic arrived on it. The main thread marks a slot per batch
// it reads; the heartbeat thread reads the slots just before each judgment.
//
// This replaced a postMessage per mark (rate-limited to one per 2 ms): profiled in bulk
// transfer at 4.5% of the primary's main thread and 7.8% of the backup's. A mark is now
// two atomic adds and a store.
//
// A time is a float64, which Atomics cannot store, so each slot has a sequence number
// (a seqlock): odd while the writer is in the middle of a mark. Only the main thread
// writes; a reader that sees the sequence move or odd reads again.

const READ_TRIES = 16;

/** The clock of the marks: monotonic and the same in every thread of the process
 *  (CLOCK_MONOTONIC). Not performance.now(): each worker counts it from its own
 *  timeOrigin, a wall-clock reading taken when the worker started, so a clock step
 *  between the process's start and the worker's would skew every mark. */
export function heardClockMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export class HeardBoard {
  readonly buffer: SharedArrayBuffer;
  readonly #at: Float64Array;
  readonly #seq: Int32Array;

  /** A board for `paths` paths, or the view of one made elsewhere (its buffer). */
  constructor(paths: number | SharedArrayBuffer) {
    this.buffer = typeof paths === 'number' ? new SharedArrayBuffer(paths * 12) : paths;
    const n = this.buffer.byteLength / 12;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`a heard board needs 12 bytes per path, not ${this.buffer.byteLength}`);
    this.#at = new Float64Array(this.buffer, 0, n);
    this.#seq = new Int32Array(this.buffer, n * 8, n);
    // Float64Array starts at 0: "never" must read as no evidence at all.
    if (typeof paths === 'number') this.#at.fill(Number.NEGATIVE_INFINITY);
  }

  get paths(): number {
    return this.#at.length;
  }

  /** Traffic from the peer arrived on path `i` at `at` (heardClockMs()). Single writer. */
  mark(i: number, at: number): void {
    Atomics.add(this.#seq, i, 1);
    this.#at[i] = at;
    Atomics.add(this.#seq, i, 1);
  }

  /** The last mark of path `i` (-Infinity when none), or undefined if the writer kept
   *  it busy through every try (the next judgment reads it again). */
  read(i: number): number | undefined {
    for (let k = 0; k < READ_TRIES; k++) {
      const s1 = Atomics.load(this.#seq, i);
      if (s1 & 1) continue;
      const at = this.#at[i]!;
      if (Atomics.load(this.#seq, i) === s1) return at;
    }
    return undefined;
  }
}
