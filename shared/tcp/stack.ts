// The TCP stack: demultiplexes segments to connections and listeners, answers segments
// for nobody with RST (RFC 9293 §3.10.7.1), owns the one timer heap, and runs each
// connection's process (input) and dispatch (poll). Pure: segments and time in,
// segments and events out; no I/O, no timers, no clock reads.
//
// The runtime drives it: input() for every segment received, then poll(now) to collect
// what must go out, then pollAt() to learn when to poll next.

import { logger, type Logger } from '../log.js';
import { IntactError } from '../errors.js';
import { Assembler } from './assembler.js';
import { resolveOptions, type ResolvedOptions, type StackOptions } from './config.js';
import { createCongestionControl } from './congestion.js';
import {
  type ConnectionObserver, type StackContext, TcpConnection, EV_ACCEPT, EV_CLOSED, EV_END, EV_READABLE,
  EV_REMOVED, EV_UPDATED, EV_WRITABLE,
} from './connection.js';
import { dispatch } from './dispatch.js';
import { Listener, type ListenerHost } from './listener.js';
import { negotiate, wscaleFor } from './options.js';
import { processSegment } from './process.js';
import { RttEstimator } from './rtt.js';
import { ACK, FIN, RST, SYN, type Datagram, type TcpSegment, segLen } from './segment.js';
import { seqAdd, seqGt } from './seq.js';
import { StackStats } from './stats.js';
import type { TcbSnapshot } from './tcb.js';
import { TimeHeap } from './time-heap.js';
import { armKeepalive, nextDeadline, runTimers } from './timers.js';

export type { StackOptions } from './config.js';
export { Listener } from './listener.js';
export { TcpConnection } from './connection.js';
export type { ConnectionHandler, ConnectionObserver, TcpState } from './connection.js';
export type { TcbSnapshot } from './tcb.js';
export { StackStats } from './stats.js';

const EMPTY = Buffer.alloc(0);
/** Handler calls may queue more work for the same poll; this many rounds at most. */
const MAX_POLL_ROUNDS = 16;

/** Snapshots may have crossed a structured clone or a codec: take any byte view. */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A snapshot's queue, one buffer or its chunks, into a connection's queue (no copy). */
function pushChunks(q: { push(b: Buffer): void }, held: Uint8Array | readonly Uint8Array[]): void {
  if (held instanceof Uint8Array) q.push(asBuffer(held));
  else for (const b of held) q.push(asBuffer(b));
}

/** How long late ACKs of a gracefully closed connection are absorbed instead of reset:
 *  longer than our FIN's retransmissions take to be answered on a slow peer path. */
export const CLOSED_LINGER_MS = 10_000;

function tupleKey(remoteAddr: number, remotePort: number, localAddr: number, localPort: number): string {
  return `${remoteAddr}:${remotePort}>${localAddr}:${localPort}`;
}

/** Demultiplexing keys: an IPv4 address and a port in one number (48 bits). */
function key(addr: number, port: number): number {
  return addr * 65536 + port;
}

export class TcpStack implements StackContext, ListenerHost {
  readonly cfg: ResolvedOptions;
  readonly stats = new StackStats();
  readonly log: Logger;
  /** Replication hooks given to every new or restored connection (issue 4). */
  observer: ConnectionObserver | undefined;

  /** local (addr, port) -> remote (addr, port) -> connection. */
  readonly #conns = new Map<number, Map<number, TcpConnection>>();
  #count = 0;
  readonly #listeners = new Map<number, Listener>();
  #dirty: TcpConnection[] = [];
  /** Segments made outside any connection's dispatch (RSTs), sent with the next poll. */
  #pending: Datagram[] = [];
  /** Gracefully closed connections, for CLOSED_LINGER_MS (#linger), by tupleKey. */
  #closed = new Map<string, { key: string; sndMax: number; rcvNxt: number; until: number }>();
  #closedQueue: Array<{ key: string; until: number }> = [];
  readonly #heap = new TimeHeap<TcpConnection>();
  #depth = 0;
  #now = 0;
  #challengeWindowStart = -Infinity;
  #challengeCount = 0;

  constructor(opts: StackOptions = {}) {
    this.cfg = resolveOptions(opts);
    this.log = logger('tcp');
  }

  get connectionCount(): number {
    return this.#count;
  }

