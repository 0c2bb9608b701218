// Bugs the failover simulation (sim-kill.test.ts) found, each pinned by a small test of
// its own so it stays fixed whatever the scenarios become:
//   1. a restored SYN-RECEIVED connection was handed to the listener on its final ACK,
//      so the takeover's adopted app and a fresh one both drove it (stack.ts);
//   2. the mirror sent the last TSval sent, 0 before the SYN-ACK, and the backup went
//      on from it without counting the time since: its TSvals went back (rule 8;
//      mirror.ts, store.ts, rebuild.ts);
//   3. a restored connection timed echoes of the old host's TSvals, counting the
//      outage as round-trip time (process.ts);
//   4. behind the replication gate the window was counted from rcv_nxt, not from the
//      ACK, so it shrank across a takeover (dispatch.ts);
//   5. received bytes could fill the backup's whole bound, while the checkpoint that
//      frees them waited for its output to find room: deadlock (mirror.ts, rule 7);
//   6. a connection rebuilt after the client's FIN never gave its socket EOF, so the
//      app never finished and the client waited for our FIN forever (takeover.ts).
import t from 'tap';
import { Ctx, CLIENT, CPORT, SERVER, SPORT, payloadOf, restoredHalfOpen, u32 } from '../tcp/harness.js';
import { TcpStack } from '../../shared/tcp/stack.js';
import { Mirror } from '../../primary/replication/mirror.js';
import { RecordingChannel } from '../helpers/recording-channel.js';
import { MsgType, type Message, type Open } from '../../shared/replication/messages.js';
import { ReplicaStore } from '../../backup-daemon/store.js';
import { rebuildSnapshot, TS_SLACK_MS } from '../../backup-daemon/rebuild.js';
import { ACK, SYN } from '../../shared/tcp/segment.js';
import { memoryLinkPair } from '../../shared/memory-link.js';
import { Runtime } from '../../primary/runtime.js';
import { prepareApp } from '../../primary/app.js';
import { echoApp } from '../../primary/apps/echo.js';
import { takeover } from '../../backup-daemon/takeover.js';
import { runOnce } from './sim/world.js';
import { SCENARIOS } from './sim/scenarios.js';

/** The recording channel, counting the bytes it replicated. */
class Capture extends RecordingChannel {
  bytes(type: MsgType.RecvData | MsgType.SendData): number {
    let n = 0;
    for (const m of this.sent) if (m.type === type) n += m.data.length;
    return n;
  }
}

t.test('1. a restored half-open connection stays with the app that adopted it', async (t) => {
  const { a, b, snap: snap, c: c } = restoredHalfOpen(t);
  let readable = 0;
  c.handler = { readable: () => void readable++, writable: () => {}, end: () => {}, closed: () => {} };
  b.at(5);
  c.kick();
  const synAck = b.drain()[0]!.seg;
  b.send({ flags: 'PA', seq: a.irs + 1, ack: a.iss + 1, ts: [51, synAck.options.ts!.val], data: 'hello' }, 6);
  b.drain();
  t.equal(c.state, 'ESTABLISHED');
  t.equal(b.accepted.length, 0, 'the listener is not handed the connection');
  t.equal(readable, 1, 'the adopting app still hears its events');
});

t.test('2. the mirror sends the timestamp clock, not the last TSval (0 before the SYN-ACK)', async (t) => {
  const ch = new Capture();
  const stack = new TcpStack({ random: () => 0.25 });
  stack.observer = new Mirror({ channel: ch, bytesPerConnection: 1 << 20, wake: () => {} });
  stack.listen(SPORT);
  stack.input({
    src: CLIENT, dst: SERVER,
    seg: { srcPort: CPORT, dstPort: SPORT, seq: 7, ack: 0, flags: SYN, window: 65535, options: { mss: 1000, ts: { val: 9, ecr: 0 } }, payload: Buffer.alloc(0) },
  }, 1234);
  const c = [...stack.connections()][0]!;
  const open = ch.sent[0] as Open;
  t.equal(open.type, MsgType.Open);
  t.equal(open.tsLast, c.tsNow(1234), 'the clock at the SYN: the SYN-ACK cannot carry less');
  ch.confirm();
  const synAck = stack.poll(1234).find((d) => d.seg.flags === (SYN | ACK))!;
  t.ok(u32(synAck.seg.options.ts!.val - open.tsLast) < 2 ** 31, 'SYN-ACK TSval >= OPEN tsLast');
});

t.test('2. the rebuilt TSval counts the time since the last reading arrived, plus slack', async (t) => {
  let now = 50;
  const store = new ReplicaStore({ bytesPerConnection: 1 << 20, clock: () => now });
  const open: Open = {
    type: MsgType.Open, conn: 1, localAddr: SERVER, localPort: SPORT, remoteAddr: CLIENT, remotePort: CPORT,
    iss: 1000, irs: 2000, mss: 1460, sndWndShift: 7, rcvWndShift: 7, sackOk: true, tsOk: true,
    tsRecent: 5, tsLast: 0xfffffff0, sndWnd: 65535, replayWindow: 0,
  };
  t.equal(store.apply(open), undefined);
  const r = store.replicas.get(1)!;
  now = 350;
  t.equal(rebuildSnapshot(r, { rcvMss: 1460, rcvBuf: 65536, now }).tsLastSent, u32(0xfffffff0 + 300 + TS_SLACK_MS), 'wraps too');
  now = 400;
  t.equal(store.apply({
    type: MsgType.Update, conn: 1, state: 3, sndUna: 1001, sndWnd: 65535, tsRecent: 6, tsLast: 500, finSeq: 0, finReceived: false,
  }), undefined);
  t.equal(rebuildSnapshot(r, { rcvMss: 1460, rcvBuf: 65536, now: 1000 }).tsLastSent, 500 + 600 + TS_SLACK_MS);
  const plain = new ReplicaStore({ bytesPerConnection: 1 << 20, clock: () => 0 });
  plain.apply({ ...open, tsOk: false, tsLast: 500 });
  t.equal(rebuildSnapshot(plain.replicas.get(1)!, { rcvMss: 1460, rcvBuf: 65536, now: 1000 }).tsLastSent, 500,
    'without timestamps nothing is added');
});

