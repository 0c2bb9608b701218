// Closing: the peer's FIN, ours, both at once, TIME-WAIT and its expiry.
import t from 'tap';
import { Ctx, payloadOf, u32 } from './harness.js';
import { CLOSED_LINGER_MS } from '../../shared/tcp/stack.js';

t.test("peer's FIN: immediate ACK, CLOSE-WAIT, end()", async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 }, 10);
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, ack: ctx.cSeq + 1 });
  ctx.expectNone();
  t.equal(c.state, 'CLOSE-WAIT');
  t.same(ctx.events, ['end']);
});

t.test('passive close: close() in CLOSE-WAIT sends FIN, LAST-ACK, its ACK closes', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 }, 10);
  ctx.drain();
  c.close();
  t.equal(c.state, 'LAST-ACK');
  ctx.expect({ flags: 'FA', seq: ctx.iss + 1, ack: ctx.cSeq + 1 });
  ctx.send({ flags: 'A', seq: ctx.cSeq + 1, ack: ctx.iss + 2 }, 20);
  ctx.expectNone();
  t.equal(c.state, 'CLOSED');
  t.same(ctx.events, ['end', 'closed']);
  t.equal(ctx.stack.connectionCount, 0);
});

t.test('after a passive close, a late duplicate of the last ACK is dropped silently, not reset', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 }, 10);
  ctx.drain();
  c.close();
  ctx.expect({ flags: 'FA', seq: ctx.iss + 1, ack: ctx.cSeq + 1 });
  ctx.send({ flags: 'A', seq: ctx.cSeq + 1, ack: ctx.iss + 2 }, 20);
  t.equal(c.state, 'CLOSED');
  // The peer answered our FIN's retransmission too; that ACK arrives now.
  ctx.send({ flags: 'A', seq: ctx.cSeq + 1, ack: ctx.iss + 2 }, 30);
  ctx.expectNone('no RST for the late ACK');
  t.equal(ctx.stack.stats.dropped.afterClose, 1);
  // Anything else for the old tuple is still reset (RFC 9293, CLOSED).
  ctx.send({ flags: 'A', seq: ctx.cSeq + 1, ack: ctx.iss + 7 }, 40);
  ctx.expect({ flags: 'R', seq: ctx.iss + 7 });
  // And once the linger is over, so is the late ACK.
  ctx.send({ flags: 'A', seq: ctx.cSeq + 1, ack: ctx.iss + 2 }, 20 + CLOSED_LINGER_MS + 1);
  ctx.expect({ flags: 'R', seq: ctx.iss + 2 });
});

t.test('a tuple closed again keeps its newer linger when the older one expires', async (t) => {
  const ctx = new Ctx(t, { timeWaitMs: 1 });
  const passiveClose = (at: number, port: number) => {
    const c = ctx.established({ mss: 1460, port, at });
    ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1, srcPort: port }, at);
    ctx.drain();
    c.close();
    ctx.drain();
    ctx.send({ flags: 'A', seq: ctx.cSeq + 1, ack: ctx.iss + 2, srcPort: port }, at + 1);
    t.equal(c.state, 'CLOSED');
  };
  passiveClose(10, 40000);
  passiveClose(CLOSED_LINGER_MS / 2, 40000);
  // Another tuple's close prunes the first entry of 40000, expired by now.
  const at = 10 + CLOSED_LINGER_MS + 5;
  passiveClose(at, 40001);
  ctx.send({ flags: 'A', seq: ctx.cSeq + 1, ack: ctx.iss + 2, srcPort: 40000 }, at + 10);
  ctx.expectNone('the later close of 40000 still absorbs its late ACK');
  t.equal(ctx.stack.stats.dropped.afterClose, 1);
});

t.test('close() from end() sends one FIN+ACK for the peer FIN', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.handler = { readable() {}, writable() {}, end: () => c.close(), closed() {} };
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 }, 10);
  ctx.expect({ flags: 'FA', seq: ctx.iss + 1, ack: ctx.cSeq + 1 });
  ctx.expectNone();
  t.equal(c.state, 'LAST-ACK');
});

t.test('active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT on their FIN, closed() then', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.close();
  t.equal(c.state, 'FIN-WAIT-1');
  ctx.expect({ flags: 'FA', seq: ctx.iss + 1, ack: ctx.cSeq });
  ctx.ack(ctx.iss + 2, { at: 10 });
  t.equal(c.state, 'FIN-WAIT-2');
  ctx.expectNone();
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 2 }, 20);
  ctx.expect({ flags: 'A', seq: ctx.iss + 2, ack: ctx.cSeq + 1 });
  t.equal(c.state, 'TIME-WAIT');
  t.same(ctx.events, ['end', 'closed']);
});

t.test('TIME-WAIT lasts timeWaitMs, then the connection is gone', async (t) => {
  const ctx = new Ctx(t, { timeWaitMs: 60_000 });
  const c = ctx.established({ mss: 1460 });
  c.close();
  ctx.drain();
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 2 }, 100);
  ctx.drain();
  ctx.runUntil(60_099);
  t.equal(c.state, 'TIME-WAIT');
  ctx.at(60_100);
  t.equal(c.state, 'CLOSED');
  t.equal(ctx.stack.connectionCount, 0);
  ctx.expectNone();
  t.same(ctx.events, ['end', 'closed'], 'closed() said once');
});

t.test('TIME-WAIT: a retransmitted FIN is ACKed and restarts the timer', async (t) => {
  const ctx = new Ctx(t, { timeWaitMs: 1000 });
  const c = ctx.established({ mss: 1460 });
  c.close();
  ctx.drain();
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 2 }, 100);
  ctx.drain();
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 2 }, 800);
  ctx.expect({ flags: 'A', seq: ctx.iss + 2, ack: ctx.cSeq + 1 });
  ctx.at(1100);
  t.equal(c.state, 'TIME-WAIT');
  ctx.at(1800);
  t.equal(c.state, 'CLOSED');
});

