// The replication gates (DESIGN rules 1 and 2) and the observer hooks.
import t from 'tap';
import { Ctx, payloadOf, u32 } from './harness.js';
import type { TcpConnection } from '../../shared/tcp/connection.js';

t.test('ackLimit: the ACK on the wire never passes it', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  const b = ctx.cSeq;
  c.ackLimit = b + 300;
  ctx.data(1000).data(1000);
  ctx.expectNone('less than two segments may be acknowledged: the ACK is delayed');
  ctx.advance(40);
  ctx.expect({ flags: 'A', ack: b + 300 });
  c.ackLimit = b + 2000;
  ctx.expect({ flags: 'A', ack: b + 2000 });
  t.equal(c.rcvNxt, u32(b + 2000), 'the bytes are received, only the ACK is held');
  t.equal(c.recvQueued(), 2000, 'and the application may read them');
});

t.test('ackLimit: no ACK that says nothing new; raising the gate ACKs at once', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  const b = ctx.cSeq;
  c.ackLimit = b;
  ctx.data(100, { at: 10 });
  ctx.at(100);
  ctx.expectNone('the delayed ACK has nothing to acknowledge');
  t.equal(ctx.stack.pollAt(), undefined, 'and does not spin');
  c.ackLimit = b + 100;
  ctx.expect({ flags: 'A', ack: b + 100 });
  ctx.expectNone();
});

t.test('ackLimit: raising it part way ACKs part way', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  const b = ctx.cSeq;
  c.ackLimit = b;
  ctx.data(100, { at: 10 });
  ctx.at(100);
  c.ackLimit = b + 40;
  ctx.expect({ flags: 'A', ack: b + 40 });
  c.ackLimit = undefined;
  ctx.expect({ flags: 'A', ack: b + 100 });
});

t.test('ackLimit: SACK blocks never claim bytes at or beyond the gate', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, sack: true });
  const b = ctx.cSeq;
  c.ackLimit = b;
  ctx.send({ flags: 'PA', seq: b + 100, ack: ctx.iss + 1, data: 50 });
  ctx.expect({ flags: 'A', ack: b, exactOptions: true }, 'duplicate ACK without SACK blocks');
  c.ackLimit = undefined;
  ctx.send({ flags: 'PA', seq: b + 200, ack: ctx.iss + 1, data: 50 });
  ctx.expect({ flags: 'A', ack: b, sack: [[b + 200, b + 250], [b + 100, b + 150]] });
});

t.test("ackLimit holds the ACK of the peer's FIN too", async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  const b = ctx.cSeq;
  c.ackLimit = b;
  ctx.send({ flags: 'FA', seq: b, ack: ctx.iss + 1 });
  ctx.expect({ flags: 'A', ack: b });
  t.equal(c.state, 'CLOSE-WAIT');
  c.ackLimit = b + 1;
  ctx.expect({ flags: 'A', ack: b + 1 });
});

t.test('sendLimit: no byte at or beyond it leaves; raising it releases them', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  const s = ctx.iss + 1;
  c.sendLimit = s + 1000;
  c.send(payloadOf(1500));
  ctx.expect({ flags: 'A', seq: s, data: 1000 });
  ctx.expectNone('500 bytes wait at the gate');
  c.sendLimit = s + 1500;
  ctx.expect({ flags: 'PA', seq: s + 1000, data: 500 });
});

t.test('sendLimit gates the FIN', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000 });
  const s = ctx.iss + 1;
  c.send(payloadOf(100));
  c.sendLimit = s + 100;
  c.close();
  ctx.expect({ flags: 'PA', seq: s, data: 100 });
  ctx.expectNone('the FIN waits');
  c.sendLimit = s + 101;
  ctx.expect({ flags: 'FA', seq: s + 100 });
});

t.test('sendLimit set in opened() holds the SYN-ACK until the gate opens', async (t) => {
  const ctx = new Ctx(t);
  let conn: TcpConnection | undefined;
  ctx.stack.observer = {
    opened(c) {
      conn = c;
      c.sendLimit = c.iss;
    },
  };
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1460 });
  ctx.expectNone();
  t.ok(conn);
  conn!.sendLimit = conn!.iss + 1;
  ctx.expect({ flags: 'SA', seq: ctx.iss });
});

t.test('sendLimit does not stop retransmissions of what was already sent', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(100));
  ctx.drain();
  c.sendLimit = ctx.iss + 1;
  ctx.at(ctx.now + 300);
  ctx.expect({ flags: 'PA', seq: ctx.iss + 1, data: 100 });
});

t.test('observer: opened before the SYN-ACK, received, queued, updated, closed', async (t) => {
  const ctx = new Ctx(t);
  const log: string[] = [];
  ctx.stack.observer = {
    opened: (c) => log.push(`opened iss=${c.iss === ctx.iss} out=${ctx.out.length}`),
    received: (_c, seq, data) => log.push(`received ${u32(seq - ctx.irs)} ${data.length}`),
    queued: (_c, seq, data) => log.push(`queued ${u32(seq - ctx.iss)} ${data.length}`),
    updated: (c) => log.push(`updated ${c.state}`),
    closed: (c) => log.push(`closed ${c.state}`),
  };
  const c = ctx.established({ mss: 1000 });
  ctx.data('abc');
  c.send(Buffer.from('xy'));
  ctx.drain();
  ctx.ack(ctx.iss + 3);
  c.abort();
  ctx.drain();
  t.same(log, [
    'opened iss=true out=0',
    'updated ESTABLISHED',
    'received 1 3',
    'queued 1 2',
    'updated ESTABLISHED',
    'updated CLOSED',
    'closed CLOSED',
  ]);
});
