// The backup's replica of one primary: per connection, the replicated control block,
// the receive stream from the last checkpoint's consumed point, the send stream from
// snd_una, and the last checkpoint (DESIGN.md rules 3, 4 and 7). It applies messages
// in order and checks each against what it already holds: a primary that skips or
// rewrites bytes is a protocol error that ends the session, never a silent hole.
//
// Positions in the streams are kept as 53-bit stream offsets (bytes since the SYN),
// so a connection can move more than 4 GiB; sequence numbers are derived from them.
import {
  MsgType, type Checkpoint, type Message, type Open, type Update,
} from '../shared/replication/messages.js';
import { STATES, replayRunsAhead } from '../shared/replication/states.js';
import { dropFront } from '../shared/chunks.js';

/** Raised by apply(): the session must end; `reason` is logged and counted. */
export class ReplicaError {
  constructor(readonly reason: string, readonly conn?: number) {}
}

/** A stream switches from a list of chunks to a ring once it holds this much. */
export const RING_FROM_BYTES = 64 * 1024;
/** The smallest ring; rings are powers of two. */
const RING_MIN_BYTES = 128 * 1024;
/** Drained rings a store keeps for reuse, at most (bytes). */
export const RING_POOL_BYTES = 32 * 1024 * 1024;

/**
 * Ring memory of one store, recycled. Why: bytes held by the store live until the
 * client acknowledges them (or a checkpoint consumes them), long enough for V8 to move
 * the buffers they arrived in to the old generation, which only a full collection
 * frees. Measured, one backup serving four 1 GB downloads in a row: 161 full
 * collections ("GC in old space requested", about one per 25 MB held and released),
 * 1.9-2.4 s of CPU per GB against 0.6-0.9 with rings, and 2.7-3.4 Gbit/s against
 * 3.6-5.4 (the storm comes and goes with the heap's history: some runs are free of it,
 * and are no faster with rings). A bulk
 * stream copies its bytes into a ring instead, and a drained ring comes back here for
 * the next stream: in steady traffic the store allocates nothing, and the buffers
 * the bytes arrived in die young.
 * Rings are handed out only to this store's streams, and come back only when a stream
 * drains or its connection closes: a store frozen by a takeover (whose rings the
 * rebuilt connections now read) never gives one back.
 */
export class RingPool {
  private readonly free = new Map<number, Buffer[]>();
  private pooled = 0;

  constructor(readonly maxPooledBytes = RING_POOL_BYTES) {}

  /** Bytes held for reuse. */
  get pooledBytes(): number {
    return this.pooled;
  }

  take(capacity: number): Buffer {
    const b = this.free.get(capacity)?.pop();
    if (b) {
      this.pooled -= capacity;
      return b;
    }
    return Buffer.allocUnsafeSlow(capacity);
  }

  give(b: Buffer): void {
    if (this.pooled + b.length > this.maxPooledBytes) return;
    let list = this.free.get(b.length);
    if (!list) this.free.set(b.length, (list = []));
    list.push(b);
    this.pooled += b.length;
  }
}

function ringCapacity(n: number): number {
  let c = RING_MIN_BYTES;
  while (c < n) c *= 2;
  return c;
}

/** Bytes of one direction of a stream, from `basePos` on. Small holdings are the
 *  chunks they arrived in (views, not copies: an idle connection costs little);
 *  from RING_FROM_BYTES on, a ring from the store's pool (copies, recycled memory),
 *  at most twice what is held (rule 7's factor, as keep() in the codec), until the
 *  stream drains. */
export class StreamBuffer {
  basePos = 0;
  bytes = 0;
  private chunks: Buffer[] = [];
  private ring: Buffer | undefined;
  /** Index in `ring` of the byte at basePos. */
  private head = 0;

  constructor(private readonly pool?: RingPool) {}

  get endPos(): number {
    return this.basePos + this.bytes;
  }

  /** Capacity of the ring in use, 0 when the stream is held as chunks. */
  get ringBytes(): number {
    return this.ring?.length ?? 0;
  }

  append(data: Buffer): void {
    if (data.length === 0) return;
    const need = this.bytes + data.length;
    if (this.ring === undefined && (this.pool === undefined || need < RING_FROM_BYTES)) {
      this.chunks.push(data);
      this.bytes = need;
      return;
    }
    if (this.ring === undefined || need > this.ring.length) this.regrow(ringCapacity(need));
    const ring = this.ring!;
    const tail = (this.head + this.bytes) & (ring.length - 1);
    const first = Math.min(data.length, ring.length - tail);
    data.copy(ring, tail, 0, first);
    if (first < data.length) data.copy(ring, 0, first);
    this.bytes = need;
  }

