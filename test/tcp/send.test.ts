// Sending: segmentation at the peer's MSS, PSH, Nagle on and off, the peer's window,
// sender SWS avoidance, GSO super-segments, send-buffer back-pressure.
import t from 'tap';
import { Ctx, payloadOf, u32 } from './harness.js';

t.test('a small send goes out at once with PSH (nothing in flight)', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  t.equal(c.send(Buffer.from('hi there')), 8);
  ctx.expect({ flags: 'PA', seq: ctx.iss + 1, ack: ctx.cSeq, data: 'hi there' });
  ctx.expectNone();
  t.equal(c.sndMax, u32(ctx.iss + 9));
});

t.test('data is cut at the peer MSS', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  c.send(payloadOf(2500));
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, data: 1000 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 1001, data: 1000 });
  ctx.expect({ flags: 'PA', seq: ctx.iss + 2001, data: 500 });
  ctx.expectNone();
});

t.test('with timestamps each segment carries MSS - 12 bytes of payload', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, ts: true });
  c.send(payloadOf(2000));
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, data: 988 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 989, data: 988 });
  ctx.expect({ flags: 'PA', data: 24 });
});

t.test('we never send more than our own MSS even if the peer allows more', async (t) => {
  const ctx = new Ctx(t, { mss: 536 });
  const c = ctx.established({ mss: 9000 });
  c.send(payloadOf(600));
  ctx.expect({ flags: 'A', data: 536 });
  ctx.expect({ flags: 'PA', data: 64 });
});

t.test('Nagle: a second small write waits for the ACK of the first', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.send(Buffer.from('a'));
  ctx.expect({ flags: 'PA', data: 'a' });
  c.send(Buffer.from('b'));
  c.send(Buffer.from('c'));
  ctx.expectNone('held by Nagle');
  ctx.ack(ctx.iss + 2, { at: 10 });
  ctx.expect({ flags: 'PA', seq: ctx.iss + 2, data: 'bc' });
});

t.test('setNoDelay(true): small writes go out at once', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.setNoDelay(true);
  c.send(Buffer.from('a'));
  ctx.expect({ flags: 'PA', data: 'a' });
  c.send(Buffer.from('b'));
  ctx.expect({ flags: 'PA', seq: ctx.iss + 2, data: 'b' });
});

t.test('Nagle does not hold a full segment', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  c.send(Buffer.from('a'));
  ctx.expect({ flags: 'PA', data: 'a' });
  c.send(payloadOf(1500));
  ctx.expect({ flags: 'A', seq: ctx.iss + 2, data: 1000 });
  ctx.expectNone('the 500-byte tail waits');
});

t.test("the peer's window limits what is sent; an ACK opening it sends more", async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, win: 2000 });
  c.send(payloadOf(5000));
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, data: 1000 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 1001, data: 1000 });
  ctx.expectNone();
  ctx.ack(ctx.iss + 1001, { win: 2000, at: 10 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 2001, data: 1000 });
  ctx.expectNone();
});

t.test('sender SWS avoidance: no small segment into a small window', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, win: 10000 });
  c.send(payloadOf(3000));
  ctx.drain();
  // The peer acknowledges everything but offers only 300 bytes (< max window / 2).
  c.send(payloadOf(3000));
  ctx.ack(ctx.iss + 3001, { win: 300, at: 10 });
  ctx.expectNone();
  t.ok(c.persistAt !== undefined, 'persist timer armed');
});

t.test('a partial segment goes when it is half the largest window offered', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, win: 1200 });
  c.send(payloadOf(3000));
  ctx.expect({ flags: 'A', data: 1000 });
  ctx.ack(ctx.iss + 1001, { win: 700, at: 10 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 1001, data: 700 });
});

t.test('GSO: one segment carries a window-full, gsoSize = per-segment payload', async (t) => {
  const ctx = new Ctx(t, { gsoMaxBytes: 65536 });
  const c = ctx.established({ mss: 1460, wscale: 7 });
  c.setNoDelay(true);
  c.send(payloadOf(10000));
  // Initial window: 10 segments = 14600 bytes, so all 10000 fit.
  ctx.expect({ flags: 'PA', seq: ctx.iss + 1, data: 10000, gsoSize: 1460 });
  ctx.expectNone();
});

