// Windows both ways: zero windows and persist probes, window updates, receiver SWS
// avoidance, a right edge that never moves left, window scaling up to shift 14.
import t from 'tap';
import { Ctx, payloadOf, u32 } from './harness.js';

t.test('a full receive buffer advertises a zero window', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 4000 });
  ctx.established({ mss: 1000 });
  ctx.data(2000).data(2000);
  ctx.expect({ flags: 'A', ack: ctx.cSeq, win: 0 });
});

t.test('zero window: a probe is answered with the zero window, data is not taken', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 2000 });
  const c = ctx.established({ mss: 1000 });
  ctx.data(1000).data(1000);
  ctx.expect({ flags: 'A', ack: ctx.cSeq, win: 0 });
  // Linux-style probe: an old sequence number, no data.
  ctx.send({ flags: 'A', seq: ctx.cSeq - 1, ack: ctx.iss + 1 }, 200);
  ctx.expect({ flags: 'A', ack: ctx.cSeq, win: 0 });
  // RFC-style probe: one byte into the closed window.
  ctx.send({ flags: 'PA', seq: ctx.cSeq, ack: ctx.iss + 1, data: 1 }, 400);
  ctx.expect({ flags: 'A', ack: ctx.cSeq, win: 0 });
  t.equal(c.recvQueued(), 2000);
});

t.test('reading opens the window and sends a window update', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 2000 });
  const c = ctx.established({ mss: 1000 });
  ctx.data(1000).data(1000);
  ctx.expect({ flags: 'A', win: 0 });
  t.equal(c.recv()!.length, 2000);
  ctx.expect({ flags: 'A', ack: ctx.cSeq, win: 2000 });
  ctx.expectNone();
});

t.test('receiver SWS avoidance: reading a few bytes sends no window update', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 4000 });
  const c = ctx.established({ mss: 1000 });
  ctx.data(2000).data(2000);
  ctx.expect({ flags: 'A', win: 0 });
  c.recv(100);
  ctx.expectNone();
  // And an ACK sent now still offers no window: moving the edge by 100 is not useful.
  ctx.send({ flags: 'A', seq: ctx.cSeq - 1, ack: ctx.iss + 1 }, 10);
  ctx.expect({ flags: 'A', win: 0 });
  c.recv(900);
  ctx.expect({ flags: 'A', win: 1000 });
});

t.test('the advertised right edge never moves left', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 4000 });
  const c = ctx.established({ mss: 1000 });
  const edge0 = u32(ctx.cSeq + 4000);
  ctx.data(1000).data(1000);
  let s = ctx.expect({ flags: 'A' });
  t.equal(u32(s.ack + s.window), edge0);
  c.recv(300);
  ctx.data(500, { at: 10 });
  ctx.advance(40);
  s = ctx.expect({ flags: 'A' });
  t.equal(u32(s.ack + s.window), edge0, 'SWS keeps the edge, but never pulls it back');
});

t.test('our window scale 14 with a 1 GiB buffer; the field saturates at 65535', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 2 ** 30 });
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460, wscale: 14 });
  ctx.expect({ flags: 'SA', wscale: 14, mss: 1460, win: 65535 });
  ctx.send({ flags: 'A', seq: ctx.irs + 1, ack: ctx.iss + 1 });
  ctx.data(10);
  ctx.advance(40);
  ctx.expect({ flags: 'A', win: 65535 });
  t.equal(ctx.c.rcvWndShift, 14);
});

t.test("the peer's window scale 14 multiplies its window by 16384", async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, wscale: 14, win: 4 });
  t.equal(c.sndWnd, 4 * 16384);
  ctx.ack(ctx.iss + 1, { win: 65535 });
  t.equal(c.sndWnd, 65535 * 16384);
});

