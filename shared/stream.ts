// A deterministic byte stream named by (seed, length): the source app sends it, test
// clients regenerate it to check what they got, and neither side has to store it.
// The bytes depend only on the seed and the position, never on how the stream is cut
// into chunks, so a client can verify a transfer that arrived in any pieces and the
// source can resume at any offset after a takeover (issue 4).
//
// Generator: Marsaglia's xorshift128 seeded through splitmix32; each 32-bit output is
// stored little-endian. Not cryptographic — it only needs to be fast (several hundred
// MB/s) and to make any lost, duplicated or reordered byte visible in the digest.
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { Readable } from 'node:stream';

/** Chunk size of the generator: big enough that per-chunk overhead vanishes. */
export const STREAM_CHUNK = 64 * 1024;

const LITTLE_ENDIAN = endianness() === 'LE';

class Xorshift128 {
  private x: number;
  private y: number;
  private z: number;
  private w: number;

  constructor(seed: number) {
    // splitmix32 spreads a small seed (0, 1, 2...) over all four words; an all-zero
    // state would stay zero forever.
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.x = next();
    this.y = next();
    this.z = next();
    this.w = next() | 1;
  }

  /** `words` outputs into `buf`, little-endian. */
  fill(buf: Buffer, words: number): void {
    if (LITTLE_ENDIAN) {
      // A typed view writes whole words: several times faster than writeUInt32LE.
      const view = new Uint32Array(buf.buffer, buf.byteOffset, words);
      let { x, y, z, w } = this;
      for (let i = 0; i < words; i++) {
        const t = x ^ (x << 11);
        x = y;
        y = z;
        z = w;
        w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
        view[i] = w;
      }
      this.x = x;
      this.y = y;
      this.z = z;
      this.w = w;
    } else {
      for (let i = 0; i < words; i++) buf.writeUInt32LE(this.next(), i * 4);
    }
  }

  next(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = (this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return this.w;
  }
}

function checkArgs(seed: number, length: number, start: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 2^32): ${seed}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`length must be a non-negative integer: ${length}`);
  if (!Number.isSafeInteger(start) || start < 0 || start > length) {
    throw new RangeError(`start must be an integer in [0, length]: ${start}`);
  }
}

/**
 * The bytes [start, length) of the stream `seed`, as Buffers of at most STREAM_CHUNK
 * bytes. Each yielded Buffer is fresh (the consumer may keep it).
 */
export function* seededChunks(seed: number, length: number, start = 0): Generator<Buffer> {
  checkArgs(seed, length, start);
  const rng = new Xorshift128(seed);
  // Skip whole words without writing them; the partial word is cut from the first chunk.
  const skipWords = Math.floor(start / 4);
  for (let i = 0; i < skipWords; i++) rng.next();
  let pos = skipWords * 4;
  let cut = start - pos;
  while (pos < length) {
    const words = Math.min(STREAM_CHUNK, length - pos + 3) >>> 2;
    const buf = Buffer.alloc(words * 4);
    rng.fill(buf, words);
    const end = Math.min(buf.length, length - pos);
    yield buf.subarray(cut, end);
    pos += words * 4;
    cut = 0;
  }
}

/** The stream as a Readable (byte mode), e.g. to pipe() into a socket. */
export function seededStream(seed: number, length: number, start = 0): Readable {
  return Readable.from(seededChunks(seed, length, start), { objectMode: false });
}

/** sha256 (hex) of the bytes [0, length) of the stream `seed`. */
export function seededSha256(seed: number, length: number): string {
  const h = createHash('sha256');
  for (const chunk of seededChunks(seed, length)) h.update(chunk);
  return h.digest('hex');
}
