// The takeover's rebuild, compiled before it is needed. A backup daemon takes over once
// in its life, so without this V8 meets the rebuild code (replica -> snapshot ->
// restored connection) cold in the middle of the takeover: measured with
// scenarios/bench-rebuild.ts, 1,000 connections take ~11 ms in a fresh process with no
// garbage collection in the step, and 3.3 ms in a warm one; issue 4 allows 15 ms.
//
// So the daemon runs the same functions on made-up replicas (syntheticStore) into a
// scratch stack that is then dropped: nothing of it touches the real store, runtime or
// app. The app's restore hook is not warmed: it belongs to the app, and calling it on
// made-up connections could change the app's state.
//
// It runs in slices of SLICE connections, one per event-loop turn, so the backup never
// stops reading the replication link for more than a fraction of a millisecond, and it
// repeats every REWARM_MS: V8 drops the compiled code of functions that have not run for
// a while (bytecode flushing, after a few major collections), and a backup may wait
// hours for its takeover.
import { MsgType, type Message } from '../shared/replication/messages.js';
import { stateIndex } from '../shared/replication/states.js';
import { TcpStack, type StackOptions } from '../shared/tcp/stack.js';
import { ReplicaStore } from './store.js';
import { hold, rebuildConnections } from './takeover.js';

/** Connections per warm-up round, and rounds: enough invocations for V8's optimizing
 *  tier (one round of 300 left the lab's rebuild of 1,000 as slow as without). */
export const WARMUP_CONNECTIONS = 1000;
export const WARMUP_ROUNDS = 3;
export const SLICE = 50;
export const REWARM_MS = 30_000;
/** Bytes per made-up data message in the warm-up (syntheticMessages). */
const WARMUP_SEGMENT = 16;

const SEGMENT = 1448;
const SYNTHETIC_VIP = 0xc0000264; // 192.0.2.100 (TEST-NET-1: never a real peer)
const SYNTHETIC_CLIENTS = 0xc000020a; // 192.0.2.10, .11, ... (one per 50,000)

/** What a store holds of one connection, as a primary's mirror sends it:
 *   mixed  OPEN, 1 KB received and 10 KB sent in segment-sized messages, an UPDATE
 *          (established, nothing acknowledged), a CHECKPOINT that consumed half the input;
 *   lab    "hold 10000\n" and 10 KB received, never checkpointed, the 5-byte reply
 *          acknowledged (what `intact scenario takeover-vs-connections` leaves).
 *  Every message's data is a copy of its own (Buffer.from), as the codec decodes it. */
export type SyntheticShape = 'mixed' | 'lab';

/** `segment` is the bytes per data message (a full segment by default). The warm-up
 *  passes a few bytes: the rebuild's work is per message (chunk), not per byte, and a
 *  round then allocates under a megabyte instead of ~33 MB for the collector. */
export function syntheticMessages(conn: number, shape: SyntheticShape, port: number, segment = SEGMENT): Message[] {
  const remoteAddr = SYNTHETIC_CLIENTS + Math.floor(conn / 50_000);
  const remotePort = 10_000 + (conn % 50_000);
  // Sequence numbers spread over the space, some crossing the wrap.
  const iss = (0xfffff000 + conn * 2_654_435_761) >>> 0;
  const irs = (0x7ffff000 + conn * 40_503) >>> 0;
  const out: Message[] = [{
    type: MsgType.Open, conn, localAddr: SYNTHETIC_VIP, localPort: port, remoteAddr, remotePort, iss, irs, mss: 1460,
    sndWndShift: 7, rcvWndShift: 7, sackOk: true, tsOk: true, tsRecent: 1_000_000 + conn, tsLast: 2_000_000 + conn, sndWnd: 64_240, replayWindow: 0,
  }];
  // Sizes in full segments' proportion: as many messages whatever `segment` is.
  const scaled = (bytes: number) => Math.round((bytes * segment) / SEGMENT);
  const head = Buffer.from('hold 10000\n');
  const recv = shape === 'lab' ? Buffer.concat([head, Buffer.alloc(Math.max(0, scaled(head.length + 10_000) - head.length), 0x61)]) : Buffer.alloc(scaled(1000), 0x62);
  const send = shape === 'lab' ? Buffer.from('held\n') : Buffer.alloc(scaled(10_000), 0x63);
  /** `bytes` as data messages of `segment` bytes from sequence number `first`; returns
   *  the bytes sent (the stream position after them). */
  const dataMessages = (type: MsgType.RecvData | MsgType.SendData, first: number, bytes: Buffer): number => {
    for (let o = 0; o < bytes.length; o += segment) {
      out.push({ type, conn, seq: (first + o) >>> 0, data: Buffer.from(bytes.subarray(o, o + segment)) });
    }
    return bytes.length;
  };
  const rcvPos = dataMessages(MsgType.RecvData, irs + 1, recv);
  const sndPos = dataMessages(MsgType.SendData, iss + 1, send);
  out.push({
    type: MsgType.Update, conn, state: stateIndex('ESTABLISHED'),
    // lab: the client acknowledged "held\n" (it read it); mixed: nothing acknowledged.
    sndUna: (iss + 1 + (shape === 'lab' ? sndPos : 0)) >>> 0,
    sndWnd: (64_240 << 7) >>> 0, tsRecent: 1_000_100 + conn, tsLast: 2_000_100 + conn, finSeq: 0, finReceived: false,
  });
  if (shape === 'mixed') {
    const state = Buffer.from(JSON.stringify({ data: { k: String(conn) }, partial: '' }));
    out.push({ type: MsgType.Checkpoint, conn, consumed: rcvPos >> 1, produced: 0, state });
  }
  return out;
}

