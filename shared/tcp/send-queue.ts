// The send queue: bytes the application queued, from the first unacknowledged data
// byte on. A list of Buffer chunks, so queueing never copies and acknowledging frees
// whole chunks; only a segment spanning chunks is gathered into a new Buffer.

export class SendQueue {
  #chunks: Buffer[] = [];
  /** Index of the first live chunk (shifting an array per ACK would be quadratic). */
  #head = 0;
  /** Bytes of #chunks[#head] already acknowledged. */
  #headOff = 0;
  #length = 0;

  /** Bytes held. */
  get length(): number {
    return this.#length;
  }

  push(data: Buffer): void {
    if (data.length === 0) return;
    this.#chunks.push(data);
    this.#length += data.length;
  }

  /** `len` bytes starting `offset` bytes after the queue's front. The caller keeps the
   *  range within the queue. Zero-copy when the range lies in one chunk. */
  read(offset: number, len: number): Buffer {
    if (len <= 0) return Buffer.alloc(0);
    const chunks = this.#chunks;
    let i = this.#head;
    let off = offset + this.#headOff;
    while (off >= chunks[i]!.length) off -= chunks[i++]!.length;
    const first = chunks[i]!;
    if (off + len <= first.length) return first.subarray(off, off + len);
    const out = Buffer.allocUnsafe(len);
    let done = first.copy(out, 0, off);
    while (done < len) done += chunks[++i]!.copy(out, done, 0, Math.min(chunks[i]!.length, len - done));
    return out;
  }

  /** Drop `n` bytes from the front (they were acknowledged). */
  drop(n: number): void {
    n = Math.min(n, this.#length);
    this.#length -= n;
    const chunks = this.#chunks;
    while (n > 0) {
      const rest = chunks[this.#head]!.length - this.#headOff;
      if (n < rest) {
        this.#headOff += n;
        break;
      }
      n -= rest;
      chunks[this.#head++] = undefined as unknown as Buffer;
      this.#headOff = 0;
    }
    if (this.#length === 0) {
      this.#chunks = [];
      this.#head = 0;
      this.#headOff = 0;
    } else if (this.#head > 32 && this.#head * 2 > chunks.length) {
      this.#chunks = chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Everything held, as one Buffer (snapshots). */
  toBuffer(): Buffer {
    return this.read(0, this.#length);
  }
}
