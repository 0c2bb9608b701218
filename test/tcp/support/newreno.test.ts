import t from 'tap';
import fc from 'fast-check';
import { createCongestionControl, initialWindow, INFINITE_SSTHRESH } from '../../../shared/tcp/congestion.js';

const MSS = 1448;
const T0 = 5_000_000; // an arbitrary clock origin

t.test('the initial window is IW10 per RFC 6928', async (t) => {
  t.equal(initialWindow(1460), 14600);
  t.equal(initialWindow(536), 5360);
  t.equal(initialWindow(9000), 18000);
  const cc = createCongestionControl('newreno', 1460, T0);
  t.equal(cc.name, 'newreno');
  t.equal(cc.cwnd, 14600);
  t.equal(cc.ssthresh, INFINITE_SSTHRESH);
});

t.test('slow start grows cwnd by the bytes acked', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  const w = cc.cwnd;
  cc.onAck(MSS, T0 + 1, 10, w - MSS);
  t.equal(cc.cwnd, w + MSS);
});

t.test('slow start grows by at most 2*SMSS per ACK (RFC 3465 L)', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  const w = cc.cwnd;
  cc.onAck(5 * MSS, T0 + 1, 10, w - 5 * MSS);
  t.equal(cc.cwnd, w + 2 * MSS);
});

t.test('slow start stops at ssthresh and the rest counts toward avoidance', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.ssthresh = cc.cwnd + 100;
  const w = cc.cwnd;
  cc.onAck(MSS, T0 + 1, 10, w);
  t.equal(cc.cwnd, w + 100);
  t.equal(cc.snapshot().bytesAcked, MSS - 100);
});

t.test('the window does not grow when the sender did not use it', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  const w = cc.cwnd;
  cc.onAck(MSS, T0 + 1, 10, 0); // one small request in flight, window mostly idle
  t.equal(cc.cwnd, w);
});

t.test('a zero or negative ack changes nothing', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  const w = cc.cwnd;
  cc.onAck(0, T0 + 1, 10, w);
  cc.onAck(-5, T0 + 1, 10, w);
  t.equal(cc.cwnd, w);
});

t.test('congestion avoidance adds one SMSS per window of bytes acked', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.ssthresh = cc.cwnd;
  const w = cc.cwnd;
  for (let i = 0; i < 9; i++) cc.onAck(MSS, T0 + i, 10, w - MSS);
  t.equal(cc.cwnd, w, 'not yet a full window');
  cc.onAck(MSS, T0 + 10, 10, w - MSS);
  t.equal(cc.cwnd, w + MSS);
});

t.test('a stretch ACK grows cwnd by at most one SMSS in avoidance', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.ssthresh = cc.cwnd;
  const w = cc.cwnd;
  cc.onAck(3 * w, T0 + 1, 10, w);
  t.equal(cc.cwnd, w + MSS);
});

t.test('a congestion event halves to the flight size', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.onCongestionEvent(T0 + 1, 40 * MSS);
  t.equal(cc.ssthresh, 20 * MSS);
  t.equal(cc.cwnd, 20 * MSS);
});

t.test('a congestion event never goes below 2*SMSS', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.onCongestionEvent(T0 + 1, MSS);
  t.equal(cc.ssthresh, 2 * MSS);
  t.equal(cc.cwnd, 2 * MSS);
});

t.test('a timeout sets cwnd to one segment and ssthresh to half the flight', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.onRetransmitTimeout(T0 + 1, 30 * MSS);
  t.equal(cc.cwnd, MSS);
  t.equal(cc.ssthresh, 15 * MSS);
});

t.test('a repeated timeout holds ssthresh', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.onRetransmitTimeout(T0 + 1, 30 * MSS);
  cc.onRetransmitTimeout(T0 + 2, MSS);
  t.equal(cc.ssthresh, 15 * MSS);
  t.equal(cc.cwnd, MSS);
});

t.test('a timeout after new data was acked reduces ssthresh again', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.onRetransmitTimeout(T0 + 1, 30 * MSS);
  cc.onAck(MSS, T0 + 2, 10, 0);
  cc.onRetransmitTimeout(T0 + 3, 8 * MSS);
  t.equal(cc.ssthresh, 4 * MSS);
});

t.test('slow start after a timeout grows by one SMSS per ACK', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.onRetransmitTimeout(T0 + 1, 30 * MSS);
  cc.onAck(2 * MSS, T0 + 2, 10, 0);
  t.equal(cc.cwnd, 2 * MSS);
});

t.test('setMss before any traffic recomputes the initial window', async (t) => {
  const cc = createCongestionControl('newreno', 536, T0);
  cc.setMss(1460);
  t.equal(cc.cwnd, 14600);
});

t.test('setMss after traffic keeps cwnd in bytes', async (t) => {
  const cc = createCongestionControl('newreno', MSS, T0);
  cc.onCongestionEvent(T0, 40 * MSS);
  cc.setMss(1000);
  t.equal(cc.cwnd, 20 * MSS);
});

t.test('an invalid MSS is refused', async (t) => {
  t.throws(() => createCongestionControl('newreno', 0, T0), { code: 'ERR_INTACT_INVALID_ARG' });
});

t.test('snapshot and restore continue identically', async (t) => {
  const a = createCongestionControl('newreno', MSS, T0);
  a.onCongestionEvent(T0, 40 * MSS);
  a.onAck(MSS, T0 + 5, 10, 20 * MSS);
  const b = createCongestionControl('newreno', 1, 99, JSON.parse(JSON.stringify(a.snapshot())));
  t.same(b.snapshot(), { ...a.snapshot(), lastNow: 99 });
  for (let i = 0; i < 50; i++) {
    a.onAck(MSS, T0 + 10 + i, 10, a.cwnd);
    b.onAck(MSS, 99 + 10 + i, 10, b.cwnd);
  }
  t.equal(b.cwnd, a.cwnd);
});

t.test('cwnd and ssthresh stay whole and above their floors under any events', async () => {
  const ev = fc.oneof(
    fc.record({ k: fc.constant('ack' as const), n: fc.integer({ min: 0, max: 100_000 }), f: fc.integer({ min: 0, max: 1_000_000 }) }),
    fc.record({ k: fc.constant('loss' as const), f: fc.integer({ min: 0, max: 1_000_000 }) }),
    fc.record({ k: fc.constant('rto' as const), f: fc.integer({ min: 0, max: 1_000_000 }) }),
  );
  fc.assert(fc.property(fc.array(ev, { maxLength: 200 }), (evs) => {
    const cc = createCongestionControl('newreno', MSS, T0);
    let now = T0;
    for (const e of evs) {
      now += 7;
      if (e.k === 'ack') cc.onAck(e.n, now, 20, e.f);
      else if (e.k === 'loss') cc.onCongestionEvent(now, e.f);
      else cc.onRetransmitTimeout(now, e.f);
      if (!Number.isInteger(cc.cwnd) || !Number.isInteger(cc.ssthresh)) return false;
      if (cc.cwnd < MSS || cc.ssthresh < 2 * MSS) return false;
    }
    return true;
  }));
});
