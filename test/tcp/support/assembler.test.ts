import t from 'tap';
import fc from 'fast-check';
import { Assembler } from '../../../shared/tcp/assembler.js';
import { seqAdd, seqSub } from '../../../shared/tcp/seq.js';

const ISN = 0xffffffff - 20; // every test crosses the wrap
const at = (n: number): number => seqAdd(ISN, n);
/** A payload whose bytes say where they belong: byte k of the stream is (k & 0xff), tagged. */
function bytes(from: number, to: number, tag = 0): Buffer {
  const b = Buffer.alloc(to - from);
  for (let k = from; k < to; k++) b[k - from] = (k + tag) & 0xff;
  return b;
}

t.test('a new assembler is empty', async (t) => {
  const a = new Assembler(1000);
  t.ok(a.isEmpty);
  t.equal(a.bytesHeld, 0);
  t.same(a.sackBlocks(4), []);
  t.equal(a.take(ISN), undefined);
});

t.test('out-of-order data is held and reported', async (t) => {
  const a = new Assembler(1000);
  t.equal(a.insert(at(10), bytes(10, 30), ISN), 20);
  t.equal(a.bytesHeld, 20);
  t.notOk(a.isEmpty);
  t.same(a.sackBlocks(4), [[at(10), at(30)]]);
});

t.test('take returns nothing while a hole is in front', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(10), bytes(10, 30), ISN);
  t.equal(a.take(ISN), undefined);
  t.equal(a.bytesHeld, 20);
});

t.test('take returns the contiguous run once the hole is filled', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(10), bytes(10, 30), ISN);
  a.insert(at(0), bytes(0, 10), ISN);
  const got = a.take(ISN);
  t.same(Buffer.concat(got!), bytes(0, 30));
  t.ok(a.isEmpty);
  t.equal(a.bytesHeld, 0);
});

t.test('take leaves ranges beyond the next hole', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(0), bytes(0, 5), ISN);
  a.insert(at(40), bytes(40, 50), ISN);
  t.same(Buffer.concat(a.take(ISN)!), bytes(0, 5));
  t.same(a.ranges(), [[at(40), at(50)]]);
});

t.test('data below rcvNxt is trimmed on insert', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(0), bytes(0, 30), at(10));
  t.same(a.ranges(), [[at(10), at(30)]]);
  t.same(Buffer.concat(a.take(at(10))!), bytes(10, 30));
});

t.test('data at or beyond rcvNxt + capacity is dropped', async (t) => {
  const a = new Assembler(100);
  t.equal(a.insert(at(90), bytes(90, 120), ISN), 10);
  t.same(a.ranges(), [[at(90), at(100)]]);
  t.equal(a.insert(at(100), bytes(100, 110), ISN), 0);
  t.equal(a.bytesHeld, 10);
});

t.test('a segment wholly below rcvNxt is ignored', async (t) => {
  const a = new Assembler(100);
  t.equal(a.insert(at(0), bytes(0, 10), at(10)), 0);
  t.ok(a.isEmpty);
});

t.test('an empty payload is ignored', async (t) => {
  const a = new Assembler(100);
  t.equal(a.insert(at(5), Buffer.alloc(0), ISN), 0);
  t.ok(a.isEmpty);
});

t.test('bytes already held win over overlapping new bytes', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(10), bytes(10, 20, 0), ISN);
  a.insert(at(5), bytes(5, 25, 7), ISN); // different content in the overlap
  const want = Buffer.concat([bytes(5, 10, 7), bytes(10, 20, 0), bytes(20, 25, 7)]);
  t.same(Buffer.concat(a.take(at(5))!), want);
});

t.test('adjacent ranges merge into one', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(10), bytes(10, 20), ISN);
  a.insert(at(20), bytes(20, 30), ISN);
  t.same(a.ranges(), [[at(10), at(30)]]);
});