  listen(port: number, opts: { backlog?: number; synBacklog?: number; addr?: number } = {}): Listener {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new IntactError('ERR_INTACT_INVALID_ARG', `listen: port must be in [1, 65535], got ${port}`);
    }
    const k = key(opts.addr ?? 0, port);
    if (this.#listeners.has(k)) throw new IntactError('ERR_INTACT_ADDR_IN_USE', `listen: port ${port} is taken`);
    const l = new Listener(this, port, opts);
    this.#listeners.set(k, l);
    return l;
  }

  /** One segment in. Never throws on bad input: drops and counts. */
  input(d: Datagram, now: number): void {
    this.#now = now;
    this.#depth++;
    try {
      this.#input(d, now);
    } catch (err) {
      this.stats.dropped.internalError++;
      this.log.error({ err }, 'segment dropped: internal error');
    } finally {
      this.#depth--;
    }
  }

  /** Everything due at `now`: replies, data, retransmissions, ACKs, probes. */
  poll(now: number): Datagram[] {
    this.#now = now;
    this.#depth++;
    try {
      const out = this.#pending;
      this.#pending = [];
      this.#heap.popDue(now, (c) => this.markDirty(c));
      for (let round = 0; round < MAX_POLL_ROUNDS && this.#dirty.length > 0; round++) {
        const list = this.#dirty;
        this.#dirty = [];
        for (const c of list) {
          c.dirty = false;
          this.#service(c, now, out);
        }
      }
      if (this.#pending.length > 0) {
        for (const d of this.#pending) out.push(d);
        this.#pending = [];
      }
      if (this.#heap.size > 2 * this.#count + 1024) this.#heap.compact();
      return out;
    } finally {
      this.#depth--;
    }
  }

  /** Earliest time poll() is needed; <= now when output is pending; undefined when idle.
   *  It may be early (a timer that moved later keeps its old heap entry, so an ACK never
   *  costs a heap operation): such a poll finds nothing due and costs little. */
  pollAt(): number | undefined {
    if (this.#dirty.length > 0 || this.#pending.length > 0) return this.#now;
    return this.#heap.peek();
  }

  /** Rebuild a connection from a snapshot (takeover). Timers restart at `now`: unacked
   *  data counts as sent now, TSvals continue from the snapshot's last one. */
  restore(snap: TcbSnapshot, now: number): TcpConnection {
    const cfg = this.cfg;
    if (this.#lookup(snap.localAddr, snap.localPort, snap.remoteAddr, snap.remotePort) !== undefined) {
      throw new IntactError('ERR_INTACT_CONN_EXISTS', 'restore: that connection already exists');
    }
    const c = new TcpConnection(this, snap.localAddr, snap.localPort, snap.remoteAddr, snap.remotePort);
    c.iss = snap.iss >>> 0;
    c.irs = snap.irs >>> 0;
    c.sndUna = snap.sndUna >>> 0;
    c.sndNxt = snap.sndNxt >>> 0;
    c.sndMax = snap.sndMax >>> 0;
    c.sndWnd = snap.sndWnd;
    c.sndWl1 = snap.sndWl1 >>> 0;
    c.sndWl2 = snap.sndWl2 >>> 0;
    c.sndWndShift = snap.sndWndShift;
    c.maxSndWnd = Math.max(snap.maxSndWnd, snap.sndWnd);
    c.rcvNxt = snap.rcvNxt >>> 0;
    c.rcvWndShift = snap.rcvWndShift;
    // The right edge the peer was promised stays where it was (a restored window must
    // not shrink).
    c.rcvAdvEdge = seqAdd(c.rcvNxt, snap.rcvWnd);
    c.sndMss = snap.sndMss;
    c.rcvMss = snap.rcvMss;
    c.wsOk = snap.sndWndShift > 0 || snap.rcvWndShift > 0;
    c.sackOk = snap.sackOk;
    c.tsOk = snap.tsOk;
    c.tsRecent = snap.tsRecent >>> 0;
    c.tsLastSent = snap.tsLastSent >>> 0;
    // This host's clock differs: choose the offset so the next TSval is the last one
    // sent, never below it (DESIGN rule 8).
    c.tsOffset = (c.tsLastSent - Math.floor(now)) >>> 0;
    if (c.tsOk) c.tsEpoch = c.tsLastSent;
    c.lastAckSent = snap.lastAckSent >>> 0;
    c.effMss = Math.max(Math.min(c.sndMss, cfg.mss) - (c.tsOk ? 12 : 0), 8);
    c.rcvMssEst = c.effMss;
    c.cc = createCongestionControl(snap.ccName, c.effMss, now, snap.cc);
    c.rtt = snap.rtt !== undefined
      ? RttEstimator.restore(snap.rtt, { initialRto: cfg.initialRto, minRto: cfg.minRto, maxRto: cfg.maxRto })
      : TcpConnection.newRtt(cfg);
    pushChunks(c.sendQueue, snap.sendQueue);
    pushChunks(c.recvQueue, snap.recvQueue);
    if (snap.ooo.length > 0) {
      c.ooo = new Assembler(2 ** 30);
      for (const { seq, data } of snap.ooo) c.ooo.insert(seq >>> 0, asBuffer(data), c.rcvNxt);
    }
    if (snap.rcvFinSeq !== undefined) {
      c.rcvFinSeq = snap.rcvFinSeq >>> 0;
      // The FIN occupies one sequence number: rcvNxt is past it.
      if (c.rcvNxt === c.rcvFinSeq) c.rcvNxt = seqAdd(c.rcvNxt, 1);
    } else if (snap.rcvFinOoo !== undefined) {
      c.rcvFinOoo = snap.rcvFinOoo >>> 0;
    }
    if (snap.finSeq !== undefined) c.finSeq = snap.finSeq >>> 0;
    c.bytesConsumed = snap.bytesConsumed;
    c.bytesWritten = snap.bytesWritten;
    if (snap.replayAckLimit !== undefined) c.replayAckLimit = snap.replayAckLimit >>> 0;
    c.replaySkip = snap.replaySkip ?? 0;
    c.lastRcvAt = now;
    c.noDelay = snap.noDelay;
    c.keepAlive = snap.keepAlive;
    c.keepAliveIdleMs = snap.keepAliveIdleMs;
    c.recoverPoint = c.sndMax;
    c.highRxt = c.sndUna;
    c.sndSml = c.sndUna;
    // At takeover this runs once per connection: build the message only when it is kept.
    if (this.log.isLevelEnabled('debug')) this.log.debug({ conn: c.id() }, `restore CLOSED=>${snap.state}`);
    c.state = snap.state;
    if (c.state === 'TIME-WAIT') {
      c.closedNotified = true;
      c.timeWaitAt = now + cfg.timeWaitMs;
    }
    // Unacknowledged segments count as sent now, so the retransmission timer works
    // (the CRIU pitfall: restored segments without a send time stall for minutes).
    if (c.sndUna !== c.sndMax) c.rtoAt = now + c.rtt.rto;
    if (c.state === 'SYN-RECEIVED' && c.sndMax === c.iss) c.sndNxt = c.iss;
    if (seqAdd(c.lastAckSent, 0) !== c.effAck()) c.delackAt = now;
    c.observer = this.observer;
    this.#insert(c);
    this.markDirty(c);
    return c;
  }

  /** Test-only active open (secondary; see active-open.ts). */
  connect(o: { localAddr: number; localPort: number; remoteAddr: number; remotePort: number }, now: number): TcpConnection {
    const cfg = this.cfg;
    if (this.#lookup(o.localAddr, o.localPort, o.remoteAddr, o.remotePort) !== undefined) {
      throw new IntactError('ERR_INTACT_ADDR_IN_USE', 'connect: that connection already exists');
    }
    const c = new TcpConnection(this, o.localAddr, o.localPort, o.remoteAddr, o.remotePort);
    c.iss = cfg.iss() >>> 0;
    c.sndUna = c.sndNxt = c.sndMax = c.iss;
    c.recoverPoint = c.highRxt = c.sndSml = c.iss;
    c.rcvWndShift = cfg.windowScaling ? wscaleFor(cfg.rcvBuf) : 0;
    c.tsOffset = Math.floor(cfg.random() * 2 ** 32) >>> 0;
    c.sndMss = 536;
    c.effMss = Math.min(536, cfg.mss);
    c.rcvMssEst = c.effMss;
    c.cc = createCongestionControl(cfg.congestionControl, c.effMss, now);
    c.rtt = TcpConnection.newRtt(cfg);
    c.observer = this.observer;
    c.setState('SYN-SENT');
    c.events = 0;
    this.stats.activeOpens++;
    this.#insert(c);
    this.markDirty(c);
    return c;
  }

  *connections(): IterableIterator<TcpConnection> {
    for (const m of this.#conns.values()) yield* m.values();
  }

  // ---- StackContext ----

  markDirty(c: TcpConnection): void {
    if (c.dirty) return;
    c.dirty = true;
    const wasIdle = this.#dirty.length === 0 && this.#pending.length === 0;
    this.#dirty.push(c);
    if (wasIdle && this.#depth === 0) this.cfg.wake?.();
  }

  lastNow(): number {
    return this.#now;
  }

  allowChallengeAck(now: number): boolean {
    if (now - this.#challengeWindowStart >= 1000) {
      this.#challengeWindowStart = now;
      this.#challengeCount = 0;
    }
    if (this.#challengeCount >= this.cfg.challengeAckLimit) return false;
    this.#challengeCount++;
    return true;
  }

  canEstablish(c: TcpConnection): boolean {
    const l = this.#findListener(c.localAddr, c.localPort);
    return l === undefined || l.hasRoom();
  }

  established(c: TcpConnection): void {
    this.stats.established++;
    // Only a listener's own half-open connections are handed to it: one restored in
    // SYN-RECEIVED (takeover) already belongs to the application that adopted it.
    if (c.listener === undefined) return;
    c.listener.synQueue--;
    c.listener = undefined;
    c.events |= EV_ACCEPT;
  }

  sendRst(c: TcpConnection, seq: number, ack: number | undefined): void {
    this.#pending.push({
      src: c.localAddr,
      dst: c.remoteAddr,
      seg: {
        srcPort: c.localPort, dstPort: c.remotePort, seq: seq >>> 0, ack: ack === undefined ? 0 : ack >>> 0,
        flags: ack === undefined ? RST : RST | ACK, window: 0, options: {}, payload: EMPTY,
      },
    });
    this.stats.rstOut++;
    this.stats.segsOut++;
    if (this.#depth === 0) this.cfg.wake?.();
  }

  removed(c: TcpConnection): void {
    if (c.closedGracefully) this.#linger(c);
    const m = this.#conns.get(key(c.localAddr, c.localPort));
    const rk = key(c.remoteAddr, c.remotePort);
    if (m !== undefined && m.get(rk) === c) {
      m.delete(rk);
      if (m.size === 0) this.#conns.delete(key(c.localAddr, c.localPort));
      this.#count--;
    }
    if (c.listener !== undefined) {
      c.listener.synQueue--;
      c.listener = undefined;
    }
    this.#heap.schedule(c, undefined);
    c.events |= EV_REMOVED;
    this.markDirty(c);
  }

  // ---- ListenerHost ----

  closeListener(l: Listener): void {
    const k = key(l.addr ?? 0, l.port);
    if (this.#listeners.get(k) === l) this.#listeners.delete(k);
    for (const c of [...this.connections()]) {
      if (c.listener === l) c.abort();
    }
    for (const c of l.acceptQueue.splice(0)) c.abort();
  }

  // ---- internals ----

  #input(d: Datagram, now: number): void {
    const stats = this.stats;
    const seg = d.seg;
    stats.segsIn++;
    stats.bytesIn += seg.payload.length;
    const f = seg.flags;
    if ((f & (SYN | FIN)) === (SYN | FIN) || (f & (SYN | RST)) === (SYN | RST) || (f & (SYN | FIN | RST | ACK)) === 0) {
      stats.dropped.badFlags++;
      return;
    }
    if (seg.srcPort === 0 || seg.dstPort === 0) {
      stats.dropped.badPort++;
      return;
    }
    let c = this.#lookup(d.dst, seg.dstPort, d.src, seg.srcPort);
    if (c !== undefined && c.state === 'TIME-WAIT' && (f & (SYN | ACK | RST | FIN)) === SYN && this.#reusable(c, seg)) {
      // A new incarnation: its SYN is beyond everything the old one used (RFC 6191's
      // timestamp test, or the sequence test Linux applies without timestamps).
      c.enterClosed(undefined, false);
      this.#flush(c);
      c = undefined;
    }
    if (c !== undefined) {
      processSegment(c, seg, now);
      this.markDirty(c);
      this.#flush(c);
      // An ACK owed per segment (out-of-order data, challenges) leaves now, not
      // coalesced with the next one: the peer counts duplicate ACKs.
      if (c.ackNow && c.state !== 'CLOSED') dispatch(c, now, this.#pending);
      return;
    }
    if (this.#lateAfterClose(d)) {
      stats.dropped.afterClose++;
      return;
    }
    const l = this.#findListener(d.dst, seg.dstPort);
    if (l !== undefined) {
      this.#listenInput(l, d, now);
      return;
    }
    stats.dropped.noListener++;
    this.#resetFor(d);
  }

  // A connection closed gracefully from LAST-ACK is gone at once (RFC 9293), so a late
  // duplicate of the peer's last ACK, which arrives when we retransmitted our FIN before
  // reading that ACK (an overloaded host, a backup busy right after a takeover), would
  // draw a RST. The peer is in TIME-WAIT and loses nothing, but a reset is what every
  // client and every failover check reads as failure. For a while after a graceful
  // close such segments are dropped silently instead; anything else still gets its RST.
  #linger(c: TcpConnection): void {
    const now = this.lastNow();
    const q = this.#closedQueue;
    while (q.length > 0 && q[0]!.until <= now) {
      const old = q.shift()!;
      // The same tuple may have closed again since: its newer entry stays.
      if (this.#closed.get(old.key) === old) this.#closed.delete(old.key);
    }
    const e = { key: tupleKey(c.remoteAddr, c.remotePort, c.localAddr, c.localPort), sndMax: c.sndMax, rcvNxt: c.rcvNxt, until: now + CLOSED_LINGER_MS };
    this.#closed.set(e.key, e);
    q.push(e);
  }

  #lateAfterClose(d: Datagram): boolean {
    const seg = d.seg;
    // Only the peer's own last words: an ACK of our FIN, with at most its FIN again. The
    // flags first: a SYN to the listener never pays for the lookup.
    if (this.#closed.size === 0 || (seg.flags & (SYN | RST | ACK)) !== ACK || seg.payload.length !== 0) return false;
    const e = this.#closed.get(tupleKey(d.src, seg.srcPort, d.dst, seg.dstPort));
    if (e === undefined || e.until <= this.lastNow()) return false;
    return seg.ack === e.sndMax && (seg.seq === e.rcvNxt || seqAdd(seg.seq, 1) === e.rcvNxt);
  }

  #reusable(c: TcpConnection, seg: TcpSegment): boolean {
    const ts = seg.options.ts;
    if (c.tsOk && ts !== undefined) return seqGt(ts.val, c.tsRecent);
    return seqGt(seg.seq, c.rcvNxt);
  }

  /** RFC 9293 §3.10.7.2, "If the state is LISTEN". */
  #listenInput(l: Listener, d: Datagram, now: number): void {
    const seg = d.seg;
    const f = seg.flags;
    const stats = this.stats;
    // "first, check for a RST: An incoming RST segment could not be valid ... An
    // incoming RST should be ignored."
    if (f & RST) {
      stats.dropped.listenNotSyn++;
      return;
    }
    // "second, check for an ACK: Any acknowledgment is bad if it arrives on a
    // connection still in the LISTEN state. An acceptable reset segment should be formed
    // for any arriving ACK-bearing segment. The RST should be formatted as follows:
    // <SEQ=SEG.ACK><CTL=RST>"
    if (f & ACK) {
      stats.dropped.listenNotSyn++;
      this.#resetFor(d);
      return;
    }
    // "fourth, other data or control: ... drop the segment, and return."
    if (!(f & SYN)) {
      stats.dropped.listenNotSyn++;
      return;
    }
    // "third, check for a SYN": limits first.
    if (this.#count >= this.cfg.maxConnections) {
      stats.dropped.maxConnections++;
      return;
    }
    if (l.synQueue >= l.synBacklog) {
      stats.dropped.synQueueFull++;
      return;
    }
    if (!l.hasRoom()) {
      stats.dropped.acceptQueueFull++;
      return;
    }
    const c = new TcpConnection(this, d.dst, seg.dstPort, d.src, seg.srcPort);
    this.#openPassive(c, seg, now);
    c.listener = l;
    l.synQueue++;
    stats.passiveOpens++;
    this.#insert(c);
    c.observer = this.observer;
    c.observer?.opened?.(c);
    this.markDirty(c);
  }

  /** "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be selected and a
   *  SYN segment sent of the form: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to
   *  ISS+1 and SND.UNA to ISS. The connection state should be changed to SYN-RECEIVED."
   *  (SND.NXT moves when the SYN-ACK actually leaves, in dispatch.) */
  #openPassive(c: TcpConnection, seg: TcpSegment, now: number): void {
    const cfg = this.cfg;
    const n = negotiate(seg.options, cfg);
    c.irs = seg.seq;
    c.rcvNxt = seqAdd(seg.seq, 1);
    c.lastAckSent = c.rcvNxt;
    c.rcvAdvEdge = c.rcvNxt;
    c.iss = cfg.iss() >>> 0;
    c.sndUna = c.sndNxt = c.sndMax = c.iss;
    c.recoverPoint = c.highRxt = c.sndSml = c.iss;
    c.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
    c.sndWl1 = seg.seq;
    c.sndWl2 = c.iss;
    c.maxSndWnd = c.sndWnd;
    // Linux's tcp_min_snd_mss: a tiny MSS would make us send a segment per byte.
    c.sndMss = Math.max(n.sndMss, 48);
    c.wsOk = cfg.windowScaling && seg.options.wscale !== undefined;
    c.sndWndShift = n.sndWndShift;
    c.rcvWndShift = n.rcvWndShift;
    if (seg.options.wscale !== undefined && seg.options.wscale > 14) {
      this.log.debug({ conn: c.id(), wscale: seg.options.wscale }, 'peer window scale above 14, using 14');
    }
    c.sackOk = n.sackOk;
    c.tsOk = n.tsOk;
    if (c.tsOk) c.tsRecent = seg.options.ts!.val;
    c.tsOffset = Math.floor(cfg.random() * 2 ** 32) >>> 0;
    c.effMss = Math.max(Math.min(c.sndMss, cfg.mss) - (c.tsOk ? 12 : 0), 8);
    c.rcvMssEst = c.effMss;
    c.cc = createCongestionControl(cfg.congestionControl, c.effMss, now);
    c.rtt = TcpConnection.newRtt(cfg);
    c.lastRcvAt = now;
    c.state = 'LISTEN';
    c.setState('SYN-RECEIVED');
    c.events = 0;
  }

  /** RFC 9293 §3.10.7.1: "If the ACK bit is off, sequence number zero is used,
   *  <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the ACK bit is on,
   *  <SEQ=SEG.ACK><CTL=RST>." An incoming RST is discarded. */
  #resetFor(d: Datagram): void {
    const seg = d.seg;
    if (seg.flags & RST) return;
    const withAck = (seg.flags & ACK) === 0;
    this.#pending.push({
      src: d.dst,
      dst: d.src,
      seg: {
        srcPort: seg.dstPort, dstPort: seg.srcPort,
        seq: withAck ? 0 : seg.ack, ack: withAck ? seqAdd(seg.seq, segLen(seg)) : 0,
        flags: withAck ? RST | ACK : RST, window: 0, options: {}, payload: EMPTY,
      },
    });
    this.stats.rstOut++;
    this.stats.segsOut++;
  }

