// The mirror with output replay (primary/replication/mirror.ts): the app's bytes leave
// without being replicated, within the window past the confirmed snd_una; the backup's
// send stream jumps with snd_una; a checkpoint waits for the client's ACK of its output
// (or ships it when input is held up behind it); our FIN replicates what the client may
// lack and leaves only once the backup holds it. No root, no sockets: the engine in
// memory, a channel that records, segments in and out.
import t from 'tap';
import { ACK, FIN, PSH, SYN } from '../../shared/tcp/segment.js';
import { Mirror } from '../../primary/replication/mirror.js';
import { MsgType, type Message } from '../../shared/replication/messages.js';
import { RecordingChannel } from '../helpers/recording-channel.js';
import { ReplicaStore } from '../../backup-daemon/store.js';
import { memoryServer, settle } from '../helpers/memory-server.js';

const WINDOW = 4000;

/** A replayed connection through its handshake, every message so far confirmed and
 *  applied to a store. */
async function established(bound = 1 << 20) {
  const { stack, input, connection } = memoryServer({ random: () => 0.25, mss: 1000 });
  const ch = new RecordingChannel();
  const mirror = new Mirror({ channel: ch, bytesPerConnection: bound, wake: () => {}, replays: () => true, replayWindow: WINDOW });
  stack.observer = mirror;
  const store = new ReplicaStore({ bytesPerConnection: bound });
  let applied = 0;
  /** The backup applies and confirms everything sent so far. */
  const confirm = async () => {
    for (; applied < ch.sent.length; applied++) {
      const err = store.apply(ch.sent[applied]!);
      if (err) throw new Error(`store refused ${MsgType[ch.sent[applied]!.type]}: ${err.reason}`);
    }
    ch.confirm();
    await settle();
  };
  input({ seq: 7, flags: SYN }, 1);
  t.same(stack.poll(1), [], 'the SYN-ACK waits for the OPEN');
  await confirm();
  const iss = stack.poll(1).find((d) => d.seg.flags === (SYN | ACK))!.seg.seq;
  input({ seq: 8, ack: (iss + 1) >>> 0 }, 2);
  await settle();
  await confirm();
  const c = connection();
  t.equal(c.state, 'ESTABLISHED');
  const since = (from: number): Message[] => ch.sent.slice(from);
  return { stack, ch, store, c, iss, input, confirm, since };
}

t.test('written bytes leave at once and are not replicated', async (t) => {
  const { stack, ch, c, iss, since } = await established();
  const before = ch.sent.length;
  c.send(Buffer.alloc(3000, 1));
  const out = stack.poll(3);
  t.equal(out.reduce((n, d) => n + d.seg.payload.length, 0), 3000, 'all 3,000 bytes on the wire, unconfirmed');
  t.equal(out[0]!.seg.seq, (iss + 1) >>> 0, 'from the first byte');
  await settle();
  t.notOk(since(before).some((m) => m.type === MsgType.SendData), 'no SEND DATA');
});

t.test('output stops at the window past the confirmed snd_una, and goes on as it moves', async (t) => {
  const { stack, c, iss, input, confirm } = await established();
  c.send(Buffer.alloc(9000, 1));
  const first = stack.poll(3).reduce((n, d) => n + d.seg.payload.length, 0);
  // Whole segments only (sender-side silly window avoidance): up to the window.
  t.ok(first <= WINDOW && first > WINDOW - c.effMss, `${first} bytes: up to the ${WINDOW}-byte window past snd_una`);
  // The client acknowledges 3,000 bytes (three quarters of the window: an UPDATE goes).
  input({ seq: 8, ack: (iss + 1 + 3000) >>> 0 }, 4);
  await settle();
  await confirm();
  const next = stack.poll(5).reduce((n, d) => n + d.seg.payload.length, 0);
  const sent = first + next;
  t.ok(sent <= 3000 + WINDOW && sent > 3000 + WINDOW - c.effMss, `${sent} bytes in all: the confirmed snd_una moved the window by 3,000`);
});

t.test('the backup\'s send stream jumps to each replicated snd_una', async (t) => {
  const { stack, store, c, iss, input, confirm } = await established();
  c.send(Buffer.alloc(3000, 1));
  stack.poll(3);
  input({ seq: 8, ack: (iss + 1 + 3000) >>> 0 }, 4);
  await settle();
  await confirm();
  const r = [...store.replicas.values()][0]!;
  t.equal(r.snd.basePos, 3000, 'the store\'s send stream starts at snd_una');
  t.equal(r.snd.bytes, 0, 'holding nothing');
});

t.test('a checkpoint waits for the client to acknowledge its output, then goes with none of it', async (t) => {
  const { stack, c, iss, input, since, store, confirm } = await established();
  c.send(Buffer.from('reply-one;reply-two;'));
  stack.poll(3);
  input({ seq: 8, ack: (iss + 1 + 10) >>> 0 }, 4); // the client has 'reply-one;'
  await settle();
  const before = since(0).length;
  const mirror = c.observer as Mirror;
  t.ok(mirror.checkpoint(c, Buffer.from('{"n":2}'), 0, 20), 'taken');
  await settle();
  t.same(since(before).map((m) => m.type), [MsgType.Update], 'an UPDATE (the jump to snd_una), no bytes, no checkpoint yet');
  await confirm();
  t.equal([...store.replicas.values()][0]!.checkpoint, undefined, 'a takeover now restores from the start');
  const mid = since(0).length;
  input({ seq: 8, ack: (iss + 1 + 20) >>> 0 }, 5); // and now 'reply-two;'
  await settle();
  t.same(since(mid).map((m) => m.type), [MsgType.Update, MsgType.Checkpoint], 'the UPDATE past what it produced, then the checkpoint');
  t.notOk(since(before).some((m) => m.type === MsgType.SendData), 'no output shipped');
  await confirm();
  const r = [...store.replicas.values()][0]!;
  t.equal(r.checkpoint?.produced, 20, 'the store holds the checkpoint');
  t.equal(r.snd.basePos, 20, 'and its send stream starts after what the checkpoint produced');
  t.equal(r.snd.bytes, 0);
});

