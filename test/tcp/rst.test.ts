// Resets and the RFC 5961 protections: RST in each state, challenge ACKs (RST in the
// window, SYN on a synchronized connection) and their rate limit, PAWS, abort(), and
// segments for connections that do not exist.
import t from 'tap';
import { CLIENT, CPORT, Ctx, SERVER, SPORT, u32 } from './harness.js';
import type { TcpConnection } from '../../shared/tcp/connection.js';

function toState(ctx: Ctx, state: string): TcpConnection {
  const c = ctx.established({ mss: 1460 });
  switch (state) {
    case 'ESTABLISHED':
      break;
    case 'FIN-WAIT-1':
      c.close();
      break;
    case 'FIN-WAIT-2':
      c.close();
      ctx.drain();
      ctx.ack(ctx.iss + 2);
      break;
    case 'CLOSE-WAIT':
      ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 });
      ctx.cSeq = u32(ctx.cSeq + 1);
      break;
    case 'LAST-ACK':
      ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 });
      ctx.cSeq = u32(ctx.cSeq + 1);
      c.close();
      break;
    case 'CLOSING':
      c.close();
      ctx.drain();
      ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 });
      ctx.cSeq = u32(ctx.cSeq + 1);
      break;
    case 'TIME-WAIT':
      c.close();
      ctx.drain();
      ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 2 });
      ctx.cSeq = u32(ctx.cSeq + 1);
      break;
  }
  ctx.drain();
  ctx.events.length = 0;
  t.equal(c.state, state, `fixture reached ${state}`);
  return c;
}

for (const [state, event] of [
  ['ESTABLISHED', 'closed:ECONNRESET'], ['FIN-WAIT-1', 'closed:ECONNRESET'], ['FIN-WAIT-2', 'closed:ECONNRESET'],
  ['CLOSE-WAIT', 'closed:ECONNRESET'], ['CLOSING', 'closed'], ['LAST-ACK', 'closed'],
  ['TIME-WAIT', undefined],
] as const) {
  t.test(`RST at rcvNxt in ${state} closes the connection`, async (t) => {
    const ctx = new Ctx(t);
    const c = toState(ctx, state);
    ctx.send({ flags: 'R', seq: ctx.cSeq }, 50);
    ctx.expectNone('nothing answers a RST');
    t.equal(c.state, 'CLOSED');
    t.same(ctx.events, event === undefined ? [] : [event]);
    t.equal(ctx.stack.connectionCount, 0);
  });
}

t.test('RST in LAST-ACK with our data unacknowledged reports ECONNRESET', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 });
  ctx.cSeq = u32(ctx.cSeq + 1);
  c.send(Buffer.from('lost?'));
  c.close();
  ctx.drain();
  ctx.events.length = 0;
  ctx.send({ flags: 'R', seq: ctx.cSeq }, 50);
  t.same(ctx.events, ['closed:ECONNRESET']);
});

t.test('RST in the window but not at rcvNxt: challenge ACK, connection stays', async (t) => {
  const ctx = new Ctx(t);
  const c = toState(ctx, 'ESTABLISHED');
  ctx.send({ flags: 'R', seq: ctx.cSeq + 1000 }, 50);
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, ack: ctx.cSeq });
  ctx.expectNone();
  t.equal(c.state, 'ESTABLISHED');
  t.equal(ctx.stack.stats.challengeAcks, 1);
  t.equal(ctx.stack.stats.dropped.rstChallenged, 1);
});

t.test('RST outside the window is dropped silently', async (t) => {
  const ctx = new Ctx(t);
  const c = toState(ctx, 'ESTABLISHED');
  ctx.send({ flags: 'R', seq: ctx.cSeq + 10_000_000 }, 50);
  ctx.send({ flags: 'R', seq: ctx.cSeq - 1 }, 50);
  ctx.expectNone();
  t.equal(c.state, 'ESTABLISHED');
  t.equal(ctx.stack.stats.dropped.rstOutOfWindow, 2);
});

t.test('RST+ACK at rcvNxt also resets', async (t) => {
  const ctx = new Ctx(t);
  const c = toState(ctx, 'ESTABLISHED');
  ctx.send({ flags: 'RA', seq: ctx.cSeq, ack: ctx.iss + 1 }, 50);
  t.equal(c.state, 'CLOSED');
});

t.test('SYN on an established connection: challenge ACK (RFC 5961 §4)', async (t) => {
  const ctx = new Ctx(t);
  const c = toState(ctx, 'ESTABLISHED');
  ctx.send({ flags: 'S', seq: 12345, mss: 1460 }, 50);
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, ack: ctx.cSeq });
  ctx.expectNone();
  t.equal(c.state, 'ESTABLISHED');
  t.equal(ctx.stack.stats.dropped.synChallenged, 1);
});

t.test('SYN in the window, at rcvNxt, is challenged too', async (t) => {
  const ctx = new Ctx(t);
  const c = toState(ctx, 'ESTABLISHED');
  ctx.send({ flags: 'S', seq: ctx.cSeq, mss: 1460 }, 50);
  ctx.expect({ flags: 'A', ack: ctx.cSeq });
  t.equal(c.state, 'ESTABLISHED');
});

