// The seeded stream: same bytes for the same seed however it is cut or resumed.
import t from 'tap';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { seededChunks, seededSha256, seededStream, STREAM_CHUNK } from '../../shared/stream.js';

const all = (seed: number, length: number, start = 0) => Buffer.concat([...seededChunks(seed, length, start)]);

t.test('length is exact, chunks at most STREAM_CHUNK', async (t) => {
  for (const n of [0, 1, 3, 4, 5, STREAM_CHUNK - 1, STREAM_CHUNK, STREAM_CHUNK + 1, 3 * STREAM_CHUNK + 7]) {
    const chunks = [...seededChunks(7, n)];
    t.equal(Buffer.concat(chunks).length, n, `length ${n}`);
    t.ok(chunks.every((c) => c.length > 0 && c.length <= STREAM_CHUNK));
  }
});

t.test('deterministic per seed; different seeds differ', async (t) => {
  t.same(all(1, 1000), all(1, 1000));
  t.not(all(1, 1000).toString('hex'), all(2, 1000).toString('hex'));
  t.not(all(0, 64).toString('hex'), Buffer.alloc(64).toString('hex'), 'seed 0 is not all zeros');
});

t.test('a shorter stream is a prefix of a longer one', async (t) => {
  t.same(all(9, 12345), all(9, 100000).subarray(0, 12345));
});

t.test('resuming at any offset gives the same bytes (property)', async () => {
  const whole = all(5, 3 * STREAM_CHUNK + 11);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: whole.length }), (start) => {
      return all(5, whole.length, start).equals(whole.subarray(start));
    }),
    { numRuns: 200 },
  );
});

t.test('seededSha256 is the sha256 of the bytes', async (t) => {
  const n = 2 * STREAM_CHUNK + 3;
  t.equal(seededSha256(3, n), createHash('sha256').update(all(3, n)).digest('hex'));
});

t.test('seededStream is a byte Readable of the same bytes', async (t) => {
  const got: Buffer[] = [];
  for await (const c of seededStream(4, 200_001)) got.push(c as Buffer);
  t.same(Buffer.concat(got), all(4, 200_001));
});

t.test('bad arguments are RangeErrors', async (t) => {
  t.throws(() => [...seededChunks(-1, 10)], RangeError);
  t.throws(() => [...seededChunks(2 ** 32, 10)], RangeError);
  t.throws(() => [...seededChunks(1, -1)], RangeError);
  t.throws(() => [...seededChunks(1, 10, 11)], RangeError);
});

t.test('resuming past 2^32 blocks (64 GiB) continues the same bytes: the counter carries into its high word', async (t) => {
  const length = 2 ** 36 + 64;
  const first = (start: number) => seededChunks(7, length, start).next().value as Buffer;
  const across = first(2 ** 36 - 16); // the last block below 2^32, then the first above
  t.same(across.subarray(16, 48), first(2 ** 36).subarray(0, 32));
  t.notSame(across.subarray(0, 16), across.subarray(16, 32));
});
