// Byte streams held as lists of buffers (views, in order): the mirror's bytes waiting
// for the backup, the store's held streams.

/** Drops up to `n` bytes from the front of `chunks`, in place: whole chunks, then a
 *  view of the rest of the one cut (no copy). */
export function dropFront(chunks: Buffer[], n: number): void {
  while (n > 0 && chunks.length > 0) {
    const c = chunks[0]!;
    if (c.length <= n) {
      chunks.shift();
      n -= c.length;
    } else {
      chunks[0] = c.subarray(n);
      n = 0;
    }
  }
}