t.test('a checkpoint of output the client acknowledged before it goes in the next batch', async (t) => {
  const { stack, c, iss, input, since, store, confirm } = await established();
  c.send(Buffer.alloc(500, 1));
  stack.poll(3);
  // A small ACK in the steady state: no UPDATE of its own (less than a quarter window).
  input({ seq: 8, ack: (iss + 1 + 500) >>> 0 }, 4);
  await settle();
  const before = since(0).length;
  t.ok((c.observer as Mirror).checkpoint(c, Buffer.from('{}'), 0, 500));
  await settle();
  t.same(since(before).map((m) => m.type), [MsgType.Update, MsgType.Checkpoint], 'the jump, then the checkpoint');
  await confirm();
  t.equal([...store.replicas.values()][0]!.checkpoint?.produced, 500);
});

t.test('input held up behind a waiting checkpoint: its output is shipped and it goes', async (t) => {
  // A 4,000-byte bound: received bytes may hold 2,000 of it.
  const { stack, c, iss, input, since, store, confirm } = await established(4000);
  input({ seq: 8, ack: (iss + 1) >>> 0, flags: ACK | PSH, payload: Buffer.alloc(1500, 2) }, 3);
  await settle();
  await confirm();
  c.recv();
  c.send(Buffer.from('reply'));
  stack.poll(4);
  const mirror = c.observer as Mirror;
  t.ok(mirror.checkpoint(c, Buffer.from('{}'), 1500, 5), 'taken; the client has not acknowledged the reply');
  await settle();
  t.notOk(since(0).some((m) => m.type === MsgType.Checkpoint), 'waiting');
  const before = since(0).length;
  // 1,000 more bytes: only 500 fit beside the 1,500 the checkpoint would free.
  input({ seq: 1508, ack: (iss + 1) >>> 0, flags: ACK | PSH, payload: Buffer.alloc(1000, 3) }, 5);
  await settle();
  const run = since(before);
  const types = run.map((m) => m.type);
  t.ok(types.includes(MsgType.SendData) && types.includes(MsgType.Checkpoint), 'the reply shipped, and the checkpoint');
  t.ok(types.indexOf(MsgType.SendData) < types.indexOf(MsgType.Checkpoint), 'in that order');
  t.equal(run.filter((m) => m.type === MsgType.RecvData).reduce((n, m) => n + (m as { data: Buffer }).data.length, 0), 1000, 'then all the new input');
  await confirm();
  const r = [...store.replicas.values()][0]!;
  t.equal(r.checkpoint?.produced, 5);
  t.equal(r.snd.contents().toString(), 'reply', 'the store holds the reply the client may lack');
});

t.test('our FIN waits for the backup to hold it and every byte before it', async (t) => {
  const { stack, c, iss, since, confirm } = await established();
  c.send(Buffer.from('last words'));
  stack.poll(3);
  const before = since(0).length;
  c.close();
  const run = since(before);
  t.same(run.map((m) => m.type), [MsgType.SendData, MsgType.Update], 'the unacknowledged bytes, then the FIN\'s UPDATE');
  t.match(run[0], { seq: (iss + 1) >>> 0, data: Buffer.from('last words') });
  const held = stack.poll(4);
  t.notOk(held.some((d) => d.seg.flags & FIN), 'no FIN before the confirmation');
  await confirm();
  const out = stack.poll(5);
  t.ok(out.some((d) => d.seg.flags & FIN && d.seg.seq === ((iss + 11) >>> 0)), 'the FIN once confirmed, after the last byte');
});

t.test('input is still acknowledged only once the backup holds it (rule 1)', async (t) => {
  const { stack, c, iss, input, confirm } = await established();
  input({ seq: 8, ack: (iss + 1) >>> 0, flags: ACK | PSH, payload: Buffer.from('GET a\n') }, 3);
  await settle();
  c.send(Buffer.from('1\n'));
  const out = stack.poll(4);
  const reply = out.find((d) => d.seg.payload.length > 0);
  t.ok(reply, 'the reply leaves at once');
  t.equal(reply!.seg.ack, 8, 'carrying the old ACK: the request is not confirmed yet');
  await confirm();
  t.ok(stack.poll(600).some((d) => d.seg.ack === 14), 'acknowledged once confirmed');
});

t.test('a close right after an ACK the backup has not heard of: the jump and the FIN go in separate UPDATEs, and the store takes both', async (t) => {
  const { stack, c, iss, input, since, confirm } = await established();
  c.send(Buffer.alloc(3000, 1));
  stack.poll(3);
  // The client acknowledges everything; the app closes in the same turn, before the
  // mirror's coalesced UPDATE for that ACK goes out.
  input({ seq: 8, ack: (iss + 1 + 3000) >>> 0 }, 4);
  const before = since(0).length;
  c.close();
  const run = since(before);
  t.same(run.map((m) => m.type), [MsgType.Update, MsgType.Update], 'the jump to snd_una, then the FIN');
  t.match(run[0], { state: 3 }, 'the jump claims no FIN (ESTABLISHED)');
  t.match(run[1], { state: 4 }, 'the next one does (FIN-WAIT-1)');
  await confirm(); // throws if the store refuses a message
  const out = stack.poll(5);
  t.ok(out.some((d) => d.seg.flags & FIN && d.seg.seq === ((iss + 3001) >>> 0)), 'the FIN leaves once confirmed');
});
