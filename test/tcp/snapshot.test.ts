// Snapshot -> restore round trips mid-transfer: the rebuilt connection continues the
// same byte streams, retransmits what was unacknowledged, keeps the window edge, and
// its timestamps continue at or above the last TSval sent though the clock differs.
import t, { type Test } from 'tap';
import { Ctx, payloadOf, restoredHalfOpen, u32 } from './harness.js';
import { queueBytes, type TcbSnapshot } from '../../shared/tcp/tcb.js';

/** A connection mid-transfer in both directions, with out-of-order data held. */
function midTransfer(t: Test) {
  const ctx = new Ctx(t, { congestionControl: 'newreno' });
  const c = ctx.established({ mss: 1000, wscale: 7, sack: true, ts: true, tsStart: 500, rtt: 100, at: 4000 });
  const inbound = payloadOf(4000);
  const b = ctx.cSeq;
  ctx.cTs = 600;
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: inbound.subarray(0, 2000), ts: [600, 0] }, 4200);
  ctx.send({ flags: 'PA', seq: b + 3000, ack: ctx.iss + 1, data: inbound.subarray(3000), ts: [601, 0] }, 4201);
  t.equal(c.recv(500)!.length, 500);
  const outbound = payloadOf(30000);
  c.send(outbound);
  ctx.drain();
  // The client acknowledges 2000 of the 10 segments sent.
  ctx.send({ flags: 'A', seq: b + 2000, ack: ctx.iss + 2001, ts: [602, c.tsLastSent] }, 4300);
  ctx.drain();
  return { ctx, c, inbound, outbound, b };
}

t.test('snapshot holds the TCB and queues', async (t) => {
  const { ctx, c, b } = midTransfer(t);
  const s = c.snapshot();
  t.equal(s.state, 'ESTABLISHED');
  t.equal(s.sndUna, u32(ctx.iss + 2001));
  t.equal(s.sndMax, c.sndMax);
  t.equal(queueBytes(s.sendQueue), 28000, 'from sndUna: sent-unacked and unsent');
  t.equal(queueBytes(s.recvQueue), 1500, 'received, not consumed');
  t.same(s.ooo.map((o) => [o.seq, o.data.length]), [[u32(b + 3000), 1000]]);
  t.equal(s.bytesConsumed, 500);
  t.equal(s.bytesWritten, 30000);
  t.equal(s.tsOk, true);
  t.equal(s.sackOk, true);
  t.equal(s.sndWndShift, 7);
  t.equal(s.tsLastSent, c.tsLastSent);
});

t.test('restore -> snapshot gives the same TCB back', async (t) => {
  const { c } = midTransfer(t);
  const s = c.snapshot();
  const other = new Ctx(t, { noListen: true });
  const c2 = other.stack.restore(structuredClone(s), 10);
  const s2 = c2.snapshot();
  for (const k of Object.keys(s) as Array<keyof TcbSnapshot>) {
    if (k === 'rtt' || k === 'cc') continue; // clock-relative internals
    t.same(s2[k], s[k], k);
  }
});

t.test('restored mid-transfer: retransmits unacked data one RTO after restore', async (t) => {
  const { ctx, c } = midTransfer(t);
  const s = c.snapshot();
  const other = new Ctx(t, { noListen: true });
  const c2 = other.stack.restore(structuredClone(s), 10);
  other.conn = c2;
  other.at(10);
  other.drain();
  const rto = c2.rtt.rto;
  t.equal(c2.rtoAt, 10 + rto, 'unacked segments count as sent at restore');
  other.at(10 + rto);
  const seg = other.expect({ flags: 'A', seq: ctx.iss + 2001 });
  t.same(seg.payload, c.sendQueue.read(0, seg.payload.length), 'the same bytes');
  t.ok(seg.options.ts!.val >= s.tsLastSent, 'TSval does not go backwards');
});

t.test('restored: TSval continues at or above the last one although the clock is far lower', async (t) => {
  const { c } = midTransfer(t);
  const s = c.snapshot();
  const other = new Ctx(t, { noListen: true });
  const c2 = other.stack.restore(structuredClone(s), 3);
  other.at(3);
  t.equal(c2.tsNow(3), s.tsLastSent);
  t.equal(c2.tsNow(1003), u32(s.tsLastSent + 1000));
  c2.kick();
  const first = other.drain()[0]!;
  t.ok(u32(first.seg.options.ts!.val - s.tsLastSent) < 2 ** 31, 'kick segment TSval >= last');
  t.equal(first.seg.options.ts!.ecr, s.tsRecent, 'echoes the latest client TSval');
});

t.test('restored: the receive stream continues exactly, out-of-order data included', async (t) => {
  const { c, inbound, b } = midTransfer(t);
  const s = c.snapshot();
  const other = new Ctx(t, { noListen: true });
  const c2 = other.stack.restore(structuredClone(s), 10);
  other.conn = c2;
  other.at(10);
  other.drain();
  other.send({ flags: 'PA', seq: b + 2000, ack: s.sndUna, data: inbound.subarray(2000, 3000), ts: [700, 0] }, 20);
  const ack = other.expect({ flags: 'A', ack: b + 4000 });
  t.ok(ack.options.sack === undefined, 'the hole is filled: no SACK');
  t.same(c2.recv(), inbound.subarray(500));
  t.equal(c2.bytesConsumed, 4000);
});

