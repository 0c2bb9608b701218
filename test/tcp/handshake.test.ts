// Passive open: SYN-ACK options for each combination the client offers, the final
// ACK, SYN-ACK retransmission, and bad handshakes.
import t from 'tap';
import { Ctx, u32 } from './harness.js';

const WIN = 65535; // a SYN-ACK's window is never scaled; min(rcvBuf, 65535)

t.test('SYN without options: SYN-ACK carries only our MSS; we assume MSS 536', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, win: 8192 });
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1, win: WIN, mss: 1460 });
  ctx.expectNone();
  const c = [...ctx.stack.connections()][0]!;
  t.equal(c.state, 'SYN-RECEIVED');
  t.equal(c.sndMss, 536);
  t.equal(c.sackOk, false);
  t.equal(c.tsOk, false);
  t.equal(c.rcvWndShift, 0);
});

t.test('SYN with MSS only', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1200 });
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1, win: WIN, mss: 1460 });
  ctx.expectNone();
  t.equal([...ctx.stack.connections()][0]!.sndMss, 1200);
});

t.test('SYN with window scale: SYN-ACK offers our shift for rcvBuf', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460, wscale: 7 });
  // 256 KiB needs shift 3 to fit 16 bits.
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1, win: WIN, mss: 1460, wscale: 3 });
  ctx.expectNone();
  const c = [...ctx.stack.connections()][0]!;
  t.equal(c.sndWndShift, 7);
  t.equal(c.rcvWndShift, 3);
});

t.test('SYN with SACK-permitted', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460, sackOk: true });
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1, mss: 1460, sackOk: true });
  ctx.expectNone();
});

t.test('SYN with timestamps: SYN-ACK echoes TSval', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460, ts: [12345, 0] }, 5);
  const c = [...ctx.stack.connections()][0]!;
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1, mss: 1460, ts: [c.tsNow(5), 12345] });
  ctx.expectNone();
  t.equal(c.tsOk, true);
});

t.test('SYN with every option', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1400, wscale: 2, sackOk: true, ts: [7, 0] });
  const c = [...ctx.stack.connections()][0]!;
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1, mss: 1460, wscale: 3, sackOk: true, ts: [c.tsNow(0), 7] });
  ctx.expectNone();
  t.equal(c.effMss, 1400 - 12);
});

t.test('options disabled in StackOptions are not offered even when the client asks', async (t) => {
  const ctx = new Ctx(t, { sack: false, timestamps: false, windowScaling: false });
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460, wscale: 2, sackOk: true, ts: [7, 0] });
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1, mss: 1460 });
  ctx.expectNone();
});

t.test('window scale above 14 is used as 14 (RFC 7323 §2.3)', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460, wscale: 15 });
  ctx.expect({ flags: 'SA', wscale: 3, mss: 1460 });
  t.equal([...ctx.stack.connections()][0]!.sndWndShift, 14);
});

t.test('final ACK establishes and hands the connection over, sending nothing', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 });
  ctx.expect({ flags: 'SA' });
  t.equal(ctx.accepted.length, 0);
  ctx.send({ flags: 'A', seq: ctx.irs + 1, ack: ctx.iss + 1, win: 1000 }, 10);
  ctx.expectNone();
  t.equal(ctx.accepted.length, 1);
  t.equal(ctx.c.state, 'ESTABLISHED');
  t.equal(ctx.c.sndUna, u32(ctx.iss + 1));
  t.equal(ctx.c.sndWnd, 1000);
  t.equal(ctx.stack.stats.established, 1);
});

t.test('the handshake ACK can carry data', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 });
  ctx.expect({ flags: 'SA' });
  ctx.send({ flags: 'PA', seq: ctx.irs + 1, ack: ctx.iss + 1, data: 'hello' });
  t.equal(ctx.c.state, 'ESTABLISHED');
  t.same(ctx.events, ['readable']);
  t.same(ctx.c.recv(), Buffer.from('hello'));
});

t.test('SYN-ACK is retransmitted at 1 s, then 2 s later (backoff)', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 }, 0);
  ctx.expect({ flags: 'SA', seq: ctx.iss });
  t.equal(ctx.stack.pollAt(), 1000);
  ctx.at(999);
  ctx.expectNone();
  ctx.at(1000);
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1 });
  t.equal(ctx.stack.pollAt(), 3000);
  ctx.at(3000);
  ctx.expect({ flags: 'SA', seq: ctx.iss });
  t.equal(ctx.stack.pollAt(), 7000);
});

t.test('a half-open connection is dropped after 5 SYN-ACK retransmissions', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 }, 0);
  ctx.runUntil(200_000);
  const synAcks = ctx.drain().filter((d) => d.seg.flags === 0x12).length;
  t.equal(synAcks, 6);
  t.equal(ctx.stack.connectionCount, 0);
  t.equal(ctx.listener!.synQueue, 0);
});

t.test('a retransmitted SYN in SYN-RECEIVED gets the SYN-ACK again', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 }, 0);
  ctx.expect({ flags: 'SA' });
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 }, 300);
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1 });
  ctx.expectNone();
  t.equal(ctx.stack.connectionCount, 1);
});

t.test('an ACK in SYN-RECEIVED that acknowledges the wrong thing is answered with RST', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 });
  ctx.expect({ flags: 'SA' });
  ctx.send({ flags: 'A', seq: ctx.irs + 1, ack: ctx.iss + 5 });
  ctx.expect({ flags: 'R', seq: ctx.iss + 5 });
  ctx.expectNone();
  t.equal(ctx.stack.stats.dropped.badAckInSynRcvd, 1);
  t.equal([...ctx.stack.connections()][0]!.state, 'SYN-RECEIVED');
});

t.test('RST at rcvNxt in SYN-RECEIVED returns to LISTEN silently', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 });
  ctx.expect({ flags: 'SA' });
  ctx.send({ flags: 'R', seq: ctx.irs + 1 });
  ctx.expectNone();
  t.equal(ctx.stack.connectionCount, 0);
  t.equal(ctx.listener!.synQueue, 0);
});

t.test('the ISS crosses 2^32: the handshake ACK of iss+1 wraps to a small number', async (t) => {
  const ctx = new Ctx(t, { forceIss: 0xffffffff });
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 });
  ctx.expect({ flags: 'SA', seq: 0xffffffff });
  ctx.send({ flags: 'A', seq: ctx.irs + 1, ack: 0 });
  t.equal(ctx.c.state, 'ESTABLISHED');
  t.equal(ctx.c.sndUna, 0);
});