  #service(c: TcpConnection, now: number, out: Datagram[]): void {
    try {
      if (c.state !== 'CLOSED') runTimers(c, now);
      if (c.state !== 'CLOSED') {
        dispatch(c, now, out);
        armKeepalive(c, now);
        this.#heap.schedule(c, nextDeadline(c));
      }
    } catch (err) {
      this.stats.dropped.internalError++;
      this.log.error({ err, conn: c.id() }, 'connection service failed');
    }
    this.#flush(c);
  }

  /** Deliver pending notifications. Handlers may call back into the connection. */
  #flush(c: TcpConnection): void {
    const ev = c.events;
    if (ev === 0) return;
    c.events = 0;
    try {
      if (ev & EV_UPDATED) c.observer?.updated?.(c);
      if (ev & EV_ACCEPT) {
        const l = this.#findListener(c.localAddr, c.localPort);
        if (l !== undefined) l.deliver(c);
      }
      const h = c.handler;
      if (h !== undefined) {
        if (ev & EV_READABLE) h.readable();
        if (ev & EV_END) h.end();
        if (ev & EV_WRITABLE && c.state !== 'CLOSED') h.writable();
        if (ev & EV_CLOSED) h.closed(c.closeError);
      }
      if (ev & EV_REMOVED) c.observer?.closed?.(c);
    } catch (err) {
      // A throwing handler is the application's bug; the stack carries on.
      this.log.error({ err, conn: c.id() }, 'connection handler threw');
    }
  }

  #insert(c: TcpConnection): void {
    const lk = key(c.localAddr, c.localPort);
    let m = this.#conns.get(lk);
    if (m === undefined) {
      m = new Map();
      this.#conns.set(lk, m);
    }
    m.set(key(c.remoteAddr, c.remotePort), c);
    this.#count++;
  }

  #lookup(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): TcpConnection | undefined {
    return this.#conns.get(key(localAddr, localPort))?.get(key(remoteAddr, remotePort));
  }

  #findListener(addr: number, port: number): Listener | undefined {
    return this.#listeners.get(key(addr, port)) ?? this.#listeners.get(key(0, port));
  }
}
