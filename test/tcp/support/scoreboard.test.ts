import t from 'tap';
import fc from 'fast-check';
import { Scoreboard, MAX_RANGES } from '../../../shared/tcp/scoreboard.js';
import { seqAdd } from '../../../shared/tcp/seq.js';

const ISS = 0xffffffff - 3000; // every test crosses the wrap
const at = (n: number): number => seqAdd(ISS, n);
const MSS = 1000;
const never = (): boolean => false;

t.test('a new scoreboard holds nothing', async (t) => {
  const s = new Scoreboard();
  t.equal(s.sackedBytes, 0);
  t.equal(s.highestSacked(), undefined);
  t.notOk(s.isSacked(at(0)));
});

t.test('update marks blocks SACKed and returns the new bytes', async (t) => {
  const s = new Scoreboard();
  t.equal(s.update(at(0), [[at(1000), at(3000)]], at(10000)), 2000);
  t.equal(s.sackedBytes, 2000);
  t.ok(s.isSacked(at(1000)));
  t.ok(s.isSacked(at(2999)));
  t.notOk(s.isSacked(at(999)));
  t.notOk(s.isSacked(at(3000)));
});

t.test('a repeated block adds nothing new', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(3000)]], at(10000));
  t.equal(s.update(at(0), [[at(1000), at(3000)]], at(10000)), 0);
  t.equal(s.sackedBytes, 2000);
});

t.test('overlapping and adjacent blocks merge', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(2000)], [at(3000), at(4000)]], at(10000));
  t.equal(s.update(at(0), [[at(1500), at(3000)]], at(10000)), 1000);
  t.same(s.ranges(), [[at(1000), at(4000)]]);
});

t.test('a D-SACK block below sndUna is ignored', async (t) => {
  const s = new Scoreboard();
  t.equal(s.update(at(2000), [[at(0), at(1000)]], at(10000)), 0);
  t.equal(s.sackedBytes, 0);
});

t.test('a block reaching beyond sndMax is ignored', async (t) => {
  const s = new Scoreboard();
  t.equal(s.update(at(0), [[at(9000), at(11000)]], at(10000)), 0);
  t.equal(s.sackedBytes, 0);
});

t.test('an inverted or empty block is ignored', async (t) => {
  const s = new Scoreboard();
  t.equal(s.update(at(0), [[at(3000), at(2000)], [at(5000), at(5000)]], at(10000)), 0);
});

t.test('a block straddling sndUna keeps its part above', async (t) => {
  const s = new Scoreboard();
  t.equal(s.update(at(1000), [[at(500), at(2000)]], at(10000)), 1000);
  t.same(s.ranges(), [[at(1000), at(2000)]]);
});

t.test('advancing sndUna drops and trims state below it', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(2000)], [at(3000), at(5000)]], at(10000));
  s.update(at(4000), [], at(10000));
  t.same(s.ranges(), [[at(4000), at(5000)]]);
  t.equal(s.sackedBytes, 1000);
});

t.test('the number of ranges is capped, dropping the highest', async (t) => {
  const s = new Scoreboard();
  for (let k = 0; k < MAX_RANGES + 10; k++) {
    s.update(at(0), [[at(100 + 20 * k), at(110 + 20 * k)]], at(100000));
  }
  const r = s.ranges();
  t.equal(r.length, MAX_RANGES);
  t.same(r[0], [at(100), at(110)]);
  t.equal(s.sackedBytes, MAX_RANGES * 10);
});

t.test('highestSacked is the right edge of the highest block', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(5000), at(6000)], [at(1000), at(2000)]], at(10000));
  t.equal(s.highestSacked(), at(6000));
});

t.test('isLost: three SACKed segments above make a hole lost', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(3000)]], at(10000));
  t.notOk(s.isLost(at(0), MSS), 'two segments, 2*MSS bytes: not yet');
  s.update(at(0), [[at(3000), at(4000)]], at(10000));
  t.ok(s.isLost(at(0), MSS));
});

t.test('isLost: more than 2*MSS bytes SACKed above make a hole lost', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(3001)]], at(10000));
  t.ok(s.isLost(at(0), MSS));
});

t.test('isLost: three discontiguous small SACKed pieces make a hole lost', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(1100)], [at(2000), at(2100)], [at(3000), at(3100)]], at(10000));
  t.ok(s.isLost(at(0), MSS));
  t.notOk(s.isLost(at(1100), MSS));
});

t.test('isLost counts only bytes above the sequence number', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(5000)]], at(10000));
  t.ok(s.isLost(at(500), MSS));
  t.notOk(s.isLost(at(3000), MSS), 'bytes 3001..4999 are 1999 bytes, two segments');
});

t.test('nextHole finds the first un-SACKed range', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(2000)], [at(3000), at(4000)]], at(5000));
  t.same(s.nextHole(at(0), at(5000)), [at(0), at(1000)]);
  t.same(s.nextHole(at(1000), at(5000)), [at(2000), at(3000)]);
  t.same(s.nextHole(at(2500), at(5000)), [at(2500), at(3000)]);
  t.same(s.nextHole(at(3500), at(5000)), [at(4000), at(5000)]);
});

t.test('nextHole returns undefined when nothing un-SACKed is left below sndMax', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(2000)]], at(2000));
  t.equal(s.nextHole(at(1000), at(2000)), undefined);
  t.equal(s.nextHole(at(2000), at(2000)), undefined);
});