/** A store holding connections `first`..`first + n - 1`, each of `shape`. Throws if the
 *  store refuses a message: the generator is wrong. */
export function syntheticStore(n: number, shape: SyntheticShape, port: number, o: { first?: number; bytesPerConnection?: number; segment?: number } = {}): ReplicaStore {
  const store = new ReplicaStore({ bytesPerConnection: o.bytesPerConnection ?? 1 << 20 });
  const first = o.first ?? 1;
  for (let conn = first; conn < first + n; conn++) {
    for (const m of syntheticMessages(conn, shape, port, o.segment)) {
      const err = store.apply(m);
      if (err) throw new Error(`synthetic connection ${conn}: the store refused a message: ${err.reason}`);
    }
  }
  return store;
}

/** One slice of the warm-up: `n` synthetic connections of `shape`, numbered from
 *  `first`, rebuilt (rebuildConnections, hold) into `stack`. Returns how many. */
export function warmSlice(stack: TcpStack, n: number, first: number, shape: SyntheticShape): number {
  const store = syntheticStore(n, shape, 1, { first, segment: WARMUP_SEGMENT });
  const { rebuilt, failed } = rebuildConnections(store, stack, performance.now());
  if (failed > 0) throw new Error(`warm-up: ${failed} synthetic connections could not be rebuilt`);
  for (const { c } of rebuilt) hold(c);
  return rebuilt.length;
}

export interface WarmupResult {
  connections: number;
  /** CPU-bound time of the slices together, and wall time from start to end. */
  busyMs: number;
  wallMs: number;
}

/** The warm-up: `rounds` rounds of `connections` synthetic connections, in slices, one
 *  per turn (setImmediate), each round into a fresh scratch stack configured like the
 *  real one. `cancelled()` is asked before each slice (a takeover has begun: stop). */
export async function warmUpTakeover(
  stackOptions: StackOptions,
  o: { connections?: number; rounds?: number; slice?: number; cancelled?: () => boolean } = {},
): Promise<WarmupResult> {
  const perRound = o.connections ?? WARMUP_CONNECTIONS;
  const slice = o.slice ?? SLICE;
  const t0 = performance.now();
  let busy = 0;
  let done = 0;
  for (let round = 0; round < (o.rounds ?? WARMUP_ROUNDS); round++) {
    const stack = new TcpStack({ ...stackOptions, wake: () => {} });
    for (let first = 1, k = 0; first <= perRound; first += slice, k++) {
      if (o.cancelled?.()) return { connections: done, busyMs: busy, wallMs: performance.now() - t0 };
      const s = performance.now();
      // Both shapes, slice by slice: every kind of held data and a checkpoint to parse.
      done += warmSlice(stack, Math.min(slice, perRound - first + 1), first, k % 2 === 0 ? 'lab' : 'mixed');
      busy += performance.now() - s;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  return { connections: done, busyMs: busy, wallMs: performance.now() - t0 };
}
