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

/** Raised by apply(): the session must end; `reason` is logged and counted. */
export class ReplicaError {
  constructor(readonly reason: string, readonly conn?: number) {}
}

/** Bytes of one direction of a stream, from `basePos` on, as a list of chunks. */
class StreamBuffer {
  basePos = 0;
  bytes = 0;
  private chunks: Buffer[] = [];

  get endPos(): number {
    return this.basePos + this.bytes;
  }

  append(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.bytes += data.length;
  }

  /** Frees everything below `pos` (basePos <= pos <= endPos). */
  freeTo(pos: number): void {
    let drop = pos - this.basePos;
    while (drop > 0) {
      const c = this.chunks[0];
      if (c.length <= drop) {
        this.chunks.shift();
        drop -= c.length;
      } else {
        this.chunks[0] = c.subarray(drop);
        drop = 0;
      }
    }
    this.bytes -= pos - this.basePos;
    this.basePos = pos;
  }

  /** The held bytes as one buffer: for reading what the store holds (tests, tools).
   *  The rebuild takes heldChunks() instead, which copies nothing. */
  contents(): Buffer {
    if (this.chunks.length === 1) return this.chunks[0];
    return Buffer.concat(this.chunks, this.bytes);
  }

  /** The held bytes as the chunks they arrived in, in order, not copied (rebuild
   *  only). The list is the store's own: read it before the store changes again. */
  heldChunks(): readonly Buffer[] {
    return this.chunks;
  }
}

/** What the backup holds of one connection. */
export class Replica {
  readonly open: Open;
  /** Receive stream, from the last checkpoint's consumed point to rcv_nxt. */
  readonly rcv = new StreamBuffer();
  /** Send stream, from snd_una to snd_max. */
  readonly snd = new StreamBuffer();
  update: Update | undefined;
  checkpoint: Checkpoint | undefined;
  /** When (the store's clock, ms) the latest tsLast arrived, with the OPEN or an
   *  UPDATE: the primary's timestamp clock has run at most this long since (rule 8). */
  tsHeardAt: number;

  constructor(open: Open, heardAt = 0) {
    this.open = open;
    this.tsHeardAt = heardAt;
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
      case MsgType.Open: {
        if (this.replicas.has(m.conn)) return new ReplicaError('duplicate-open', m.conn);
        if (this.replicas.size >= this.maxConnections) return new ReplicaError('too-many-connections', m.conn);
        this.replicas.set(m.conn, new Replica(m, this.clock()));
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
        if (unaPos > r.snd.endPos + 1) return new ReplicaError('snd-una-beyond-replicated', m.conn);
        r.update = m;
        r.tsHeardAt = this.clock();
        r.snd.freeTo(Math.min(unaPos, r.snd.endPos));
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
        r.rcv.freeTo(m.consumed);
        return;
      }
      case MsgType.Close: {
        if (!this.replicas.delete(m.conn)) return new ReplicaError('unknown-connection', m.conn);
        return;
      }
      case MsgType.Heartbeat:
        return;
      default:
        return new ReplicaError(`unexpected-message:${m.type}`);
    }
  }
}
