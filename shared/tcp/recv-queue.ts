// The receive queue: in-order bytes the application has not consumed yet, as a list of
// Buffer chunks. recv() hands out a chunk without copying when it can.

export class RecvQueue {
  #chunks: Buffer[] = [];
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(data: Buffer): void {
    if (data.length === 0) return;
    this.#chunks.push(data);
    this.#length += data.length;
  }

  /** Up to `max` bytes from the front, removed; undefined when empty. */
  take(max: number): Buffer | undefined {
    if (this.#length === 0 || max <= 0) return undefined;
    const chunks = this.#chunks;
    const first = chunks[this.#head]!;
    let out: Buffer;
    if (first.length > max) {
      out = first.subarray(0, max);
      chunks[this.#head] = first.subarray(max);
    } else if (first.length === max || this.#head + 1 === chunks.length) {
      out = first;
      chunks[this.#head++] = undefined as unknown as Buffer;
    } else {
      const n = Math.min(max, this.#length);
      out = Buffer.allocUnsafe(n);
      let done = 0;
      while (done < n) {
        const c = chunks[this.#head]!;
        const k = Math.min(c.length, n - done);
        c.copy(out, done, 0, k);
        done += k;
        if (k === c.length) chunks[this.#head++] = undefined as unknown as Buffer;
        else chunks[this.#head] = c.subarray(k);
      }
    }
    this.#length -= out.length;
    if (this.#length === 0) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head > 32 && this.#head * 2 > chunks.length) {
      this.#chunks = chunks.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  /** Everything held, as one Buffer, without consuming it (snapshots). */
  toBuffer(): Buffer {
    const live = this.#chunks.slice(this.#head);
    return live.length === 1 ? live[0]! : Buffer.concat(live, this.#length);
  }
}