t.test('one segment bridging several holes merges all ranges', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(10), bytes(10, 20), ISN);
  a.insert(at(30), bytes(30, 40), ISN);
  a.insert(at(50), bytes(50, 60), ISN);
  t.equal(a.insert(at(5), bytes(5, 65), ISN), 30);
  t.same(a.ranges(), [[at(5), at(65)]]);
  t.equal(a.bytesHeld, 60);
  t.same(Buffer.concat(a.take(at(5))!), bytes(5, 65));
});

t.test('held bytes are views of the inserted buffers, not copies', async (t) => {
  const a = new Assembler(1000);
  const seg = bytes(10, 20);
  a.insert(at(10), seg, ISN);
  const [[, held]] = a.chunks() as [[number, Buffer]];
  t.equal(held.buffer, seg.buffer);
});

t.test('with copy: true the held bytes survive reuse of the buffer', async (t) => {
  const a = new Assembler(1000, { copy: true });
  const seg = bytes(10, 20);
  a.insert(at(10), seg, ISN);
  seg.fill(0);
  t.same(Buffer.concat(a.take(at(10))!), bytes(10, 20));
});

t.test('the SACK block of the latest segment comes first, then by recency', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(10), bytes(10, 20), ISN);
  a.insert(at(30), bytes(30, 40), ISN);
  a.insert(at(50), bytes(50, 60), ISN);
  a.insert(at(12), bytes(12, 14), ISN); // duplicate inside the first range
  t.same(a.sackBlocks(4), [[at(10), at(20)], [at(50), at(60)], [at(30), at(40)]]);
});

t.test('sackBlocks returns at most max blocks', async (t) => {
  const a = new Assembler(1000);
  for (let k = 0; k < 6; k++) a.insert(at(10 + 20 * k), bytes(10 + 20 * k, 20 + 20 * k), ISN);
  const blocks = a.sackBlocks(3);
  t.equal(blocks.length, 3);
  t.same(blocks[0], [at(110), at(120)]);
  t.same(a.sackBlocks(0), []);
});

t.test('take discards held data that rcvNxt has overtaken', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(10), bytes(10, 20), ISN);
  a.insert(at(30), bytes(30, 40), ISN);
  t.same(Buffer.concat(a.take(at(15))!), bytes(15, 20));
  t.same(Buffer.concat(a.take(at(35))!), bytes(35, 40));
  t.ok(a.isEmpty);
});

t.test('take trims a range that straddles rcvNxt', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(10), bytes(10, 20), ISN);
  a.insert(at(20), bytes(20, 30), ISN);
  t.same(Buffer.concat(a.take(at(25))!), bytes(25, 30));
  t.equal(a.bytesHeld, 0);
});

t.test('chunks lists every held buffer with its sequence number, in order', async (t) => {
  const a = new Assembler(1000);
  a.insert(at(30), bytes(30, 40), ISN);
  a.insert(at(10), bytes(10, 20), ISN);
  a.insert(at(20), bytes(20, 25), ISN);
  const c = a.chunks();
  t.same(c.map(([s, b]) => [s, b.length]), [[at(10), 10], [at(20), 5], [at(30), 10]]);
});

t.test('the capacity can change after construction', async (t) => {
  const a = new Assembler(10);
  a.capacity = 100;
  t.equal(a.insert(at(50), bytes(50, 60), ISN), 10);
});

t.test('a capacity of 2^31 or more is refused', async (t) => {
  t.throws(() => new Assembler(2 ** 31), { code: 'ERR_INTACT_INVALID_ARG' });
});

t.test('clear forgets everything', async (t) => {
  const a = new Assembler(100);
  a.insert(at(5), bytes(5, 9), ISN);
  a.clear();
  t.ok(a.isEmpty);
  t.equal(a.bytesHeld, 0);
});

