import t from 'tap';
import { ReplicaStore, ReplicaError } from '../../backup-daemon/store.js';
import { MsgType, type Open } from '../../shared/replication/messages.js';

// Initial sequence numbers just below 2^32, so every test crosses the wrap.
const open = (conn = 1): Open => ({
  type: MsgType.Open, conn, localAddr: 0xc0000264, localPort: 80, remoteAddr: 0xc000020a, remotePort: 40000,
  iss: 0xfffffff0, irs: 0xfffffffa, mss: 1460, sndWndShift: 7, rcvWndShift: 7, sackOk: true, tsOk: true,
  tsRecent: 100, tsLast: 200, sndWnd: 65535,
});
const store = (bound = 1 << 20) => new ReplicaStore({ bytesPerConnection: bound });
const b = (s: string) => Buffer.from(s);

t.test('receive data must be contiguous from irs+1', async (t) => {
  const s = store();
  t.equal(s.apply(open()), undefined);
  t.equal(s.apply({ type: MsgType.RecvData, conn: 1, seq: 0xfffffffb, data: b('hello') }), undefined);
  t.equal(s.apply({ type: MsgType.RecvData, conn: 1, seq: 0, data: b(' world') }), undefined, 'wraps past 2^32');
  const r = s.replicas.get(1)!;
  t.equal(r.rcvNxt, 6);
  t.equal(r.rcv.contents().toString(), 'hello world');
  const gap = s.apply({ type: MsgType.RecvData, conn: 1, seq: 10, data: b('x') });
  t.ok(gap instanceof ReplicaError);
  t.equal(gap?.reason, 'recv-not-contiguous');
});

t.test('send data is freed below snd_una, never above', async (t) => {
  const s = store();
  s.apply(open());
  s.apply({ type: MsgType.SendData, conn: 1, seq: 0xfffffff1, data: b('0123456789abcdef') });
  const r = s.replicas.get(1)!;
  t.equal(r.sndMax, 1);
  t.equal(s.apply({ type: MsgType.Update, conn: 1, state: 2, sndUna: 0xfffffff5, sndWnd: 1000, tsRecent: 1, tsLast: 2, finSeq: 0, finReceived: false }), undefined);
  t.equal(r.snd.contents().toString(), '456789abcdef');
  t.equal(r.sndMax, 1, 'snd_max unchanged');
  const beyond = s.apply({ type: MsgType.Update, conn: 1, state: 2, sndUna: 5, sndWnd: 1000, tsRecent: 1, tsLast: 2, finSeq: 0, finReceived: false });
  t.equal(beyond?.reason, 'snd-una-beyond-replicated');
});

t.test('snd_una may pass the data by one for our FIN', async (t) => {
  const s = store();
  s.apply(open());
  s.apply({ type: MsgType.SendData, conn: 1, seq: 0xfffffff1, data: b('ab') });
  t.equal(s.apply({ type: MsgType.Update, conn: 1, state: 8, sndUna: 0xfffffff4, sndWnd: 0, tsRecent: 1, tsLast: 2, finSeq: 0, finReceived: false }), undefined);
  t.equal(s.replicas.get(1)!.snd.bytes, 0);
});

t.test('a checkpoint frees receive data it consumed and nothing else', async (t) => {
  const s = store();
  s.apply(open());
  s.apply({ type: MsgType.RecvData, conn: 1, seq: 0xfffffffb, data: b('SET a 1\nGET a\n') });
  t.equal(s.apply({ type: MsgType.Checkpoint, conn: 1, consumed: 8, produced: 0, state: b('{"a":"1"}') }), undefined);
  const r = s.replicas.get(1)!;
  t.equal(r.rcv.contents().toString(), 'GET a\n');
  t.equal(r.rcv.basePos, 8);
  t.equal(s.apply({ type: MsgType.Checkpoint, conn: 1, consumed: 20, produced: 0, state: b('') })?.reason, 'checkpoint-consumed-out-of-range');
  t.equal(s.apply({ type: MsgType.Checkpoint, conn: 1, consumed: 8, produced: 1, state: b('') })?.reason, 'checkpoint-produced-beyond-replicated');
});

t.test('a checkpoint cannot go backwards', async (t) => {
  const s = store();
  s.apply(open());
  s.apply({ type: MsgType.RecvData, conn: 1, seq: 0xfffffffb, data: b('abcd') });
  s.apply({ type: MsgType.Checkpoint, conn: 1, consumed: 3, produced: 0, state: b('') });
  t.equal(s.apply({ type: MsgType.Checkpoint, conn: 1, consumed: 3, produced: 0, state: b('') }), undefined, 'same point is fine');
  // consumed 2 is below the freed base: refused as out of range.
  t.equal(s.apply({ type: MsgType.Checkpoint, conn: 1, consumed: 2, produced: 0, state: b('') })?.reason, 'checkpoint-consumed-out-of-range');
});

t.test('the bound per connection is enforced (rule 7)', async (t) => {
  const s = store(10);
  s.apply(open());
  t.equal(s.apply({ type: MsgType.RecvData, conn: 1, seq: 0xfffffffb, data: Buffer.alloc(6) }), undefined);
  t.equal(s.apply({ type: MsgType.SendData, conn: 1, seq: 0xfffffff1, data: Buffer.alloc(5) })?.reason, 'over-bound');
});

t.test('a replicated FIN counts in rcv_nxt only at the end of the data', async (t) => {
  const s = store();
  s.apply(open());
  s.apply({ type: MsgType.RecvData, conn: 1, seq: 0xfffffffb, data: b('bye') });
  s.apply({ type: MsgType.Update, conn: 1, state: 5, sndUna: 0xfffffff1, sndWnd: 1, tsRecent: 1, tsLast: 2, finSeq: 0xfffffffe, finReceived: true });
  t.equal(s.replicas.get(1)!.rcvNxt, 0xffffffff);
});

t.test('messages for unknown or duplicate connections end the session', async (t) => {
  const s = store();
  t.equal(s.apply({ type: MsgType.Close, conn: 9 })?.reason, 'unknown-connection');
  s.apply(open(3));
  t.equal(s.apply(open(3))?.reason, 'duplicate-open');
  t.equal(s.apply({ type: MsgType.Confirm, upTo: 1 })?.reason, `unexpected-message:${MsgType.Confirm}`);
});

t.test('applied counts only accepted messages', async (t) => {
  const s = store();
  s.apply(open(1));
  s.apply({ type: MsgType.Close, conn: 1 });
  s.apply({ type: MsgType.Close, conn: 1 });
  t.equal(s.applied, 2);
  t.equal(s.replicas.size, 0);
});
