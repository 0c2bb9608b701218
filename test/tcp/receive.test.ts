// Receiving: in-order and out-of-order data, delayed ACKs, SACK generation, trimming
// to the window, duplicates, super-segments, and the wrap past 2^32.
import t from 'tap';
import { Ctx, payloadOf, u32 } from './harness.js';

t.test('in-order data is queued, readable fires, and the ACK is delayed 40 ms', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460 });
  ctx.data('hello', { at: 100 });
  ctx.expectNone('no immediate ACK');
  t.same(ctx.events, ['readable']);
  t.equal(ctx.stack.pollAt(), 140);
  ctx.at(139);
  ctx.expectNone();
  ctx.at(140);
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, ack: ctx.cSeq, win: 65535 });
  ctx.expectNone();
  t.same(ctx.c.recv(), Buffer.from('hello'));
  t.equal(ctx.c.bytesConsumed, 5);
});

t.test('the second full-sized segment is ACKed at once', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460 });
  ctx.data(1460);
  ctx.expectNone();
  ctx.data(1460);
  ctx.expect({ flags: 'A', ack: ctx.cSeq });
  ctx.expectNone();
});

t.test('with timestamps a full segment is MSS - 12 and still counts as full', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460, ts: true });
  ctx.data(1448);
  ctx.data(1448);
  ctx.expect({ flags: 'A', ack: ctx.cSeq });
});

t.test('an out-of-order segment gets an immediate duplicate ACK', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460 });
  const base = ctx.cSeq;
  ctx.send({ flags: 'PA', seq: base + 100, ack: ctx.iss + 1, data: 50 });
  ctx.expect({ flags: 'A', ack: base, exactOptions: true });
  ctx.expectNone();
  t.equal(ctx.c.recvQueued(), 0);
  t.same(ctx.events, []);
});

t.test('out-of-order data with SACK: the block is reported', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460, sack: true });
  const base = ctx.cSeq;
  ctx.send({ flags: 'PA', seq: base + 100, ack: ctx.iss + 1, data: 50 });
  ctx.expect({ flags: 'A', ack: base, sack: [[base + 100, base + 150]] });
});

t.test('SACK blocks: the most recently received block comes first (RFC 2018)', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460, sack: true });
  const b = ctx.cSeq;
  ctx.send({ flags: 'PA', seq: b + 100, ack: ctx.iss + 1, data: 10 });
  ctx.expect({ flags: 'A', ack: b, sack: [[b + 100, b + 110]] });
  ctx.send({ flags: 'PA', seq: b + 300, ack: ctx.iss + 1, data: 10 });
  ctx.expect({ flags: 'A', ack: b, sack: [[b + 300, b + 310], [b + 100, b + 110]] });
  ctx.send({ flags: 'PA', seq: b + 200, ack: ctx.iss + 1, data: 10 });
  ctx.expect({ flags: 'A', ack: b, sack: [[b + 200, b + 210], [b + 300, b + 310], [b + 100, b + 110]] });
  // Extending the oldest block makes it the most recent.
  ctx.send({ flags: 'PA', seq: b + 110, ack: ctx.iss + 1, data: 10 });
  ctx.expect({ flags: 'A', ack: b, sack: [[b + 100, b + 120], [b + 200, b + 210], [b + 300, b + 310]] });
});

t.test('at most 3 SACK blocks with timestamps, 4 without', async (t) => {
  for (const ts of [false, true]) {
    const ctx = new Ctx(t);
    ctx.established({ mss: 1460, sack: true, ts });
    const b = ctx.cSeq;
    for (let i = 1; i <= 5; i++) {
      ctx.send({ flags: 'PA', seq: b + i * 100, ack: ctx.iss + 1, data: 10, ts: ts ? [ctx.cTs, 0] : undefined });
    }
    const segs = ctx.drain();
    t.equal(segs.at(-1)!.seg.options.sack!.length, ts ? 3 : 4, `ts=${ts}`);
  }
});

t.test('filling the hole delivers everything and ACKs at once', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460, sack: true });
  const b = ctx.cSeq;
  const all = payloadOf(300);
  ctx.send({ flags: 'PA', seq: b + 100, ack: ctx.iss + 1, data: all.subarray(100, 200) });
  ctx.send({ flags: 'PA', seq: b + 200, ack: ctx.iss + 1, data: all.subarray(200, 300) });
  ctx.drain();
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: all.subarray(0, 100) });
  ctx.expect({ flags: 'A', ack: b + 300, exactOptions: true });
  ctx.expectNone();
  t.same(ctx.c.recv(), all);
});