t.test('GSO with Nagle: the short tail piece waits like a small segment would', async (t) => {
  const ctx = new Ctx(t, { gsoMaxBytes: 65536 });
  const c = ctx.established({ mss: 1460, wscale: 7 });
  c.send(Buffer.from('a'));
  ctx.expect({ flags: 'PA', data: 1 });
  c.send(payloadOf(10000));
  ctx.expect({ flags: 'A', seq: ctx.iss + 2, data: 8760, gsoSize: 1460 });
  ctx.expectNone();
});

t.test('GSO with Nagle but no small segment outstanding: the tail goes too', async (t) => {
  const ctx = new Ctx(t, { gsoMaxBytes: 65536 });
  const c = ctx.established({ mss: 1460, wscale: 7 });
  c.send(payloadOf(10000));
  ctx.expect({ flags: 'PA', seq: ctx.iss + 1, data: 10000, gsoSize: 1460 });
  ctx.expectNone();
});

t.test('Nagle (Minshall): a short tail after full segments goes at once', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  c.send(payloadOf(1500));
  ctx.expect({ flags: 'A', data: 1000 });
  ctx.expect({ flags: 'PA', data: 500 });
  c.send(payloadOf(10));
  ctx.expectNone('the 500-byte segment is unacknowledged');
});

t.test('GSO with timestamps: gsoSize is MSS - 12 and every piece has the same TSval', async (t) => {
  const ctx = new Ctx(t, { gsoMaxBytes: 65536 });
  const c = ctx.established({ mss: 1460, wscale: 7, ts: true });
  c.setNoDelay(true);
  c.send(payloadOf(5000));
  const seg = ctx.expect({ flags: 'PA', data: 5000, gsoSize: 1448 });
  t.ok(seg.options.ts !== undefined);
});

t.test('GSO is limited by cwnd and gsoMaxBytes', async (t) => {
  const ctx = new Ctx(t, { gsoMaxBytes: 4000 });
  const c = ctx.established({ mss: 1000, wscale: 7 });
  c.send(payloadOf(20000));
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, data: 4000, gsoSize: 1000 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 4001, data: 4000, gsoSize: 1000 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 8001, data: 2000, gsoSize: 1000 });
  ctx.expectNone('cwnd (10000) is full');
});

t.test('send() takes at most sendFree() and writable() follows when room opens', async (t) => {
  const ctx = new Ctx(t, { sndBuf: 1000 });
  const c = ctx.established({ mss: 1460 });
  t.equal(c.send(payloadOf(1500)), 1000);
  t.equal(c.sendFree(), 0);
  ctx.expect({ flags: 'PA', data: 1000 });
  ctx.ack(ctx.iss + 1001, { at: 5 });
  t.same(ctx.events, ['writable']);
  t.equal(c.sendFree(), 1000);
  t.equal(c.bytesWritten, 1000);
});

t.test('send() after close() throws a coded error', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.close();
  t.throws(() => c.send(Buffer.from('x')), { code: 'ERR_INTACT_NOT_WRITABLE' });
});

t.test('data sent across 2^32 is numbered and acknowledged correctly', async (t) => {
  const ctx = new Ctx(t, { forceIss: 0xfffffff0 });
  const c = ctx.established({ mss: 1000 });
  c.send(payloadOf(100));
  ctx.expect({ flags: 'PA', seq: 0xfffffff1, data: 100 });
  ctx.ack(u32(0xfffffff1 + 100), { at: 5 });
  t.equal(c.sndUna, 0x55);
  t.equal(c.sendQueued(), 0);
  t.equal(c.rtoAt, undefined);
});

t.test('ACK of data never sent is challenged and the segment dropped', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.send(payloadOf(100));
  ctx.drain();
  ctx.ack(ctx.iss + 500, { at: 5 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 101, ack: ctx.cSeq });
  t.equal(c.sndUna, u32(ctx.iss + 1));
  t.equal(ctx.stack.stats.dropped.ackUnacceptable, 1);
  t.equal(ctx.stack.stats.challengeAcks, 1);
});