// Model: a map from stream offset to byte, and the stamp of the last insert per byte.
t.test('matches a byte-map model under random inserts, overlaps and takes', async () => {
  const CAP = 120;
  const op = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('ins' as const), off: fc.integer({ min: -30, max: 160 }), len: fc.integer({ min: 0, max: 50 }), tag: fc.nat(255) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('take' as const), adv: fc.integer({ min: 0, max: 40 }) }) },
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0xffffffff - 200, max: 0xffffffff }), (ops, base) => {
    const a = new Assembler(CAP);
    const model = new Map<number, number>(); // absolute offset from base -> byte
    const touched = new Map<number, number>(); // offset -> number of the last insert covering it
    let insertNo = 0;
    let rcv = 0; // offset of rcvNxt from base
    let lastInserted: number | undefined;
    for (const o of ops) {
      if (o.kind === 'ins') {
        const from = rcv + o.off;
        const data = bytes(from, from + o.len, o.tag);
        const before = model.size;
        let any = false;
        insertNo++;
        for (let k = Math.max(from, rcv); k < Math.min(from + o.len, rcv + CAP); k++) {
          any = true;
          touched.set(k, insertNo);
          if (!model.has(k)) model.set(k, (k + o.tag) & 0xff);
        }
        const added = a.insert(seqAdd(base, from), data, seqAdd(base, rcv));
        if (added !== model.size - before) return false;
        if (any) lastInserted = Math.max(from, rcv);
      } else {
        rcv += o.adv;
        for (const k of [...model.keys()]) if (k < rcv) model.delete(k);
        const got = a.take(seqAdd(base, rcv));
        const want: number[] = [];
        for (let k = rcv; model.has(k); k++) want.push(model.get(k)!);
        if (want.length === 0) {
          if (got !== undefined) return false;
        } else {
          if (got === undefined || !Buffer.concat(got).equals(Buffer.from(want))) return false;
          for (let k = rcv; k < rcv + want.length; k++) model.delete(k);
          rcv += want.length;
          if (a.take(seqAdd(base, rcv)) !== undefined) return false;
        }
        if (lastInserted !== undefined && !model.has(lastInserted)) lastInserted = undefined;
      }
      // Invariants after every step.
      if (a.bytesHeld !== model.size) return false;
      const keys = [...model.keys()].sort((x, y) => x - y);
      const wantRanges: Array<[number, number]> = [];
      for (const k of keys) {
        const last = wantRanges[wantRanges.length - 1];
        if (last && last[1] === k) last[1] = k + 1;
        else wantRanges.push([k, k + 1]);
      }
      if (a.ranges().length !== wantRanges.length) return false;
      for (let i = 0; i < wantRanges.length; i++) {
        const [l, r] = a.ranges()[i]!;
        if (l !== seqAdd(base, wantRanges[i]![0]) || r !== seqAdd(base, wantRanges[i]![1])) return false;
      }
      for (const [seq, buf] of a.chunks()) {
        const off = rcv + seqSub(seq, seqAdd(base, rcv));
        for (let i = 0; i < buf.length; i++) if (model.get(off + i) !== buf[i]) return false;
      }
      const blocks = a.sackBlocks(4);
      if (blocks.length !== Math.min(4, wantRanges.length)) return false;
      // RFC 2018 §4 order: by the latest insert that touched each range.
      const byRecency = wantRanges
        .map(([l, r]) => {
          let m = 0;
          for (let k = l; k < r; k++) m = Math.max(m, touched.get(k) ?? 0);
          return { l, r, m };
        })
        .sort((x, y) => y.m - x.m)
        .slice(0, 4)
        .map(({ l, r }) => [seqAdd(base, l), seqAdd(base, r)]);
      if (JSON.stringify(blocks) !== JSON.stringify(byRecency)) return false;
      if (lastInserted !== undefined && blocks.length > 0 && o.kind === 'ins') {
        const [l, r] = blocks[0]!;
        const x = seqAdd(base, lastInserted);
        if (!(seqSub(x, l) >= 0 && seqSub(r, x) > 0)) return false;
      }
    }
    return true;
  }), { numRuns: 500 });
});