t.test('filling part of a hole ACKs at once and keeps the rest SACKed', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460, sack: true });
  const b = ctx.cSeq;
  ctx.send({ flags: 'PA', seq: b + 200, ack: ctx.iss + 1, data: 100 });
  ctx.drain();
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: 100 });
  ctx.expect({ flags: 'A', ack: b + 100, sack: [[b + 200, b + 300]] });
});

t.test('a duplicate segment is ACKed at once (our ACK was lost)', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460 });
  const b = ctx.cSeq;
  ctx.data(100);
  ctx.advance(40);
  ctx.expect({ flags: 'A', ack: b + 100 });
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: 100 });
  ctx.expect({ flags: 'A', ack: b + 100 });
  ctx.expectNone();
  t.equal(ctx.c.recvQueued(), 100);
});

t.test('a partly duplicate segment delivers only the new bytes', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460 });
  const b = ctx.cSeq;
  const all = payloadOf(200);
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: all.subarray(0, 120) });
  ctx.send({ flags: 'PA', seq: b + 50, ack: ctx.iss + 1, data: all.subarray(50, 200) });
  t.same(ctx.c.recv(), all);
});

t.test('data beyond the window is trimmed and ACKed', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 1000 });
  ctx.established({ mss: 1460 });
  const b = ctx.cSeq;
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: 1500 });
  ctx.expect({ flags: 'A', ack: b + 1000, win: 0 });
  t.equal(ctx.c.recvQueued(), 1000);
});

t.test('a segment wholly beyond the window is dropped, ACKed and counted', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 1000 });
  ctx.established({ mss: 1460 });
  const b = ctx.cSeq;
  ctx.send({ flags: 'PA', seq: b + 5000, ack: ctx.iss + 1, data: 100 });
  ctx.expect({ flags: 'A', ack: b, win: 1000 });
  t.equal(ctx.stack.stats.dropped.outOfWindow, 1);
});

t.test('a GSO super-segment far longer than the MSS is accepted whole', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 1 << 20 });
  ctx.established({ mss: 1460, wscale: 7 });
  const b = ctx.cSeq;
  const big = payloadOf(60000);
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: big });
  ctx.expect({ flags: 'A', ack: b + 60000 });
  t.same(ctx.c.recv(), big);
});

t.test('data crossing 2^32 arrives intact', async (t) => {
  const ctx = new Ctx(t, { clientIsn: 0xffffff00 });
  ctx.established({ mss: 1460 });
  t.equal(ctx.cSeq, 0xffffff01);
  const all = payloadOf(1000);
  ctx.send({ flags: 'PA', seq: 0xffffff01, ack: ctx.iss + 1, data: all.subarray(0, 600) });
  ctx.send({ flags: 'PA', seq: u32(0xffffff01 + 600), ack: ctx.iss + 1, data: all.subarray(600) });
  ctx.advance(40);
  ctx.expect({ flags: 'A', ack: u32(0xffffff01 + 1000) });
  t.same(ctx.c.recv(), all);
  t.equal(ctx.c.rcvNxt, u32(0xffffff01 + 1000));
});

t.test('out-of-order data across 2^32 is reassembled', async (t) => {
  const ctx = new Ctx(t, { clientIsn: 0xfffffff0 });
  ctx.established({ mss: 1460, sack: true });
  const b = ctx.cSeq;
  const all = payloadOf(100);
  ctx.send({ flags: 'PA', seq: b + 50, ack: ctx.iss + 1, data: all.subarray(50) });
  ctx.expect({ flags: 'A', ack: b, sack: [[b + 50, b + 100]] });
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: all.subarray(0, 50) });
  ctx.expect({ flags: 'A', ack: u32(b + 100) });
  t.same(ctx.c.recv(), all);
});

t.test('recv(max) returns at most max bytes, in order', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460 });
  ctx.data('abc').data('defgh');
  t.same(ctx.c.recv(4), Buffer.from('abcd'));
  t.same(ctx.c.recv(100), Buffer.from('efgh'));
  t.equal(ctx.c.recv(), undefined);
});

t.test('the payload is copied: the link may reuse its buffer', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460 });
  const buf = Buffer.from('hello');
  ctx.send({ flags: 'PA', seq: ctx.cSeq, ack: ctx.iss + 1, data: buf });
  buf.fill(0);
  t.same(ctx.c.recv(), Buffer.from('hello'));
});
