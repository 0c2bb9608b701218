import t from 'tap';
import fc from 'fast-check';
import {
  seqAdd, seqSub, seqLt, seqLe, seqGt, seqGe, seqMax, seqMin, seqInRange, seqInRangeInclusive,
} from '../../../shared/tcp/seq.js';

const TOP = 0xffffffff;
const u32 = fc.integer({ min: 0, max: TOP });
// Near the wrap, where mistakes live.
const nearWrap = fc.oneof(u32, fc.integer({ min: TOP - 70000, max: TOP }), fc.integer({ min: 0, max: 70000 }));

/** Reference: signed distance a - b by BigInt, reduced to [-2^31, 2^31). */
function refDist(a: number, b: number): bigint {
  let d = (BigInt(a) - BigInt(b)) & 0xffffffffn;
  if (d >= 0x80000000n) d -= 0x100000000n;
  return d;
}

t.test('seqAdd wraps past 2^32 - 1 to 0', async (t) => {
  t.equal(seqAdd(TOP, 1), 0);
  t.equal(seqAdd(TOP - 9, 20), 10);
});

t.test('seqAdd with a negative n wraps below 0', async (t) => {
  t.equal(seqAdd(5, -10), TOP - 4);
});

t.test('seqAdd matches BigInt modulo 2^32', async () => {
  fc.assert(fc.property(nearWrap, fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), (a, n) =>
    seqAdd(a, n) === Number((BigInt(a) + BigInt(n)) & 0xffffffffn)));
});

t.test('seqSub gives the signed distance across the wrap', async (t) => {
  t.equal(seqSub(3, TOP - 2), 6);
  t.equal(seqSub(TOP - 2, 3), -6);
  t.equal(seqSub(7, 7), 0);
});

t.test('seqSub matches BigInt signed distance', async () => {
  fc.assert(fc.property(nearWrap, nearWrap, (a, b) => BigInt(seqSub(a, b)) === refDist(a, b)));
});

t.test('seqSub undoes seqAdd for |n| < 2^31', async () => {
  fc.assert(fc.property(nearWrap, fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (a, n) =>
    seqSub(seqAdd(a, n), a) === n));
});

t.test('comparisons cross the wrap', async (t) => {
  const a = TOP - 1;
  const b = seqAdd(a, 5);
  t.ok(seqLt(a, b));
  t.ok(seqLe(a, b));
  t.ok(seqGt(b, a));
  t.ok(seqGe(b, a));
  t.notOk(seqLt(b, a));
  t.notOk(seqGt(a, b));
});

t.test('comparisons of equal values', async (t) => {
  t.notOk(seqLt(TOP, TOP));
  t.ok(seqLe(TOP, TOP));
  t.notOk(seqGt(0, 0));
  t.ok(seqGe(0, 0));
});

t.test('comparisons agree with BigInt distance', async () => {
  fc.assert(fc.property(nearWrap, nearWrap, (a, b) => {
    const d = refDist(a, b);
    return seqLt(a, b) === d < 0n && seqLe(a, b) === d <= 0n
      && seqGt(a, b) === d > 0n && seqGe(a, b) === d >= 0n;
  }));
});

t.test('exactly half the space apart gives distance -2^31 both ways', async (t) => {
  const a = 100;
  const b = seqAdd(a, 2 ** 31);
  t.equal(seqSub(b, a), -(2 ** 31));
  t.equal(seqSub(a, b), -(2 ** 31));
});

t.test('seqMax and seqMin pick by sequence order, not numeric order', async (t) => {
  t.equal(seqMax(TOP, 2), 2);
  t.equal(seqMin(TOP, 2), TOP);
  t.equal(seqMax(9, 9), 9);
});

t.test('seqMax/seqMin agree with the comparisons', async () => {
  fc.assert(fc.property(nearWrap, nearWrap, (a, b) => {
    const mx = seqMax(a, b);
    const mn = seqMin(a, b);
    return seqGe(mx, a) && seqGe(mx, b) && seqLe(mn, a) && seqLe(mn, b)
      && (mx === a || mx === b) && (mn === a || mn === b);
  }));
});

t.test('seqInRange is half-open across the wrap', async (t) => {
  const lo = TOP - 2;
  const hi = seqAdd(lo, 6); // 3
  t.ok(seqInRange(lo, lo, hi));
  t.ok(seqInRange(TOP, lo, hi));
  t.ok(seqInRange(0, lo, hi));
  t.ok(seqInRange(2, lo, hi));
  t.notOk(seqInRange(3, lo, hi));
  t.notOk(seqInRange(TOP - 3, lo, hi));
});

t.test('seqInRange of an empty range holds nothing', async (t) => {
  t.notOk(seqInRange(7, 7, 7));
});

t.test('seqInRange handles windows wider than 2^31', async (t) => {
  const lo = TOP - 10;
  const hi = seqAdd(lo, 3_000_000_000);
  t.ok(seqInRange(seqAdd(lo, 2_999_999_999), lo, hi));
  t.notOk(seqInRange(seqAdd(lo, 3_000_000_000), lo, hi));
});

t.test('seqInRange agrees with a BigInt offset model', async () => {
  fc.assert(fc.property(nearWrap, nearWrap, fc.integer({ min: 0, max: TOP }), (x, lo, len) => {
    const hi = seqAdd(lo, len);
    const off = (BigInt(x) - BigInt(lo)) & 0xffffffffn;
    return seqInRange(x, lo, hi) === off < BigInt(len);
  }));
});

t.test('seqInRangeInclusive includes the right edge', async (t) => {
  const lo = TOP;
  const hi = seqAdd(lo, 4);
  t.ok(seqInRangeInclusive(hi, lo, hi));
  t.ok(seqInRangeInclusive(lo, lo, hi));
  t.notOk(seqInRangeInclusive(seqAdd(hi, 1), lo, hi));
  t.ok(seqInRangeInclusive(5, 5, 5));
});