t.test('3. a restored connection takes no RTT sample from an echo of the old host', async (t) => {
  const a = new Ctx(t);
  const c = a.established({ mss: 1000, ts: true, tsStart: 100, rtt: 20, at: 1000 });
  c.send(payloadOf(3000));
  a.drain();
  const snap = c.snapshot();
  const oldTs = snap.tsLastSent;
  // As rebuild does: the backup's TSvals start well above the primary's.
  const restored = { ...structuredClone(snap), tsLastSent: u32(oldTs + 1300) };
  const b = new Ctx(t, { noListen: true });
  const c2 = b.stack.restore(restored, 5000);
  b.at(5000);
  c2.kick();
  const kicked = b.drain();
  const srtt = c2.rtt.srtt;
  b.conn = c2;
  b.cSeq = a.cSeq;
  b.cTs = 200;
  // An ACK that left the client before it saw the backup: it echoes the primary.
  b.send({ flags: 'A', seq: a.cSeq, ack: a.iss + 1001, win: 65535, ts: [200, oldTs] }, 5010);
  t.equal(c2.rtt.srtt, srtt, 'no sample: the echo measures the outage, not the path');
  b.send({ flags: 'A', seq: a.cSeq, ack: a.iss + 2001, win: 65535, ts: [201, kicked[0]!.seg.options.ts!.val] }, 5060);
  t.not(c2.rtt.srtt, srtt, 'an echo of our own TSval is timed');
  t.ok(c2.rtt.srtt! < 100, `and short (${c2.rtt.srtt})`);
});

t.test('4. behind the gate the window edge stays within ack + rcvBuf', async (t) => {
  const ctx = new Ctx(t, { rcvBuf: 8192 });
  const c = ctx.established({ mss: 1000 });
  const held = c.rcvNxt;
  c.ackLimit = held;
  for (let i = 0; i < 3; i++) ctx.data(1000);
  while (c.recv() !== undefined);
  const out = ctx.drain();
  t.ok(out.length > 0, 'window updates and ACKs went out');
  for (const d of out) {
    t.equal(d.seg.ack, held, 'the ACK is held at the gate');
    const edge = u32(d.seg.ack + d.seg.window * 2 ** c.rcvWndShift);
    t.ok(u32(held + 8192 - edge) < 2 ** 31, `edge ${edge} <= ack + rcvBuf ${u32(held + 8192)}`);
  }
});

t.test('5. received bytes fill at most half the bound, so output always finds room', async (t) => {
  const ch = new Capture();
  const ctx = new Ctx(t);
  const mirror = new Mirror({ channel: ch, bytesPerConnection: 2000, wake: () => {} });
  ctx.stack.observer = mirror;
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1000 });
  ch.confirm(); // the OPEN: the SYN-ACK may go
  ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1 });
  ctx.cSeq = u32(ctx.irs + 1);
  ctx.send({ flags: 'A', seq: ctx.cSeq, ack: ctx.iss + 1 });
  const c = ctx.c;
  ctx.data(1000).data(500);
  t.equal(ch.bytes(MsgType.RecvData), 1000, 'input stops at half the bound');
  c.send(payloadOf(1500));
  t.equal(ch.bytes(MsgType.SendData), 1000, 'output takes the rest');
});

t.test('5. the back-pressure scenario completes without a kill (it deadlocked)', async (t) => {
  for (const seed of [1, 2, 3]) {
    const r = await runOnce(SCENARIOS.backPressure!, seed);
    t.same(r.failures, [], `seed ${seed}`);
  }
});

t.test('6. a connection rebuilt after the client\'s FIN gives the app EOF', async (t) => {
  const [link] = memoryLinkPair();
  const runtime = new Runtime({ link, vip: SERVER, announce: false });
  t.teardown(() => runtime.close());
  const store = new ReplicaStore({ bytesPerConnection: 1 << 20 });
  store.apply({
    type: MsgType.Open, conn: 1, localAddr: SERVER, localPort: 7, remoteAddr: CLIENT, remotePort: CPORT,
    iss: 1000, irs: 5000, mss: 1460, sndWndShift: 0, rcvWndShift: 0, sackOk: false, tsOk: false, tsRecent: 0, tsLast: 0, sndWnd: 65535, replayWindow: 0,
  });
  store.apply({ type: MsgType.RecvData, conn: 1, seq: 5001, data: Buffer.from('hello') });
  // CLOSE-WAIT with the client's FIN after "hello".
  store.apply({ type: MsgType.Update, conn: 1, state: 6, sndUna: 1001, sndWnd: 65535, tsRecent: 0, tsLast: 0, finSeq: 5006, finReceived: true });
  const res = await takeover({ store, runtime, app: prepareApp(echoApp) });
  t.teardown(() => res.served.close());
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  const c = [...runtime.stack.connections()][0]!;
  t.equal(c.bytesWritten, 5, 'echo wrote the bytes back');
  t.equal(c.state, 'LAST-ACK', 'and, at EOF, closed: our FIN follows them');
  t.equal(c.finSeq, 1006);
});
