// The rebuild hands the store's chunks to the engine as they are: the restored queues
// hold the same bytes from the same points (rule 3, rule 4's freeing), without the
// copy that gathering them into one buffer per connection cost at takeover.
import t from 'tap';
import { ReplicaStore } from '../../backup-daemon/store.js';
import { rebuildSnapshot } from '../../backup-daemon/rebuild.js';
import { MsgType, type Open } from '../../shared/replication/messages.js';
import { stateIndex } from '../../shared/replication/states.js';
import { TcpStack } from '../../shared/tcp/stack.js';

// Initial sequence numbers just below 2^32, so the streams cross the wrap.
const OPEN: Open = {
  type: MsgType.Open, conn: 1, localAddr: 0xc0000264, localPort: 80, remoteAddr: 0xc000020a, remotePort: 40000,
  iss: 0xfffffff0, irs: 0xfffffffa, mss: 1460, sndWndShift: 7, rcvWndShift: 7, sackOk: true, tsOk: true,
  tsRecent: 100, tsLast: 200, sndWnd: 65535, replayWindow: 0,
};

/** A buffer of its own (Buffer.from would carve small ones out of a shared pool, where
 *  a copy could land in the same ArrayBuffer as the original). */
function chunk(text: string): Buffer {
  const b = Buffer.alloc(text.length);
  b.write(text, 'latin1');
  return b;
}

/** Three chunks each way; the client acknowledged 4 bytes (into the first send chunk),
 *  the app's checkpoint consumed 3 (into the first receive chunk). */
function filled() {
  const s = new ReplicaStore({ bytesPerConnection: 1 << 20, clock: () => 0 });
  const recv = [chunk('GET /a\n'), chunk('GET /b\n'), chunk('GET /c\n')];
  const send = [chunk('reply-a;'), chunk('reply-b;'), chunk('reply-c;')];
  const apply = (m: Parameters<ReplicaStore['apply']>[0]) => t.equal(s.apply(m), undefined, `apply ${MsgType[m.type]}`);
  apply(OPEN);
  let seq = OPEN.irs + 1;
  for (const data of recv) {
    apply({ type: MsgType.RecvData, conn: 1, seq: seq >>> 0, data });
    seq += data.length;
  }
  seq = OPEN.iss + 1;
  for (const data of send) {
    apply({ type: MsgType.SendData, conn: 1, seq: seq >>> 0, data });
    seq += data.length;
  }
  apply({
    type: MsgType.Update, conn: 1, state: stateIndex('ESTABLISHED'), sndUna: (OPEN.iss + 1 + 4) >>> 0,
    sndWnd: 65535, tsRecent: 101, tsLast: 201, finSeq: 0, finReceived: false,
  });
  apply({ type: MsgType.Checkpoint, conn: 1, consumed: 3, produced: 0, state: Buffer.from('{}') });
  return { s, r: s.replicas.get(1)!, recv, send };
}

t.test('the rebuilt queues hold the replicated bytes from snd_una and the consumed point', async (t) => {
  const { r, recv, send } = filled();
  const stack = new TcpStack();
  const c = stack.restore(rebuildSnapshot(r, { rcvMss: 1460, rcvBuf: 65535, now: 0 }), 0);
  t.equal(c.sndUna, (OPEN.iss + 1 + 4) >>> 0);
  t.equal(c.sndMax, (OPEN.iss + 1 + 24) >>> 0, 'snd_max = end of the replicated send data');
  t.equal(c.rcvNxt, (OPEN.irs + 1 + 21) >>> 0, 'rcv_nxt = end of the replicated receive data');
  t.equal(c.sendQueue.toBuffer().toString(), Buffer.concat(send).subarray(4).toString());
  t.equal(c.recvQueued(), 18);
  t.equal(c.recv()!.toString(), Buffer.concat(recv).subarray(3).toString());
  t.equal(c.bytesConsumed, 21, 'stream positions continue from the checkpoint');
});

t.test('the rebuilt queues share the store\'s buffers: nothing is copied at rebuild', async (t) => {
  const { r, recv, send } = filled();
  const stack = new TcpStack();
  const c = stack.restore(rebuildSnapshot(r, { rcvMss: 1460, rcvBuf: 65535, now: 0 }), 0);
  // The first send chunk less the 4 acknowledged bytes, read in place.
  const head = c.sendQueue.read(0, 4);
  t.equal(head.toString(), 'y-a;');
  t.equal(head.buffer, send[0]!.buffer, 'send bytes are the SendData message\'s buffer');
  t.equal(head.byteOffset, send[0]!.byteOffset + 4);
  const last = c.sendQueue.read(12, 8);
  t.equal(last.buffer, send[2]!.buffer, 'each chunk stays a chunk');
  t.equal(last.toString(), 'reply-c;');
  const first = c.recv(4)!;
  t.equal(first.toString(), ' /a\n');
  t.equal(first.buffer, recv[0]!.buffer, 'receive bytes are the RecvData message\'s buffer');
});

t.test('a snapshot with chunked queues survives a structured clone', async (t) => {
  const { r, recv, send } = filled();
  const snap = rebuildSnapshot(r, { rcvMss: 1460, rcvBuf: 65535, now: 0 });
  t.ok(Array.isArray(snap.sendQueue) && Array.isArray(snap.recvQueue), 'the rebuild hands over chunk lists');
  const c = new TcpStack().restore(structuredClone(snap), 0);
  t.equal(c.sendQueue.toBuffer().toString(), Buffer.concat(send).subarray(4).toString());
  t.equal(c.recv()!.toString(), Buffer.concat(recv).subarray(3).toString());
});

t.test('an empty replica rebuilds with empty queues', async (t) => {
  const s = new ReplicaStore({ bytesPerConnection: 1 << 20, clock: () => 0 });
  t.equal(s.apply(OPEN), undefined);
  const c = new TcpStack().restore(rebuildSnapshot(s.replicas.get(1)!, { rcvMss: 1460, rcvBuf: 65535, now: 0 }), 0);
  t.equal(c.state, 'SYN-RECEIVED');
  t.equal(c.sendQueued(), 0);
  t.equal(c.recvQueued(), 0);
});

t.test('output replay: the rebuilt engine may hear ACKs up to the window past snd_una', async (t) => {
  const s = new ReplicaStore({ bytesPerConnection: 1 << 20, clock: () => 0 });
  t.equal(s.apply({ ...OPEN, replayWindow: 8192 }), undefined);
  const una = (OPEN.iss + 1 + 5000) >>> 0;
  t.equal(s.apply({ type: MsgType.Update, conn: 1, state: stateIndex('ESTABLISHED'), sndUna: una, sndWnd: 65535, tsRecent: 101, tsLast: 201, finSeq: 0, finReceived: false }), undefined);
  const snap = rebuildSnapshot(s.replicas.get(1)!, { rcvMss: 1460, rcvBuf: 65535, now: 0 });
  t.equal(snap.sndUna, una, 'snd_una from the update');
  t.equal(snap.sndMax, una, 'snd_max there too: the store holds nothing past it');
  t.equal(snap.bytesWritten, 5000, 'the stream position of snd_una');
  t.equal(snap.replayAckLimit, (una + 8192) >>> 0, 'the window past snd_una');
  const strict = new ReplicaStore({ bytesPerConnection: 1 << 20, clock: () => 0 });
  strict.apply(OPEN);
  t.equal(rebuildSnapshot(strict.replicas.get(1)!, { rcvMss: 1460, rcvBuf: 65535, now: 0 }).replayAckLimit, undefined, 'strict: none');
});

