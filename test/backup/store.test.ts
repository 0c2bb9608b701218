import t from 'tap';
import fc from 'fast-check';
import { ReplicaStore, ReplicaError, RingPool, StreamBuffer, RING_FROM_BYTES } from '../../backup-daemon/store.js';
import { MsgType, type Open, type Resync } from '../../shared/replication/messages.js';
import { TcpStack } from '../../shared/tcp/stack.js';
import { rebuildConnections } from '../../backup-daemon/takeover.js';

// Initial sequence numbers just below 2^32, so every test crosses the wrap.
const open = (conn = 1): Open => ({
  type: MsgType.Open, conn, localAddr: 0xc0000264, localPort: 80, remoteAddr: 0xc000020a, remotePort: 40000,
  iss: 0xfffffff0, irs: 0xfffffffa, mss: 1460, sndWndShift: 7, rcvWndShift: 7, sackOk: true, tsOk: true,
  tsRecent: 100, tsLast: 200, sndWnd: 65535, replayWindow: 0,
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

// ---- bulk streams: rings from the store's pool ----

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

t.test('a stream stays as its chunks (views) below RING_FROM_BYTES', async (t) => {
  const s = new StreamBuffer(new RingPool());
  const d = bytes(RING_FROM_BYTES - 1, 1);
  s.append(d);
  t.equal(s.ringBytes, 0, 'no ring');
  t.equal(s.heldChunks()[0], d, 'the chunk itself, not a copy');
});

t.test('past RING_FROM_BYTES the bytes move into a ring of at most twice what is held', async (t) => {
  const pool = new RingPool();
  const s = new StreamBuffer(pool);
  const a = bytes(40_000, 1);
  const b = bytes(40_000, 2);
  s.append(a);
  s.append(b);
  t.equal(s.ringBytes, 128 * 1024);
  t.ok(s.ringBytes <= 2 * s.bytes);
  t.same(s.contents(), Buffer.concat([a, b]));
  b.fill(0);
  t.same(s.contents().subarray(40_000), bytes(40_000, 2), 'a copy: the buffer the bytes arrived in may go');
});

t.test('a ring wraps: held bytes come out as two views, in order', async (t) => {
  const s = new StreamBuffer(new RingPool());
  s.append(bytes(100_000, 1));
  s.freeTo(90_000);
  const tail = bytes(60_000, 2);
  s.append(tail);
  t.equal(s.ringBytes, 128 * 1024, 'no growth: room after the head');
  const views = s.heldChunks();
  t.equal(views.length, 2, 'wrapped');
  t.same(Buffer.concat(views as Buffer[]), Buffer.concat([bytes(100_000, 1).subarray(90_000), tail]));
  t.equal(s.basePos, 90_000);
  t.equal(s.endPos, 160_000);
});

t.test('a drained ring goes back to the pool and the next bulk stream reuses it', async (t) => {
  const pool = new RingPool();
  const one = new StreamBuffer(pool);
  one.append(bytes(100_000, 1));
  t.equal(pool.pooledBytes, 0);
  one.freeTo(100_000);
  t.equal(one.ringBytes, 0, 'drained: back to chunks');
  t.equal(pool.pooledBytes, 128 * 1024, 'the ring is pooled');
  const two = new StreamBuffer(pool);
  two.append(bytes(70_000, 2));
  t.equal(pool.pooledBytes, 0, 'taken again, not allocated');
  t.same(two.contents(), bytes(70_000, 2));
});

t.test('the pool keeps at most its bound; the rest is left to the GC', async (t) => {
  const pool = new RingPool(200 * 1024);
  const streams = [new StreamBuffer(pool), new StreamBuffer(pool)];
  for (const s of streams) s.append(bytes(100_000, 1));
  for (const s of streams) s.freeTo(100_000);
  t.equal(pool.pooledBytes, 128 * 1024, 'one ring kept, the second would pass the bound');
});

t.test('a closed connection gives its rings back', async (t) => {
  const s = store(4 << 20);
  s.apply(open());
  s.apply({ type: MsgType.SendData, conn: 1, seq: 0xfffffff1, data: bytes(200_000, 3) });
  t.equal(s.replicas.get(1)!.snd.ringBytes, 256 * 1024);
  t.equal(s.apply({ type: MsgType.Close, conn: 1 }), undefined);
  t.equal(s.pool.pooledBytes, 256 * 1024);
});

t.test('any sequence of appends and frees holds exactly the bytes a plain list would', async (t) => {
  // Sizes around the switch point and the ring sizes, so switches, wraps and growth mix.
  const step = fc.oneof(
    fc.record({ op: fc.constant('append' as const), n: fc.oneof(fc.integer({ min: 1, max: 2_000 }), fc.integer({ min: 30_000, max: 200_000 })) }),
    fc.record({ op: fc.constant('free' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
  );
  fc.assert(fc.property(fc.array(step, { maxLength: 24 }), (steps) => {
    const pool = new RingPool();
    const s = new StreamBuffer(pool);
    let model = Buffer.alloc(0);
    let base = 0;
    let seed = 0;
    for (const st of steps) {
      if (st.op === 'append') {
        const d = bytes(st.n, seed++);
        s.append(d);
        model = Buffer.concat([model, d]);
      } else {
        const drop = Math.floor(model.length * st.frac);
        base += drop;
        s.freeTo(base);
        model = model.subarray(drop);
      }
      if (s.basePos !== base || s.bytes !== model.length) return false;
      if (!s.contents().equals(model)) return false;
      if (s.bytes === 0 && s.ringBytes !== 0) return false; // drained: the ring went back
    }
    return true;
  }), { seed: 4, numRuns: 100 });
  t.pass('100 random sequences');
});

// ---- resynchronisation: a replica opened mid-stream ----

const resync = (conn = 2, rcvBase = 5000, sndBase = 70000): Resync => ({ ...open(conn), remotePort: 40001, type: MsgType.Resync, rcvBase, sndBase });

t.test('a RESYNC opens a replica whose streams start at the given positions', async (t) => {
  const s = store();
  t.equal(s.apply(resync()), undefined);
  const r = s.replicas.get(2)!;
  t.equal(r.rcv.basePos, 5000);
  t.equal(r.snd.basePos, 70000);
  t.ok(r.resyncing, 'incomplete until its checkpoint');
  t.equal(s.apply({ type: MsgType.RecvData, conn: 2, seq: r.rcvSeq(4999), data: b('x') })?.reason, 'recv-not-contiguous', 'receive data before the base');
  t.equal(s.apply({ type: MsgType.RecvData, conn: 2, seq: r.rcvSeq(5000), data: b('GET a\n') }), undefined);
  t.equal(s.apply({ type: MsgType.SendData, conn: 2, seq: r.sndSeq(70001), data: b('x') })?.reason, 'send-not-contiguous', 'send data past the base');
  t.equal(s.apply({ type: MsgType.SendData, conn: 2, seq: r.sndSeq(70000), data: b('OK\n') }), undefined);
  t.equal(r.rcvNxt, r.rcvSeq(5006));
  t.equal(r.sndMax, r.sndSeq(70003));
  t.equal(s.apply({ type: MsgType.Checkpoint, conn: 2, consumed: 4999, produced: 70003, state: b('{}') })?.reason, 'checkpoint-consumed-out-of-range', 'a checkpoint below the base');
  t.ok(r.resyncing, 'a refused checkpoint does not complete it');
  t.equal(s.apply({ type: MsgType.Checkpoint, conn: 2, consumed: 5000, produced: 69990, state: b('{"n":1}') }), undefined);
  t.notOk(r.resyncing, 'complete');
  t.equal(r.rcv.contents().toString(), 'GET a\n', 'input after the consumed point stays');
});

t.test('a RESYNC for a connection the store has is a duplicate', async (t) => {
  const s = store();
  s.apply(open(2));
  t.equal(s.apply(resync(2))?.reason, 'duplicate-open');
});

t.test('a takeover leaves out a replica whose resynchronisation is incomplete', async (t) => {
  const s = store();
  s.apply(open(1));
  s.apply({ type: MsgType.Update, conn: 1, state: 2, sndUna: 0xfffffff1, sndWnd: 1000, tsRecent: 1, tsLast: 2, finSeq: 0, finReceived: false });
  s.apply(resync(2));
  s.apply({ type: MsgType.Update, conn: 2, state: 2, sndUna: s.replicas.get(2)!.sndSeq(70000), sndWnd: 1000, tsRecent: 1, tsLast: 2, finSeq: 0, finReceived: false });
  const stack = new TcpStack({});
  const first = rebuildConnections(s, stack, 0);
  t.equal(first.rebuilt.length, 1, 'only the connection that was protected all along');
  t.equal(first.incomplete, 1);
  t.equal(first.rebuilt[0]!.r.open.conn, 1);
  s.apply({ type: MsgType.Checkpoint, conn: 2, consumed: 5000, produced: 70000, state: b('{}') });
  const second = rebuildConnections(s, new TcpStack({}), 0);
  t.equal(second.rebuilt.length, 2, 'both, once the checkpoint completed it');
  t.equal(second.incomplete, 0);
  const c = second.rebuilt.find((x) => x.r.open.conn === 2)!.c;
  t.equal(c.bytesConsumed, 5000, 'the rebuilt connection resumes reading at the base');
  t.equal(c.bytesWritten, 70000);
});

// Output replay (OPEN's replayWindow > 0): the client acknowledges bytes the primary
// sent without replicating them.
const update = (sndUna: number, state = 3) =>
  ({ type: MsgType.Update, conn: 1, state, sndUna, sndWnd: 1000, tsRecent: 1, tsLast: 2, finSeq: 0, finReceived: false }) as const;

t.test('replay: snd_una past the replicated data moves the send stream on to it', async (t) => {
  const s = store();
  s.apply({ ...open(), replayWindow: 8192 });
  s.apply({ type: MsgType.SendData, conn: 1, seq: 0xfffffff1, data: b('0123') });
  t.equal(s.apply(update(0xfffffff1 + 1000)), undefined, 'accepted');
  const r = s.replicas.get(1)!;
  t.equal(r.snd.basePos, 1000, 'the stream starts at snd_una');
  t.equal(r.snd.bytes, 0, 'nothing held: the client has it all');
  t.equal(r.sndMax, (0xfffffff1 + 1000) >>> 0, 'a rebuild would send from there');
  t.equal(s.apply({ type: MsgType.SendData, conn: 1, seq: (0xfffffff1 + 1000) >>> 0, data: b('next') }), undefined, 'the next bytes follow on from it');
  t.equal(s.apply({ type: MsgType.Checkpoint, conn: 1, consumed: 0, produced: 1004, state: b('{}') }), undefined, 'a checkpoint that produced up to there is accepted');
});

t.test('replay: never past a replicated FIN, nor in strict mode', async (t) => {
  const s = store();
  s.apply({ ...open(), replayWindow: 8192 });
  s.apply({ type: MsgType.SendData, conn: 1, seq: 0xfffffff1, data: b('ab') });
  const fin = s.apply(update(0xfffffff1 + 100, 4)); // FIN-WAIT-1: our FIN follows the held bytes
  t.equal(fin?.reason, 'snd-una-beyond-replicated', 'our FIN is replicated with all before it');
  const strict = store();
  strict.apply(open());
  t.equal(strict.apply(update(0xfffffff1 + 100))?.reason, 'snd-una-beyond-replicated', 'strict: refused as before');
});

t.test('replay: a jump only while established, and at most the replay window at a time', async (t) => {
  const s = store();
  s.apply({ ...open(), replayWindow: 1000 });
  t.equal(s.apply(update(0xfffffff1 + 1001))?.reason, 'snd-una-beyond-replicated', 'past the window: refused');
  const t2 = store();
  t2.apply({ ...open(), replayWindow: 1000 });
  t.equal(t2.apply(update(0xfffffff1 + 1000, 1))?.reason, 'snd-una-beyond-replicated', 'SYN-RECEIVED: refused');
  t.equal(t2.apply(update(0xfffffff1 + 1000, 6)), undefined, 'CLOSE-WAIT: taken');
});
