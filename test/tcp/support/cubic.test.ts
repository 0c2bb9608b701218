import t from 'tap';
import fc from 'fast-check';
import { createCongestionControl, type CongestionControl } from '../../../shared/tcp/congestion.js';
import { Cubic, CUBIC_C } from '../../../shared/tcp/cubic.js';

const MSS = 1000;
const T0 = 1_000_000;

/** One RTT of a sender that keeps its window full: a window's worth of one-segment
 *  ACKs spread over the RTT. Returns the time at the end of the round. */
function round(cc: CongestionControl, now: number, rttMs: number): number {
  const acks = Math.max(1, Math.floor(cc.cwnd / MSS));
  for (let i = 0; i < acks; i++) cc.onAck(MSS, now + (rttMs * i) / acks, rttMs, cc.cwnd - MSS);
  return now + rttMs;
}

/** A CUBIC sender at `w` segments in avoidance that has just seen a loss. */
function afterLossAt(w: number): Cubic {
  const cc = createCongestionControl('cubic', MSS, T0) as Cubic;
  cc.ssthresh = 2 * MSS;
  cc.cwnd = w * MSS;
  cc.onCongestionEvent(T0, w * MSS);
  return cc;
}

const segs = (cc: CongestionControl): number => cc.cwnd / MSS;

t.test('the factory makes a CUBIC controller with IW10', async (t) => {
  const cc = createCongestionControl('cubic', 1460, T0);
  t.equal(cc.name, 'cubic');
  t.equal(cc.cwnd, 14600);
});

t.test('a congestion event multiplies by beta 0.7', async (t) => {
  const cc = afterLossAt(100);
  t.equal(cc.ssthresh, 70 * MSS);
  t.equal(cc.cwnd, 70 * MSS);
  t.equal(cc.wMax, 100);
});

t.test('a loss below the previous W_max lowers W_max further (fast convergence)', async (t) => {
  const cc = afterLossAt(100);
  cc.onCongestionEvent(T0 + 10, 80 * MSS); // cwnd 70 < W_max 100
  t.equal(cc.wMax, 70 * 1.7 / 2);
  t.equal(cc.cwnd, 56 * MSS);
});

t.test('the epoch starts at the first ACK with K = cbrt((W_max - cwnd) / C)', async (t) => {
  const cc = afterLossAt(100);
  round(cc, T0 + 100, 100);
  t.equal(cc.k, Math.cbrt(30 / CUBIC_C));
});

t.test('the window climbs back to W_max near time K', async (t) => {
  const cc = afterLossAt(100);
  const k = Math.cbrt(30 / CUBIC_C); // ~4.22 s
  let now = T0 + 100;
  while (now < T0 + 100 + k * 1000) now = round(cc, now, 100);
  t.ok(segs(cc) > 97 && segs(cc) < 103, `cwnd ${segs(cc)} segments at t = K`);
});

t.test('growth is concave below W_max: most of the way back by K/2', async (t) => {
  const cc = afterLossAt(100);
  const k = Math.cbrt(30 / CUBIC_C);
  let now = T0 + 100;
  while (now < T0 + 100 + (k / 2) * 1000) now = round(cc, now, 100);
  t.ok(segs(cc) > 90, `cwnd ${segs(cc)} at K/2`);
  t.ok(segs(cc) < 100);
});

t.test('growth is convex beyond W_max', async (t) => {
  const cc = afterLossAt(100);
  const k = Math.cbrt(30 / CUBIC_C);
  let now = T0 + 100;
  while (now < T0 + 100 + (k + 4) * 1000) now = round(cc, now, 100);
  // W_cubic(K + 4) = 100 + 0.4 * 64 = 125.6
  t.ok(segs(cc) > 115, `cwnd ${segs(cc)} at K + 4 s`);
});

t.test('the window grows at most 1.5x per RTT', async (t) => {
  const cc = afterLossAt(100);
  let now = T0 + 100;
  for (let i = 0; i < 150; i++) {
    const before = cc.cwnd;
    now = round(cc, now, 100);
    t.ok(cc.cwnd <= 1.5 * before + MSS, `round ${i}`);
  }
});

t.test('with a short RTT the Reno-friendly estimate drives the window', async (t) => {
  const cc = afterLossAt(100);
  let now = T0 + 1;
  for (let i = 0; i < 1000; i++) now = round(cc, now, 1); // one second of 1 ms RTTs
  // W_cubic(1 s) = 100 - 0.4 * (4.22 - 1)^3 ~ 86.6, while Reno would have added ~1 segment per RTT.
  t.ok(cc.wCubic(1) < 90);
  t.ok(segs(cc) > 300, `cwnd ${segs(cc)}`);
});

t.test('a timeout sets cwnd to one segment and ssthresh to 0.7 of the flight', async (t) => {
  const cc = afterLossAt(100);
  cc.onRetransmitTimeout(T0 + 500, 60 * MSS);
  t.equal(cc.cwnd, MSS);
  t.equal(cc.ssthresh, 42 * MSS);
});