  /** Frees everything below `pos` (basePos <= pos <= endPos). */
  freeTo(pos: number): void {
    const drop = pos - this.basePos;
    this.bytes -= drop;
    this.basePos = pos;
    if (this.ring !== undefined) {
      this.head = (this.head + drop) & (this.ring.length - 1);
      if (this.bytes === 0) this.discard();
      return;
    }
    dropFront(this.chunks, drop);
  }

  /** Frees everything and moves the (empty) stream on to `pos` (>= endPos): output
   *  replay, where the client holds bytes the store never got. */
  skipTo(pos: number): void {
    this.discard();
    this.basePos = pos;
  }

  /** Drops what is held and gives the ring back to the pool: a drained stream, or a
   *  closed connection's. */
  discard(): void {
    if (this.ring !== undefined) this.pool?.give(this.ring);
    this.ring = undefined;
    this.head = 0;
    this.chunks = [];
    this.basePos += this.bytes;
    this.bytes = 0;
  }

  /** A copy of the held bytes in one buffer: for reading what the store holds (tests,
   *  tools). The rebuild takes heldChunks() instead, which copies nothing. */
  contents(): Buffer {
    return Buffer.concat(this.heldChunks(), this.bytes);
  }

  /** The held bytes in order, not copied (rebuild only): the chunks they arrived in,
   *  or one or two views of the ring. Read them before the store changes again. */
  heldChunks(): readonly Buffer[] {
    const ring = this.ring;
    if (ring === undefined) return this.chunks;
    if (this.bytes === 0) return [];
    const end = this.head + this.bytes;
    if (end <= ring.length) return [ring.subarray(this.head, end)];
    return [ring.subarray(this.head), ring.subarray(0, end - ring.length)];
  }

  /** Moves the held bytes into a ring of `capacity` (from the pool) at index 0. */
  private regrow(capacity: number): void {
    const next = this.pool!.take(capacity);
    let o = 0;
    for (const c of this.heldChunks()) o += c.copy(next, o);
    if (this.ring !== undefined) this.pool!.give(this.ring);
    this.ring = next;
    this.chunks = [];
    this.head = 0;
  }
}

/** What the backup holds of one connection. */
export class Replica {
  readonly open: Open;
  /** Receive stream, from the last checkpoint's consumed point to rcv_nxt. */
  readonly rcv: StreamBuffer;
  /** Send stream, from snd_una to snd_max. */
  readonly snd: StreamBuffer;
  update: Update | undefined;
  checkpoint: Checkpoint | undefined;
  /** When (the store's clock, ms) the latest tsLast arrived, with the OPEN or an
   *  UPDATE: the primary's timestamp clock has run at most this long since (rule 8). */
  tsHeardAt: number;
  /** Opened by a RESYNC whose CHECKPOINT has not arrived: the bytes the primary had
   *  already acknowledged or sent may not all be here yet, so a takeover leaves this
   *  connection out (it was unprotected until now, and still is). */
  resyncing = false;

  constructor(open: Open, heardAt = 0, pool?: RingPool) {
    this.open = open;
    this.tsHeardAt = heardAt;
    this.rcv = new StreamBuffer(pool);
    this.snd = new StreamBuffer(pool);
  }

  /** Sequence number of a receive stream position (the SYN takes irs). */
  rcvSeq(pos: number): number {
    return (this.open.irs + 1 + pos) >>> 0;
  }

  sndSeq(pos: number): number {
    return (this.open.iss + 1 + pos) >>> 0;
  }

  /** rcv_nxt for a rebuild (rule 3): the end of the contiguous replicated receive data,
   *  plus one for a replicated FIN. */
  get rcvNxt(): number {
    const fin = this.update?.finReceived && this.update.finSeq === this.rcvSeq(this.rcv.endPos) ? 1 : 0;
    return (this.rcvSeq(this.rcv.endPos) + fin) >>> 0;
  }

  /** snd_nxt = snd_max = the end of the replicated send data. */
  get sndMax(): number {
    return this.sndSeq(this.snd.endPos);
  }

  get heldBytes(): number {
    return this.rcv.bytes + this.snd.bytes;
  }
}

export interface StoreOptions {
  /** Bound per connection (rule 7); the primary keeps under it, the backup checks. */
  bytesPerConnection: number;
  /** Bound on connections per primary, against a runaway or hostile peer. */
  maxConnections?: number;
  /** Monotonic clock in ms (default performance.now); takeover must use the same. */
  clock?: () => number;
}

/** All connections replicated from one primary (one VIP). */
export class ReplicaStore {
  readonly replicas = new Map<number, Replica>();
  /** Messages applied since the handshake: what CONFIRM reports. */
  applied = 0;
  private readonly maxConnections: number;
  private readonly clock: () => number;
  /** The rings of this store's bulk streams (never shared with another store: see
   *  RingPool). */
  readonly pool = new RingPool();