t.test('restored: the advertised right edge does not shrink', async (t) => {
  const { c } = midTransfer(t);
  const s = c.snapshot();
  const edge = u32(s.rcvNxt + s.rcvWnd);
  const other = new Ctx(t, { noListen: true });
  const c2 = other.stack.restore(structuredClone(s), 10);
  c2.kick();
  for (const d of other.drain()) {
    t.ok(u32(d.seg.ack + d.seg.window * 128 - edge) < 2 ** 31, 'edge >= the snapshot edge');
  }
});

t.test('restored: the send stream continues: unsent bytes follow acked ones exactly', async (t) => {
  const { ctx, c, outbound } = midTransfer(t);
  const s = c.snapshot();
  const sent = u32(s.sndMax - ctx.iss - 1);
  t.ok(sent < 30000, 'some bytes were never sent before the snapshot');
  const other = new Ctx(t, { noListen: true });
  const c2 = other.stack.restore(structuredClone(s), 10);
  other.conn = c2;
  other.at(10);
  other.drain();
  // The client has everything up to sndMax: ACK it all; the rest follows.
  other.send({ flags: 'A', seq: u32(s.rcvNxt), ack: s.sndMax, win: 65535, ts: [800, 0] }, 20);
  const got: Buffer[] = [];
  for (const d of other.drain()) got.push(d.seg.payload);
  const all = Buffer.concat(got);
  t.ok(all.length > 0);
  t.same(all, outbound.subarray(sent, sent + all.length), 'the next bytes of the stream (as cwnd allows)');
});

t.test('restored in SYN-RECEIVED: the SYN-ACK is resent and the final ACK establishes', async (t) => {
  const { a, b, snap: s, c: c2 } = restoredHalfOpen(t);
  t.equal(s.state, 'SYN-RECEIVED');
  b.at(5);
  c2.kick();
  const synAck = b.expect({ flags: 'SA', seq: a.iss, ack: a.irs + 1, mss: 1460, wscale: 3, sackOk: true, ts: [s.tsLastSent, 50] });
  b.send({ flags: 'A', seq: a.irs + 1, ack: a.iss + 1, ts: [51, synAck.options.ts!.val] }, 6);
  t.equal(c2.state, 'ESTABLISHED');
  // The takeover adopted it with its resume positions; a listener's accept would give
  // the same connection a second, fresh application (test/failover/sim-regressions).
  t.equal(b.accepted.length, 0, 'not handed to the listener');
});

t.test('adopted in SYN-RECEIVED: probes, never a SYN-ACK an established client would challenge', async (t) => {
  const { a, b, snap: s, c: c2 } = restoredHalfOpen(t);
  b.at(5);
  // What backup-daemon/takeover.ts's kick does for such a connection.
  c2.adoptedHalfOpen = true;
  c2.probeNow = true;
  c2.ctx.markDirty(c2);
  b.expect({ flags: 'A', seq: a.iss - 1, ack: a.irs + 1 }, 'the kick is a probe');
  b.at(5 + 1000);
  b.expect({ flags: 'A', seq: a.iss - 1, ack: a.irs + 1 }, 'the retransmission timer sends a probe again, not a SYN-ACK');
  b.expectNone();
  b.send({ flags: 'A', seq: a.irs + 1, ack: a.iss + 1, ts: [51, s.tsLastSent] }, 1010);
  t.equal(c2.state, 'ESTABLISHED', "the client's answer completes the handshake");
});

t.test('restore refuses a connection that already exists', async (t) => {
  const { ctx, c } = midTransfer(t);
  t.throws(() => ctx.stack.restore(c.snapshot(), 5000), { code: 'ERR_INTACT_CONN_EXISTS' });
});

t.test('restored FIN states: FIN-WAIT-1 retransmits data and FIN', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(100));
  c.close();
  ctx.drain();
  const s = c.snapshot();
  t.equal(s.state, 'FIN-WAIT-1');
  const other = new Ctx(t, { noListen: true });
  const c2 = other.stack.restore(structuredClone(s), 10);
  c2.kick();
  other.expect({ flags: 'FPA', seq: ctx.iss + 1, data: 100 });
  other.send({ flags: 'A', seq: ctx.cSeq, ack: ctx.iss + 102 }, 20);
  t.equal(c2.state, 'FIN-WAIT-2');
});

t.test('restore counts the FIN when a snapshot gives rcvNxt = rcvFinSeq', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 });
  ctx.drain();
  const s = c.snapshot();
  t.equal(s.rcvFinSeq, ctx.cSeq);
  t.equal(s.rcvNxt, u32(ctx.cSeq + 1));
  const other = new Ctx(t, { noListen: true });
  const c2 = other.stack.restore({ ...structuredClone(s), rcvNxt: ctx.cSeq }, 5);
  t.equal(c2.rcvNxt, u32(ctx.cSeq + 1));
  t.equal(c2.state, 'CLOSE-WAIT');
  t.equal(c2.finReceived(), true);
});

t.test('wake() is called when an application call outside input/poll creates work', async (t) => {
  let wakes = 0;
  const ctx = new Ctx(t, { wake: () => void wakes++ });
  const c = ctx.established({ mss: 1000 });
  wakes = 0;
  c.send(Buffer.from('x'));
  t.equal(wakes, 1);
  c.send(Buffer.from('y'));
  t.equal(wakes, 1, 'once until the next poll');
  ctx.drain();
  c.close();
  t.equal(wakes, 2);
  t.ok(ctx.stack.pollAt()! <= ctx.now, 'pollAt says now');
});