t.test('challenge ACKs are rate-limited per second', async (t) => {
  const ctx = new Ctx(t, { challengeAckLimit: 2 });
  toState(ctx, 'ESTABLISHED');
  for (let i = 0; i < 4; i++) ctx.send({ flags: 'R', seq: ctx.cSeq + 100 + i }, 100);
  t.equal(ctx.drain().length, 2);
  t.equal(ctx.stack.stats.dropped.challengeAckLimit, 2);
  ctx.send({ flags: 'R', seq: ctx.cSeq + 100 }, 1200);
  t.equal(ctx.drain().length, 1, 'a new second, a new budget');
});

t.test('PAWS: a segment with an old TSval is dropped and ACKed', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460, ts: true, tsStart: 1000 });
  ctx.send({ flags: 'PA', seq: ctx.cSeq, ack: ctx.iss + 1, data: 'new', ts: [1005, 0] }, 10);
  ctx.drain();
  t.equal(c.tsRecent, 1005);
  ctx.send({ flags: 'PA', seq: ctx.cSeq + 3, ack: ctx.iss + 1, data: 'old', ts: [1001, 0] }, 20);
  ctx.expect({ flags: 'A', ack: ctx.cSeq + 3, ts: [c.tsNow(20), 1005] });
  ctx.expectNone();
  t.equal(c.recvQueued(), 3, "the old segment's data was not taken");
  t.equal(ctx.stack.stats.pawsDrops, 1);
});

t.test('PAWS works across the TSval wrap', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460, ts: true, tsStart: 0xfffffff0 });
  ctx.send({ flags: 'PA', seq: ctx.cSeq, ack: ctx.iss + 1, data: 'a', ts: [5, 0] }, 10);
  t.equal(c.recvQueued(), 1, 'TSval 5 is newer than 0xfffffff0');
  t.equal(c.tsRecent, 5);
});

t.test('PAWS does not apply to RST', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460, ts: true, tsStart: 1000 });
  ctx.send({ flags: 'R', seq: ctx.cSeq, ts: [1, 0] }, 10);
  t.equal(c.state, 'CLOSED');
});

t.test('TS.Recent is updated only from segments at or below Last.ACK.sent (RFC 7323 §4.3)', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460, ts: true, tsStart: 1000 });
  const b = ctx.cSeq;
  // Out-of-order: SEG.SEQ > Last.ACK.sent, TS.Recent stays.
  ctx.send({ flags: 'PA', seq: b + 100, ack: ctx.iss + 1, data: 10, ts: [2000, 0] }, 10);
  t.equal(c.tsRecent, 1000);
  ctx.send({ flags: 'PA', seq: b, ack: ctx.iss + 1, data: 10, ts: [1500, 0] }, 11);
  t.equal(c.tsRecent, 1500);
});

t.test('abort(): RST with sndMax, closed() without an error', async (t) => {
  const ctx = new Ctx(t);
  const c = toState(ctx, 'ESTABLISHED');
  c.abort();
  ctx.expect({ flags: 'RA', seq: ctx.iss + 1, ack: ctx.cSeq });
  t.equal(c.state, 'CLOSED');
  t.same(ctx.events, ['closed']);
  t.equal(ctx.stack.connectionCount, 0);
});

t.test('closed port: SYN gets RST+ACK with seq 0, ack = seq + 1', async (t) => {
  const ctx = new Ctx(t, { noListen: true });
  ctx.send({ flags: 'S', seq: 1000, mss: 1460 });
  ctx.expect({ flags: 'RA', seq: 0, ack: 1001 });
  t.equal(ctx.stack.stats.dropped.noListener, 1);
});

t.test('closed port: data without ACK gets ack = seq + len (+1 for FIN)', async (t) => {
  const ctx = new Ctx(t, { noListen: true });
  ctx.send({ flags: 'FP', seq: 1000, data: 10 });
  ctx.expect({ flags: 'RA', seq: 0, ack: 1011 });
});

t.test('unknown connection: an ACK gets RST with seq = its ack', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'A', seq: 1000, ack: 777 });
  ctx.expect({ flags: 'R', seq: 777 });
  ctx.expectNone();
});

t.test('a RST for nothing is not answered', async (t) => {
  const ctx = new Ctx(t, { noListen: true });
  ctx.send({ flags: 'R', seq: 1000 });
  ctx.send({ flags: 'RA', seq: 1000, ack: 5 });
  ctx.expectNone();
});

t.test('the RST goes back to the sender, ports swapped', async (t) => {
  const ctx = new Ctx(t, { noListen: true });
  ctx.send({ flags: 'S', seq: 1 });
  const d = ctx.drain()[0]!;
  t.equal(d.src, SERVER);
  t.equal(d.dst, CLIENT);
  t.equal(d.seg.srcPort, SPORT);
  t.equal(d.seg.dstPort, CPORT);
});
