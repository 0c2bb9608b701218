// Mirror.resync: a connection that ran unprotected (the backup was away) is put under
// a backup's protection at one of its app's checkpoints. No root, no sockets: the
// engine in memory, a channel that records, segments in and out.
import t from 'tap';
import { ACK, PSH, SYN } from '../../shared/tcp/segment.js';
import { Mirror } from '../../primary/replication/mirror.js';
import { MsgType } from '../../shared/replication/messages.js';
import { RecordingChannel } from '../helpers/recording-channel.js';
import { ReplicaStore } from '../../backup-daemon/store.js';
import { memoryServer, settle } from '../helpers/memory-server.js';

/** An unprotected connection that has exchanged a request and a reply; then the client
 *  sends `pending` (unread by the app unless `read`) and the app writes `unsent` that
 *  the client has not acknowledged. */
async function unprotectedSession(o: { read?: boolean } = {}) {
  const { stack, input, connection } = memoryServer({ random: () => 0.25, mss: 536 });
  input({ seq: 7, flags: SYN }, 1);
  const iss = stack.poll(1).find((d) => d.seg.flags === (SYN | ACK))!.seg.seq;
  input({ seq: 8, ack: (iss + 1) >>> 0 }, 2);
  const c = connection();
  input({ seq: 8, ack: (iss + 1) >>> 0, flags: ACK | PSH, payload: Buffer.from('SET a 1\n') }, 3);
  t.equal(c.recv()?.toString(), 'SET a 1\n');
  c.send(Buffer.from('OK\n'));
  stack.poll(4);
  input({ seq: 16, ack: (iss + 4) >>> 0, flags: ACK | PSH, payload: Buffer.from('GET a\n') }, 5);
  stack.poll(5);
  if (o.read) t.equal(c.recv()?.toString(), 'GET a\n');
  c.send(Buffer.from('1\n'));
  stack.poll(6);
  return { stack, c, iss, input };
}

t.test('resync sends RESYNC, UPDATE, the queued bytes and the CHECKPOINT, which a store accepts', async (t) => {
  const { stack, c, iss } = await unprotectedSession();
  const ch = new RecordingChannel();
  const mirror = new Mirror({ channel: ch, bytesPerConnection: 1 << 20, wake: () => {} });
  stack.observer = mirror;
  const state = Buffer.from('{"a":"1"}');
  t.ok(mirror.resync(c, state, 8, 3), 'taken on');
  t.same(ch.sent.map((m) => m.type), [MsgType.Resync, MsgType.Update, MsgType.RecvData, MsgType.SendData, MsgType.Checkpoint]);
  const [r, , recv, send, cp] = ch.sent;
  t.match(r, { type: MsgType.Resync, iss, irs: 7, rcvBase: 8, sndBase: 3 }, 'the streams start at the checkpoint and at snd_una');
  t.match(recv, { seq: 16, data: Buffer.from('GET a\n') }, 'the unread request');
  t.match(send, { seq: (iss + 4) >>> 0, data: Buffer.from('1\n') }, 'the unacknowledged reply');
  t.match(cp, { consumed: 8, produced: 3, state });
  const store = new ReplicaStore({ bytesPerConnection: 1 << 20 });
  for (const m of ch.sent) t.equal(store.apply(m), undefined, `the store accepts ${MsgType[m.type]}`);
  const replica = [...store.replicas.values()][0]!;
  t.notOk(replica.resyncing, 'complete');
  t.equal(replica.rcvNxt, c.rcvNxt);
  t.equal(replica.sndMax, c.sndMax);
  t.ok(mirror.protectionFor(c), 'the socket gets its hooks now');
});

t.test('until the backup confirms the run, no new ACK and no new byte reaches the client', async (t) => {
  const { stack, c, iss, input } = await unprotectedSession({ read: true });
  const ch = new RecordingChannel();
  const mirror = new Mirror({ channel: ch, bytesPerConnection: 1 << 20, wake: () => {} });
  stack.observer = mirror;
  const acked = c.lastAckSent;
  t.ok(mirror.resync(c, Buffer.from('{}'), 14, 5));
  // New input and new output while the run is unconfirmed.
  input({ seq: 22, ack: (iss + 6) >>> 0, flags: ACK | PSH, payload: Buffer.from('INCR n\n') }, 7);
  c.send(Buffer.from('more'));
  await settle();
  // Past the delayed-ACK timer: an ACK of the new input would be due by now.
  const held = stack.poll(600);
  t.notOk(held.some((d) => d.seg.payload.length > 0), 'no payload leaves');
  t.ok(held.every((d) => d.seg.ack === acked), `every ACK stays at ${acked}`);
  t.equal(c.effAck(), acked, 'the ACK the wire would see stays where the client has it');
  ch.confirm();
  await settle();
  const out = stack.poll(601);
  t.ok(out.some((d) => d.seg.ack === 29), 'the new input is acknowledged once confirmed');
  t.ok(out.some((d) => d.seg.payload.toString() === 'more'), 'the new output leaves once confirmed');
});

t.test('resync refuses, and sends nothing, when it cannot protect the connection now', async (t) => {
  const { stack, c, iss, input } = await unprotectedSession();
  const ch = new RecordingChannel();
  const mirror = new Mirror({ channel: ch, bytesPerConnection: 1 << 20, wake: () => {} });
  stack.observer = mirror;
  t.notOk(mirror.resync(c, Buffer.from('{}'), 7, 3), 'consumed is not what the app took from the engine');
  t.notOk(mirror.resync(c, Buffer.from('{}'), 8, 9), 'produced beyond what the engine accepted');
  const small = new Mirror({ channel: ch, bytesPerConnection: 8, wake: () => {} });
  t.notOk(small.resync(c, Buffer.from('{}'), 8, 3), 'more held than the backup\'s bound allows');
  const notOurs = new Mirror({ channel: ch, bytesPerConnection: 1 << 20, wake: () => {}, protects: () => false });
  t.notOk(notOurs.resync(c, Buffer.from('{}'), 8, 3), 'a port that did not opt in');
  t.equal(ch.sent.length, 0, 'nothing sent');
  // A segment beyond a hole: held out of order (and SACKed) while unprotected.
  input({ seq: 29, ack: (iss + 4) >>> 0, flags: ACK | PSH, payload: Buffer.from('later\n') }, 7);
  t.notOk(mirror.resync(c, Buffer.from('{}'), 8, 3), 'out-of-order input held');
  input({ seq: 22, ack: (iss + 4) >>> 0, flags: ACK | PSH, payload: Buffer.from('INCR n\n') }, 8);
  t.equal(ch.sent.length, 0, 'nothing sent');
  t.ok(mirror.resync(c, Buffer.from('{}'), 8, 3), 'once the hole is filled');
  t.match(ch.sent[2], { type: MsgType.RecvData, seq: 16, data: Buffer.from('GET a\nINCR n\nlater\n') }, 'all of it in order');
  t.notOk(mirror.resync(c, Buffer.from('{}'), 8, 3), 'already protected');
  mirror.unprotect('test');
  const again = new Mirror({ channel: new RecordingChannel(), bytesPerConnection: 1 << 20, wake: () => {} });
  t.equal(c.ackLimit, undefined, 'the lost backup\'s gates opened');
  t.ok(again.resync(c, Buffer.from('{}'), 8, 3), 'the next backup takes it on');
});
