import t from 'tap';
import fc from 'fast-check';
import { makeIssGenerator } from '../../../shared/tcp/isn.js';
import { seqSub } from '../../../shared/tcp/seq.js';

const SECRET = Buffer.alloc(32, 7);
const L = 0xc0000264; // 192.0.2.100
const R = 0xc000020a; // 192.0.2.10
const NOW = 1_700_000_000_000;

t.test('the same tuple at the same time gives the same ISS', async (t) => {
  const iss = makeIssGenerator(SECRET);
  t.equal(iss(L, 80, R, 40000, NOW), iss(L, 80, R, 40000, NOW));
});

t.test('the ISS advances by one every 4 microseconds', async (t) => {
  const iss = makeIssGenerator(SECRET);
  t.equal(seqSub(iss(L, 80, R, 40000, NOW + 1), iss(L, 80, R, 40000, NOW)), 250);
  t.equal(seqSub(iss(L, 80, R, 40000, NOW + 0.004), iss(L, 80, R, 40000, NOW)), 1);
});

t.test('different tuples get unrelated ISSs', async (t) => {
  const iss = makeIssGenerator(SECRET);
  const a = iss(L, 80, R, 40000, NOW);
  t.not(iss(L, 80, R, 40001, NOW), a);
  t.not(iss(L, 81, R, 40000, NOW), a);
  t.not(iss(L, 80, R + 1, 40000, NOW), a);
  t.not(iss(L + 1, 80, R, 40000, NOW), a);
});

t.test('different secrets give different ISSs', async (t) => {
  const a = makeIssGenerator(SECRET)(L, 80, R, 40000, NOW);
  const b = makeIssGenerator(Buffer.alloc(32, 8))(L, 80, R, 40000, NOW);
  t.not(a, b);
});

t.test('generators with the same secret agree (primary and backup)', async (t) => {
  t.equal(makeIssGenerator(SECRET)(L, 80, R, 40000, NOW), makeIssGenerator(Buffer.from(SECRET))(L, 80, R, 40000, NOW));
});

t.test('changing the caller\'s secret buffer afterwards changes nothing', async (t) => {
  const s = Buffer.alloc(32, 9);
  const iss = makeIssGenerator(s);
  const before = iss(L, 80, R, 40000, NOW);
  s.fill(0);
  t.equal(iss(L, 80, R, 40000, NOW), before);
});

t.test('a secret shorter than 128 bits is refused', async (t) => {
  t.throws(() => makeIssGenerator(Buffer.alloc(15)), { code: 'ERR_INTACT_INVALID_ARG' });
});

t.test('the ISS is always an unsigned 32-bit integer', async () => {
  const iss = makeIssGenerator(SECRET);
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 65535 }),
    fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 65535 }),
    fc.double({ min: 0, max: 4e12, noNaN: true }),
    (la, lp, ra, rp, now) => {
      const v = iss(la, lp, ra, rp, now);
      return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
    },
  ));
});

t.test('the low bits of the hash spread across tuples', async (t) => {
  const iss = makeIssGenerator(SECRET);
  const seen = new Set<number>();
  for (let p = 0; p < 1000; p++) seen.add(iss(L, 80, R, 30000 + p, NOW) & 0xff);
  t.ok(seen.size > 200, `${seen.size} distinct low bytes in 1000 tuples`);
});
