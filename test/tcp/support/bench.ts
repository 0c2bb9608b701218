// Throughput of the per-segment support code. Prints figures; asserts nothing.
// Run: npx tsx test/tcp/support/bench.ts
import { Assembler } from '../../../shared/tcp/assembler.js';
import { Scoreboard } from '../../../shared/tcp/scoreboard.js';
import { createCongestionControl } from '../../../shared/tcp/congestion.js';
import { RttEstimator } from '../../../shared/tcp/rtt.js';
import { makeIssGenerator } from '../../../shared/tcp/isn.js';
import { seqAdd } from '../../../shared/tcp/seq.js';

const MSS = 1448;
const BASE = 0xffffffff - 100_000;

function bench(name: string, ops: number, fn: () => void): void {
  for (let i = 0; i < 20; i++) fn(); // warm up
  const REPEAT = 20;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < REPEAT; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / REPEAT;
  console.log(`${name.padEnd(58)} ${(ops / (ns / 1e9) / 1e6).toFixed(2).padStart(8)} M ops/s  ${(ns / ops).toFixed(0).padStart(6)} ns/op`);
}

const payload = Buffer.alloc(MSS);

// One lost segment at the head of a 2900-segment (4 MB) window, the rest arriving in
// order behind it, then the retransmission fills the hole.
const SEGS = 2900;
bench(`assembler: ${SEGS} ooo inserts behind a hole + sackBlocks(3) each`, SEGS + 1, () => {
  const a = new Assembler(8 << 20);
  for (let i = 1; i <= SEGS; i++) {
    a.insert(seqAdd(BASE, i * MSS), payload, BASE);
    a.sackBlocks(3);
  }
  a.insert(BASE, payload, BASE);
  a.take(BASE);
});

// Every other segment lost: many ranges.
bench(`assembler: ${SEGS} inserts, every other segment missing`, SEGS, () => {
  const a = new Assembler(16 << 20);
  for (let i = 1; i <= SEGS; i++) {
    a.insert(seqAdd(BASE, 2 * i * MSS), payload, BASE);
    a.sackBlocks(3);
  }
});

bench('scoreboard: update with 3 blocks (growing SACK run)', SEGS, () => {
  const s = new Scoreboard();
  const sndMax = seqAdd(BASE, (SEGS + 2) * MSS);
  for (let i = 1; i <= SEGS; i++) {
    s.update(BASE, [[seqAdd(BASE, MSS), seqAdd(BASE, (i + 1) * MSS)]], sndMax);
  }
});

{
  const s = new Scoreboard();
  const sndMax = seqAdd(BASE, SEGS * MSS);
  for (let i = 0; i < 30; i++) s.update(BASE, [[seqAdd(BASE, (i * 50 + 1) * MSS), seqAdd(BASE, (i * 50 + 40) * MSS)]], sndMax);
  const highRxt = seqAdd(BASE, 500 * MSS);
  bench('scoreboard: pipe(), 4 MB flight, 30 holes, HighRxt form', 10_000, () => {
    for (let i = 0; i < 10_000; i++) s.pipe(BASE, sndMax, highRxt, MSS);
  });
  bench('scoreboard: pipe(), 4 MB flight, 30 holes, predicate form', 1000, () => {
    for (let i = 0; i < 1000; i++) s.pipe(BASE, sndMax, () => false, MSS);
  });
  bench('scoreboard: isLost + nextHole', 100_000, () => {
    for (let i = 0; i < 100_000; i++) {
      s.isLost(seqAdd(BASE, (i % SEGS) * MSS), MSS);
      s.nextHole(seqAdd(BASE, (i % SEGS) * MSS), sndMax);
    }
  });
}

bench('cubic: onAck in congestion avoidance', 1_000_000, () => {
  const cc = createCongestionControl('cubic', MSS, 0);
  cc.onCongestionEvent(0, 1000 * MSS);
  for (let i = 0; i < 1_000_000; i++) cc.onAck(MSS, i / 100, 10, cc.cwnd);
});

bench('rtt: sample', 1_000_000, () => {
  const r = new RttEstimator();
  for (let i = 0; i < 1_000_000; i++) r.sample(10 + (i & 7));
});

const iss = makeIssGenerator(Buffer.alloc(32, 1));
bench('isn: generate', 100_000, () => {
  for (let i = 0; i < 100_000; i++) iss(1, 80, 2, i & 0xffff, i);
});