t.test('after TIME-WAIT a segment for the old connection gets a RST', async (t) => {
  const ctx = new Ctx(t, { timeWaitMs: 1000 });
  const c = ctx.established({ mss: 1460 });
  c.close();
  ctx.drain();
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 2 }, 100);
  ctx.drain();
  ctx.at(2000);
  ctx.send({ flags: 'A', seq: ctx.cSeq + 1, ack: ctx.iss + 2 });
  ctx.expect({ flags: 'R', seq: ctx.iss + 2 });
});

t.test('close() with queued data: the FIN rides on the last data segment', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  c.send(payloadOf(1500));
  c.close();
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, data: 1000 });
  ctx.expect({ flags: 'FPA', seq: ctx.iss + 1001, data: 500 });
  ctx.expectNone();
  t.equal(c.finSeq, u32(ctx.iss + 1501));
});

t.test('the FIN waits behind data the window does not allow yet', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, win: 1000 });
  c.send(payloadOf(1500));
  c.close();
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, data: 1000 });
  ctx.expectNone();
  ctx.ack(ctx.iss + 1001, { win: 1000, at: 10 });
  ctx.expect({ flags: 'FPA', seq: ctx.iss + 1001, data: 500 });
});

t.test('simultaneous close: FIN crosses FIN, CLOSING, then TIME-WAIT', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.close();
  ctx.expect({ flags: 'FA', seq: ctx.iss + 1, ack: ctx.cSeq });
  // Their FIN does not acknowledge ours.
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 }, 10);
  t.equal(c.state, 'CLOSING');
  ctx.expect({ flags: 'A', seq: ctx.iss + 2, ack: ctx.cSeq + 1 });
  ctx.send({ flags: 'A', seq: ctx.cSeq + 1, ack: ctx.iss + 2 }, 20);
  t.equal(c.state, 'TIME-WAIT');
  ctx.expectNone();
});

t.test('FIN-WAIT-1: a FIN that also ACKs our FIN goes straight to TIME-WAIT', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.close();
  ctx.drain();
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 2 }, 10);
  t.equal(c.state, 'TIME-WAIT');
  ctx.expect({ flags: 'A', ack: ctx.cSeq + 1 });
});

t.test('our FIN is retransmitted on timeout', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460, rtt: 100 });
  c.close();
  ctx.expect({ flags: 'FA', seq: ctx.iss + 1 });
  ctx.at(ctx.now + 300);
  ctx.expect({ flags: 'FA', seq: ctx.iss + 1 });
  t.equal(c.state, 'FIN-WAIT-1');
});

t.test('an out-of-order FIN is held until the data before it arrives', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  const b = ctx.cSeq;
  ctx.send({ flags: 'FPA', seq: b + 10, ack: ctx.iss + 1, data: 10 });
  ctx.expect({ flags: 'A', ack: b });
  t.equal(c.state, 'ESTABLISHED');
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: 10 });
  ctx.expect({ flags: 'A', ack: b + 21 });
  t.equal(c.state, 'CLOSE-WAIT');
  t.equal(c.recvQueued(), 20);
  t.same(ctx.events, ['readable', 'end']);
});

t.test('data after FIN-WAIT-2 is still received (half-close)', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.close();
  ctx.drain();
  ctx.ack(ctx.iss + 2, { at: 10 });
  ctx.data('late', { ack: ctx.iss + 2 });
  t.equal(c.state, 'FIN-WAIT-2');
  t.same(c.recv(), Buffer.from('late'));
});

t.test('close() in SYN-RECEIVED sends the FIN once the handshake completes', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 });
  ctx.drain();
  const c = [...ctx.stack.connections()][0]!;
  c.close();
  ctx.expectNone();
  ctx.send({ flags: 'A', seq: ctx.irs + 1, ack: ctx.iss + 1 }, 10);
  t.equal(c.state, 'FIN-WAIT-1');
  ctx.expect({ flags: 'FA', seq: ctx.iss + 1 });
});

t.test('a new SYN beyond the old sequence space reopens a TIME-WAIT pair', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.close();
  ctx.drain();
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 2 }, 10);
  ctx.drain();
  t.equal(c.state, 'TIME-WAIT');
  ctx.send({ flags: 'S', seq: ctx.cSeq + 100_000, mss: 1460 }, 20);
  ctx.expect({ flags: 'SA', ack: ctx.cSeq + 100_001 });
  t.equal(c.state, 'CLOSED');
  t.equal(ctx.stack.connectionCount, 1);
});

t.test('an old SYN in TIME-WAIT is challenged, not accepted', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  c.close();
  ctx.drain();
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 2 }, 10);
  ctx.drain();
  ctx.send({ flags: 'S', seq: ctx.cSeq - 5, mss: 1460 }, 20);
  ctx.expect({ flags: 'A', ack: ctx.cSeq + 1 });
  t.equal(c.state, 'TIME-WAIT');
});

t.test('an out-of-order FIN is not "received" until the data before it is', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  const b = ctx.cSeq;
  ctx.send({ flags: 'FA', seq: b + 10, ack: ctx.iss + 1 });
  t.equal(c.rcvFinSeq, undefined);
  t.equal(c.finReceived(), false);
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: 10 });
  t.equal(c.rcvFinSeq, u32(b + 10));
  t.equal(c.finReceived(), true);
  t.equal(c.rcvNxt, u32(b + 11));
});