t.test('the first epoch after a timeout has K = 0 and W_max = cwnd at its start', async (t) => {
  const cc = afterLossAt(100);
  cc.onRetransmitTimeout(T0 + 500, 60 * MSS);
  let now = T0 + 600;
  while (cc.cwnd < cc.ssthresh) now = round(cc, now, 100);
  round(cc, now, 100);
  t.equal(cc.k, 0);
  t.equal(cc.wMax, 42);
});

t.test('leaving slow start with no loss yet starts an epoch with K = 0', async (t) => {
  const cc = createCongestionControl('cubic', MSS, T0) as Cubic;
  cc.ssthresh = 30 * MSS;
  let now = T0;
  while (cc.cwnd < cc.ssthresh) now = round(cc, now, 50);
  round(cc, now, 50);
  t.equal(cc.k, 0);
  t.equal(cc.wMax, 30);
});

t.test('an idle sender does not grow its window', async (t) => {
  const cc = afterLossAt(100);
  const w = cc.cwnd;
  for (let i = 0; i < 100; i++) cc.onAck(MSS, T0 + 100 * i, 100, 0);
  t.equal(cc.cwnd, w);
});

t.test('snapshot and restore on another clock continue identically', async (t) => {
  const a = afterLossAt(100);
  let na = T0 + 100;
  for (let i = 0; i < 10; i++) na = round(a, na, 100);
  const OTHER = 42; // the backup's clock reads differently
  const snap = JSON.parse(JSON.stringify(a.snapshot()));
  const b = createCongestionControl('newreno', MSS, OTHER, snap); // the snapshot's algorithm wins
  t.equal(b.name, 'cubic');
  let nb = OTHER + (na - a.snapshot().lastNow);
  for (let i = 0; i < 30; i++) {
    na = round(a, na, 100);
    nb = round(b, nb, 100);
  }
  t.equal(b.cwnd, a.cwnd);
  t.equal(b.ssthresh, a.ssthresh);
});

t.test('cwnd stays whole and at least one segment under any events', async () => {
  const ev = fc.oneof(
    fc.record({ k: fc.constant('ack' as const), n: fc.integer({ min: 0, max: 100_000 }), f: fc.integer({ min: 0, max: 1_000_000 }), dt: fc.integer({ min: 0, max: 5000 }) }),
    fc.record({ k: fc.constant('loss' as const), f: fc.integer({ min: 0, max: 1_000_000 }), dt: fc.integer({ min: 0, max: 5000 }) }),
    fc.record({ k: fc.constant('rto' as const), f: fc.integer({ min: 0, max: 1_000_000 }), dt: fc.integer({ min: 0, max: 5000 }) }),
  );
  fc.assert(fc.property(fc.array(ev, { maxLength: 300 }), (evs) => {
    const cc = createCongestionControl('cubic', MSS, T0);
    let now = T0;
    for (const e of evs) {
      now += e.dt;
      if (e.k === 'ack') cc.onAck(e.n, now, 20, e.f);
      else if (e.k === 'loss') cc.onCongestionEvent(now, e.f);
      else cc.onRetransmitTimeout(now, e.f);
      if (!Number.isInteger(cc.cwnd) || !Number.isInteger(cc.ssthresh)) return false;
      if (cc.cwnd < MSS || cc.ssthresh < 2 * MSS || !Number.isFinite(cc.cwnd)) return false;
    }
    return true;
  }));
});

t.test('a damaged snapshot restores to a sound controller', async (t) => {
  const snap = { name: 'cubic', cwnd: NaN, ssthresh: 'x', mss: -1, cubic: { k: NaN, wEst: 5 } } as never;
  const cc = createCongestionControl('cubic', MSS, T0, snap);
  t.equal(cc.cwnd, 10 * MSS);
  t.equal(cc.snapshot().mss, MSS);
  let now = T0;
  for (let i = 0; i < 5; i++) now = round(cc, now, 100);
  t.ok(Number.isInteger(cc.cwnd) && cc.cwnd >= 10 * MSS);
});

t.test('time spent application-limited does not advance the cubic epoch', async (t) => {
  const a = afterLossAt(100);
  const b = afterLossAt(100);
  let na = T0 + 100;
  let nb = T0 + 100;
  for (let i = 0; i < 10; i++) {
    na = round(a, na, 100);
    nb = round(b, nb, 100);
  }
  // b's application pauses for 20 s with a trickle of small replies.
  for (let i = 0; i < 200; i++) b.onAck(MSS, nb + 100 * i, 100, 0);
  nb += 20_000;
  for (let i = 0; i < 10; i++) {
    na = round(a, na, 100);
    nb = round(b, nb, 100);
  }
  // Only the last gap (one RTT of the pause) counts; without the shift b would be
  // ~1.5x per RTT ahead.
  t.ok(Math.abs(b.cwnd - a.cwnd) <= 2 * MSS, `a ${segs(a)} b ${segs(b)}`);
});
