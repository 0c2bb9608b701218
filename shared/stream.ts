// A deterministic byte stream named by (seed, length): the source app sends it, test
// clients regenerate it to check what they got, and neither side has to store it.
// The bytes depend only on the seed and the position, never on how the stream is cut
// into chunks, so a client can verify a transfer that arrived in any pieces and the
// source can resume at any offset after a takeover (issue 4).
//
// Generator: the keystream of AES-128-CTR under a key made from the seed (splitmix32),
// the counter starting at 0: byte p of the stream is byte p % 16 of block p / 16, so a
// stream resumes at any offset without generating what comes before. Not used as
// cryptography: it only needs to be fast and to make any lost, duplicated or reordered
// byte visible in the digest. OpenSSL makes it at several GB/s (AES-NI); the xorshift128
// loop in JavaScript it replaced made 400-600 MB/s, which bounded every bulk figure of
// the scenarios (70% of a primary's CPU serving a 1 GB download was that loop).
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** Chunk size of the generator: big enough that per-chunk overhead vanishes. */
export const STREAM_CHUNK = 64 * 1024;

/** The plaintext: the keystream is what encrypting zeros gives. Never written. */
const ZEROS = Buffer.alloc(STREAM_CHUNK);

/** 16 bytes from the seed. splitmix32 spreads a small seed (0, 1, 2...) over the key. */
function keyOf(seed: number): Buffer {
  const key = Buffer.allocUnsafe(16);
  let s = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    key.writeUInt32BE((z ^ (z >>> 16)) >>> 0, i * 4);
  }
  return key;
}

/** The counter block of stream block `block` (< 2^53): a 128-bit big-endian number, as
 *  CTR mode increments it. */
function counterOf(block: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(Math.floor(block / 2 ** 32), 8);
  iv.writeUInt32BE(block >>> 0, 12);
  return iv;
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
  const block = Math.floor(start / 16);
  const cipher = createCipheriv('aes-128-ctr', keyOf(seed), counterOf(block));
  // The first chunk starts at its block's first byte; the bytes before `start` are cut.
  let pos = block * 16;
  let cut = start - pos;
  while (pos < length) {
    const n = Math.min(STREAM_CHUNK, length - pos);
    const out = cipher.update(ZEROS.subarray(0, n));
    yield cut > 0 ? out.subarray(cut) : out;
    pos += n;
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