  constructor(private readonly opts: StoreOptions) {
    this.maxConnections = opts.maxConnections ?? 1_000_000;
    this.clock = opts.clock ?? (() => performance.now());
  }

  /** Applies one message; returns an error that must end the session. */
  apply(m: Message): ReplicaError | undefined {
    const err = this.applyOne(m);
    if (!err) this.applied++;
    return err;
  }

  private applyOne(m: Message): ReplicaError | undefined {
    switch (m.type) {
      case MsgType.Open:
      case MsgType.Resync: {
        if (this.replicas.has(m.conn)) return new ReplicaError('duplicate-open', m.conn);
        if (this.replicas.size >= this.maxConnections) return new ReplicaError('too-many-connections', m.conn);
        if (m.type === MsgType.Open) {
          this.replicas.set(m.conn, new Replica(m, this.clock(), this.pool));
          return;
        }
        const { rcvBase, sndBase, ...fields } = m;
        const r = new Replica({ ...fields, type: MsgType.Open }, this.clock(), this.pool);
        r.rcv.basePos = rcvBase;
        r.snd.basePos = sndBase;
        r.resyncing = true;
        this.replicas.set(m.conn, r);
        return;
      }
      case MsgType.RecvData: {
        const r = this.replicas.get(m.conn);
        if (!r) return new ReplicaError('unknown-connection', m.conn);
        if (m.seq !== r.rcvSeq(r.rcv.endPos)) return new ReplicaError('recv-not-contiguous', m.conn);
        if (r.heldBytes + m.data.length > this.opts.bytesPerConnection) return new ReplicaError('over-bound', m.conn);
        r.rcv.append(m.data);
        return;
      }
      case MsgType.SendData: {
        const r = this.replicas.get(m.conn);
        if (!r) return new ReplicaError('unknown-connection', m.conn);
        if (m.seq !== r.sndSeq(r.snd.endPos)) return new ReplicaError('send-not-contiguous', m.conn);
        if (r.heldBytes + m.data.length > this.opts.bytesPerConnection) return new ReplicaError('over-bound', m.conn);
        r.snd.append(m.data);
        return;
      }
      case MsgType.Update: {
        const r = this.replicas.get(m.conn);
        if (!r) return new ReplicaError('unknown-connection', m.conn);
        // snd_una may pass the replicated data by one: our FIN, once acknowledged. It
        // may also sit below what is freed (the SYN not yet acknowledged, or an update
        // older than a freeing one): stale is safe, it frees nothing.
        const off = (m.sndUna - r.sndSeq(r.snd.basePos)) | 0;
        const unaPos = r.snd.basePos + Math.max(0, off);
        // Output replay: the client acknowledged bytes the primary did not replicate
        // (its app regenerates them); the send stream jumps to snd_una. Only while
        // established (never past our FIN: the FIN and all before it are replicated
        // before it leaves), and at most the replay window at a time (the primary's
        // output never runs further past the snd_una it replicated).
        const jump = r.open.replayWindow > 0 && replayRunsAhead(STATES[m.state]) && unaPos > r.snd.endPos &&
          unaPos - r.snd.endPos <= r.open.replayWindow;
        if (unaPos > r.snd.endPos + 1 && !jump) return new ReplicaError('snd-una-beyond-replicated', m.conn);
        r.update = m;
        r.tsHeardAt = this.clock();
        if (jump) r.snd.skipTo(unaPos);
        else r.snd.freeTo(Math.min(unaPos, r.snd.endPos));
        return;
      }
      case MsgType.Checkpoint: {
        const r = this.replicas.get(m.conn);
        if (!r) return new ReplicaError('unknown-connection', m.conn);
        // Rule 4: the checkpoint may only free what it consumed; it cannot claim to
        // have consumed bytes the backup never held, nor produced more than was sent
        // to the backup (output is replicated before it exists anywhere else).
        if (m.consumed < r.rcv.basePos || m.consumed > r.rcv.endPos) return new ReplicaError('checkpoint-consumed-out-of-range', m.conn);
        if (m.produced > r.snd.endPos) return new ReplicaError('checkpoint-produced-beyond-replicated', m.conn);
        if (r.checkpoint && (m.consumed < r.checkpoint.consumed || m.produced < r.checkpoint.produced)) {
          return new ReplicaError('checkpoint-went-backwards', m.conn);
        }
        r.checkpoint = m;
        r.resyncing = false;
        r.rcv.freeTo(m.consumed);
        return;
      }
      case MsgType.Close: {
        const r = this.replicas.get(m.conn);
        if (!r) return new ReplicaError('unknown-connection', m.conn);
        this.replicas.delete(m.conn);
        r.rcv.discard();
        r.snd.discard();
        return;
      }
      case MsgType.Heartbeat:
        return;
      default:
        return new ReplicaError(`unexpected-message:${m.type}`);
    }
  }
}