t.test("the peer's SYN window is not scaled; only later windows are", async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1000, wscale: 2, win: 1000 });
  ctx.drain();
  const c = [...ctx.stack.connections()][0]!;
  t.equal(c.sndWnd, 1000);
  ctx.send({ flags: 'A', seq: ctx.irs + 1, ack: ctx.iss + 1, win: 1000 });
  t.equal(c.sndWnd, 4000);
});

t.test('our scaled window: field = free space >> shift', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 256 * 1024 });
  ctx.established({ mss: 1000, wscale: 7 });
  ctx.data(1000).data(1000);
  ctx.expect({ flags: 'A', win: (256 * 1024 - 2000) >> 3 });
});

t.test('zero send window: persist probes with exponential backoff, data when it opens', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(500));
  ctx.drain();
  ctx.ack(ctx.iss + 501, { win: 0, at: 200 });
  c.send(payloadOf(300));
  ctx.expectNone('the window is closed');
  const rto = c.rtt.rto;
  t.equal(c.persistAt, 200 + rto);
  ctx.at(200 + rto);
  ctx.expect({ flags: 'A', seq: ctx.iss + 500, ack: ctx.cSeq, data: 0 }, 'probe: old sequence number');
  t.equal(c.persistAt, 200 + 3 * rto, 'backoff: twice the interval');
  ctx.ack(ctx.iss + 501, { win: 0, at: 200 + rto + 10 });
  ctx.at(200 + 3 * rto);
  ctx.expect({ flags: 'A', seq: ctx.iss + 500, data: 0 }, 'second probe');
  t.equal(c.persistAt, 200 + 7 * rto);
  t.equal(ctx.stack.stats.zeroWindowProbes, 2);
  ctx.ack(ctx.iss + 501, { win: 1000, at: 200 + 3 * rto + 5 });
  ctx.expect({ flags: 'PA', seq: ctx.iss + 501, data: 300 });
  t.equal(c.persistAt, undefined);
});

t.test('a window too small for a segment: the persist timer sends what fits', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, rtt: 100, win: 10000 });
  c.send(payloadOf(1000));
  ctx.drain();
  c.send(payloadOf(3000));
  ctx.drain();
  ctx.ack(ctx.iss + 4001, { win: 100, at: 200 });
  c.send(payloadOf(1000));
  ctx.expectNone('100 bytes: less than half the largest window');
  ctx.at(c.persistAt!);
  ctx.expect({ flags: 'PA', seq: ctx.iss + 4001, data: 100 });
});

t.test('window update from the peer is taken only from newer segments (WL1/WL2)', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, win: 5000 });
  ctx.data(10, { win: 5000 });
  t.equal(c.sndWnd, 5000);
  // An older segment (lower seq) must not change the window.
  ctx.send({ flags: 'A', seq: ctx.cSeq - 10, ack: ctx.iss + 1, win: 100 });
  t.equal(c.sndWnd, 5000);
});

t.test('a peer that shrinks its window to zero but keeps answering is not timed out', async (t) => {
  const ctx = new Ctx(t, { maxRetries: 3 });
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(500));
  ctx.drain();
  for (let i = 0; i < 8; i++) {
    ctx.at(c.rtoAt!);
    const s = ctx.expect({ flags: 'PA', seq: ctx.iss + 1, data: 500 }, `retransmission ${i + 1}`);
    void s;
    ctx.ack(ctx.iss + 1, { win: 0, at: ctx.now + 1 });
  }
  t.equal(c.state, 'ESTABLISHED');
  ctx.ack(ctx.iss + 501, { win: 1000, at: ctx.now + 1 });
  t.equal(c.sendQueued(), 0);
});

t.test('a silent peer with a zero window is timed out like any other', async (t) => {
  const ctx = new Ctx(t, { maxRetries: 3, maxRto: 1000 });
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(500));
  ctx.drain();
  ctx.ack(ctx.iss + 1, { win: 0, at: ctx.now + 1 });
  ctx.runUntil(100_000);
  t.equal(c.state, 'CLOSED');
  t.same(ctx.events, ['closed:ETIMEDOUT']);
});