t.test('pipe with no SACK counts every outstanding byte', async (t) => {
  const s = new Scoreboard();
  t.equal(s.pipe(at(0), at(8000), never, MSS), 8000);
});

t.test('pipe leaves out SACKed bytes and lost holes', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(4000)], [at(5000), at(6000)]], at(8000));
  // hole [0,1000): 4000 SACKed above, lost; hole [4000,5000): 1000 above, not lost;
  // hole [6000,8000): not lost.
  t.equal(s.pipe(at(0), at(8000), never, MSS), 1000 + 2000);
});

t.test('pipe counts retransmitted segments once more', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(4000)]], at(4000));
  t.equal(s.pipe(at(0), at(4000), (seq) => seq === at(0), MSS), 1000);
});

t.test('pipe accepts HighRxt in place of a predicate', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(3000), at(6000)]], at(8000));
  const highRxt = at(1500); // segments at 0 and 1000 were retransmitted
  const pred = (seq: number): boolean => seq === at(0) || seq === at(1000);
  t.equal(s.pipe(at(0), at(8000), highRxt, MSS), s.pipe(at(0), at(8000), pred, MSS));
  t.equal(s.pipe(at(0), at(8000), highRxt, MSS), 2000 + 2000);
});

t.test('clear forgets all SACK state', async (t) => {
  const s = new Scoreboard();
  s.update(at(0), [[at(1000), at(2000)]], at(5000));
  s.clear();
  t.equal(s.sackedBytes, 0);
  t.equal(s.highestSacked(), undefined);
});

// Model: one boolean per byte offset; IsLost and SetPipe straight from RFC 6675's words.
t.test('matches a per-byte model of RFC 6675', async () => {
  const M = 5;
  const block = fc.tuple(fc.integer({ min: -20, max: 130 }), fc.integer({ min: -5, max: 40 }));
  const step = fc.record({ adv: fc.integer({ min: 0, max: 15 }), blocks: fc.array(block, { maxLength: 4 }) });
  fc.assert(fc.property(fc.array(step, { maxLength: 25 }), fc.integer({ min: 0xffffffff - 150, max: 0xffffffff }), fc.nat(60), (steps, base, rxUpto) => {
    const s = new Scoreboard();
    const SNDMAX = 120;
    const sacked = new Set<number>();
    let una = 0;
    for (const st of steps) {
      una = Math.min(una + st.adv, SNDMAX);
      for (const k of [...sacked]) if (k < una) sacked.delete(k);
      const before = sacked.size;
      const blocks = st.blocks.map(([l, n]) => [seqAdd(base, l), seqAdd(base, l + n)] as const);
      for (const [l, n] of st.blocks) {
        if (n <= 0 || l + n <= una || l + n > SNDMAX) continue;
        for (let k = Math.max(l, una); k < l + n; k++) sacked.add(k);
      }
      const newly = s.update(seqAdd(base, una), blocks, seqAdd(base, SNDMAX));
      if (newly !== sacked.size - before) return false;
      if (s.sackedBytes !== sacked.size) return false;
      for (let k = una; k < SNDMAX; k++) if (s.isSacked(seqAdd(base, k)) !== sacked.has(k)) return false;
      const lostModel = (x: number): boolean => {
        let bytes = 0;
        let segs = 0;
        let run = 0;
        for (let k = SNDMAX - 1; k > x; k--) {
          if (sacked.has(k)) { bytes++; run++; }
          if ((!sacked.has(k) || k === x + 1) && run > 0) { segs += Math.ceil(run / M); run = 0; }
        }
        return segs >= 3 || bytes > 2 * M;
      };
      for (let k = una; k < SNDMAX; k++) if (s.isLost(seqAdd(base, k), M) !== lostModel(k)) return false;
      // SetPipe: segments of M bytes cut from each hole's start.
      const rx = (seq: number): boolean => ((seq - base) >>> 0) < rxUpto;
      let pipe = 0;
      for (let k = una; k < SNDMAX;) {
        if (sacked.has(k)) { k++; continue; }
        let end = k;
        while (end < SNDMAX && !sacked.has(end)) end++;
        for (let sgm = k; sgm < end; sgm += M) {
          const len = Math.min(M, end - sgm);
          if (!lostModel(sgm)) pipe += len;
          if (sgm < rxUpto) pipe += len;
        }
        k = end;
      }
      if (s.pipe(seqAdd(base, una), seqAdd(base, SNDMAX), rx, M) !== pipe) return false;
      if (s.pipe(seqAdd(base, una), seqAdd(base, SNDMAX), seqAdd(base, Math.max(rxUpto, una)), M) !== pipe) return false;
      // nextHole from every point.
      for (let k = una; k <= SNDMAX; k++) {
        let l = k;
        while (l < SNDMAX && sacked.has(l)) l++;
        let r = l;
        while (r < SNDMAX && !sacked.has(r)) r++;
        const got = s.nextHole(seqAdd(base, k), seqAdd(base, SNDMAX));
        if (l >= SNDMAX) { if (got !== undefined) return false; }
        else if (!got || got[0] !== seqAdd(base, l) || got[1] !== seqAdd(base, r)) return false;
      }
    }
    return true;
  }), { numRuns: 300 });
});
