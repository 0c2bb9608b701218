// One TCP connection: its control block (RFC 9293 names), its queues, and the calls the
// application and the replication layer make on it. What happens when a segment
// arrives lives in process.ts, what goes out in dispatch.ts, timer expiries in
// timers.ts; this file holds the state they share and the public API.
//
// TCB fields are public so the engine's modules can work on them; outside shared/tcp
// they are read-only by convention (the API calls below are the way to change them).

import type { Logger } from '../log.js';
import { IntactError } from '../errors.js';
import type { Assembler } from './assembler.js';
import { type CongestionControl, initialWindow } from './congestion.js';
import type { ResolvedOptions } from './config.js';
import { RecvQueue } from './recv-queue.js';
import { RttEstimator } from './rtt.js';
import type { RtxLog } from './rack.js';
import type { Scoreboard } from './scoreboard.js';
import { SendQueue } from './send-queue.js';
import type { SackBlock } from './segment.js';
import { seqAdd, seqGt, seqLt, seqMin, seqSub } from './seq.js';
import type { StackStats } from './stats.js';
import type { TcbSnapshot, TcpState } from './tcb.js';

export type { TcpState } from './tcb.js';

export interface ConnectionHandler {
  /** New in-order bytes are queued for recv(). */
  readable(): void;
  /** Send space opened after send() returned less than asked or sendFree() was 0. */
  writable(): void;
  /** The peer's FIN arrived: after the queued bytes, EOF. */
  end(): void;
  /** Connection gone. err.code: 'ECONNRESET' (RST received), 'ETIMEDOUT'. */
  closed(err?: Error): void;
}

export interface ConnectionObserver {
  /** SYN accepted, ISS/IRS/options fixed, before the SYN-ACK leaves. */
  opened?(c: TcpConnection): void;
  /** Bytes became in-order in the receive queue (seq = their first sequence number). */
  received?(c: TcpConnection, seq: number, data: Buffer): void;
  /** App bytes entered the send queue at seq. */
  queued?(c: TcpConnection, seq: number, data: Buffer): void;
  /** sndUna / windows / state changed. */
  updated?(c: TcpConnection): void;
  /** The app closed: finSeq is set, the FIN not yet sent (called at once, before any
   *  dispatch could send it). */
  closing?(c: TcpConnection): void;
  closed?(c: TcpConnection): void;
}

/** What a connection needs from its stack (TcpStack implements it). */
export interface StackContext {
  readonly cfg: ResolvedOptions;
  readonly stats: StackStats;
  readonly log: Logger;
  /** The connection has output or new timers: poll it. */
  markDirty(c: TcpConnection): void;
  /** RFC 5961 §7 rate limit: may a challenge ACK go out now? */
  allowChallengeAck(now: number): boolean;
  /** The last time the stack was given (input or poll): API calls happen "now". */
  lastNow(): number;
  /** May this half-open connection become established (accept queue room)? */
  canEstablish(c: TcpConnection): boolean;
  /** The handshake completed: hand the connection to its listener. */
  established(c: TcpConnection): void;
  /** Send a RST that belongs to no connection's queues (abort, bad handshake ACK). */
  sendRst(c: TcpConnection, seq: number, ack: number | undefined): void;
  /** The connection reached CLOSED: forget it. */
  removed(c: TcpConnection): void;
}

/** Pending handler notifications, delivered after a segment or poll is processed so a
 *  handler that calls back into the connection sees a consistent TCB. */
export const EV_READABLE = 1;
export const EV_WRITABLE = 2;
export const EV_END = 4;
export const EV_CLOSED = 8;
export const EV_UPDATED = 16;
export const EV_ACCEPT = 32;
/** Removed from the stack's table: the observer hears closed(). */
export const EV_REMOVED = 64;

export interface ConnErrorCode { code: 'ECONNRESET' | 'ETIMEDOUT' }

export function connError(code: 'ECONNRESET' | 'ETIMEDOUT'): Error {
  const msg = code === 'ECONNRESET' ? 'connection reset by peer' : 'connection timed out';
  const e = new Error(`${msg} (${code})`) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = code === 'ECONNRESET' ? -104 : -110;
  e.syscall = 'read';
  return e;
}

export class TcpConnection {
  readonly localAddr: number;
  readonly localPort: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
  /** @internal the owning stack */
  readonly ctx: StackContext;

  handler: ConnectionHandler | undefined;
  observer: ConnectionObserver | undefined;

  // ---- TCB (RFC 9293 §3.3.1 names) ----
  /** Connection state. */
  state: TcpState = 'CLOSED';
  /** Initial send sequence number. */
  iss = 0;
  /** Initial receive sequence number. */
  irs = 0;
  /** Oldest unacknowledged sequence number. */
  sndUna = 0;
  /** Next sequence number to send; below sndMax while resending after a timeout. */
  sndNxt = 0;
  /** Highest sequence number sent, plus one. */
  sndMax = 0;
  /** Peer's window, bytes (scaled). */
  sndWnd = 0;
  /** Segment sequence number used for the last window update. */
  sndWl1 = 0;
  /** Segment acknowledgment number used for the last window update. */
  sndWl2 = 0;
  /** Shift the peer applies to its windows (RFC 7323). */
  sndWndShift = 0;
  /** Largest window the peer has offered. */
  maxSndWnd = 0;
  /** Peer's MSS option: bytes of payload plus options we may put in one segment. */
  sndMss = 536;
  /** Next sequence number expected. */
  rcvNxt = 0;
  /** Right edge of the window we last advertised; never moves left (RFC 9293 3.8.6). */
  rcvAdvEdge = 0;
  /** Shift we apply to the windows we send. */
  rcvWndShift = 0;
  /** MSS we advertised. */
  rcvMss = 1460;
  /** Payload of a full-sized segment we send: min(peer MSS, our MSS) less timestamps. */
  effMss = 536;
  /** Window scaling agreed (the SYN-ACK carries our shift only then). */
  wsOk = false;
  /** Estimate of the peer's full segment size (delayed-ACK "every second full segment"). */
  rcvMssEst = 536;
  /** SACK agreed. */
  sackOk = false;
  /** Timestamps agreed. */
  tsOk = false;
  /** TS.Recent: the TSval we echo. */
  tsRecent = 0;
  /** Added to our clock (ms) to form TSval; random per connection. */
  tsOffset = 0;
  /** Last TSval sent. */
  tsLastSent = 0;
  /** A restored connection's first TSval, until an echo of it (or a later one) comes
   *  back: an older TSecr echoes the previous host's segments, and timing it would
   *  count the whole outage as round-trip time. */
  tsEpoch: number | undefined = undefined;
  /** Last acknowledgment number sent (RFC 7323 Last.ACK.sent). */
  lastAckSent = 0;
  /** Sequence number of our FIN once the app closed (the FIN follows all queued data). */
  finSeq: number | undefined = undefined;
  /** Sequence number of the peer's FIN once processed (in order; rcvNxt is past it). */
  rcvFinSeq: number | undefined = undefined;
  /** A FIN that arrived out of order, waiting for the data before it. */
  rcvFinOoo: number | undefined = undefined;

  // ---- queues ----
  /** Bytes from the first unacknowledged data byte on. */
  sendQueue = new SendQueue();
  /** In-order bytes the app has not consumed. */
  recvQueue = new RecvQueue();
  /** Out-of-order bytes beyond rcvNxt; allocated when first needed. */
  ooo: Assembler | undefined = undefined;
  /** Stream positions. */
  bytesConsumed = 0;
  bytesWritten = 0;

  // ---- output replay (a connection rebuilt by a backup that did not hold its output) ----
  /** Output replay: the backup rebuilt this connection without the output the primary
   *  sent after the last replicated snd_una, because its app regenerates that output
   *  (replies a pure function of input and checkpoint). The client may hold, and
   *  acknowledge, bytes up to this sequence number that this engine never sent: such an
   *  ACK tells where the client is (process.ts, replayCatchUp) instead of being refused.
   *  Bounded: the primary never sent past the snd_una it had replicated plus the replay
   *  window (primary/replication/mirror.ts). Undefined on every other connection. */
  replayAckLimit: number | undefined = undefined;
  /** Bytes the app will write again that the client already holds (learnt from such an
   *  ACK): send() takes them and drops them. */
  replaySkip = 0;

  // ---- congestion and loss recovery ----
  cc!: CongestionControl;
  rtt!: RttEstimator;
  /** SACK scoreboard (RFC 6675); allocated at the first SACK block. */
  scoreboard: Scoreboard | undefined = undefined;
  /** Duplicate ACKs in a row. */
  dupAcks = 0;
  /** In fast recovery (NewReno RFC 6582 or SACK RFC 6675). */
  inRecovery = false;
  /** This recovery is driven by the SACK scoreboard (RFC 6675), not NewReno. */
  sackRecovery = false;
  /** RFC 6582 "recover" / RFC 6675 RecoveryPoint, kept as sndMax at entry (one past). */
  recoverPoint = 0;
  /** RFC 6675 HighRxt: everything below it was retransmitted in this recovery. */
  highRxt = 0;
  /** What was sent, in order, to find lost ranges by time (RFC 8985); allocated at
   *  the first data sent on a SACK connection. */
  rtxLog: RtxLog | undefined = undefined;
  /** Retransmit the first unacknowledged segment on the next dispatch. */
  rtxPending = false;
  /** End of the last small segment sent (Minshall's Nagle, as Linux's snd_sml). */
  sndSml = 0;
  /** Karn's rule timing without timestamps: the ACK that ends the timed segment. */
  rttSeq: number | undefined = undefined;
  /** When the timed segment was sent. */
  rttTime = 0;

  // ---- timers (absolute ms; undefined: not running) ----
  rtoAt: number | undefined = undefined;
  /** RACK reordering timer: a range overtaken by later data is lost then. */
  rackAt: number | undefined = undefined;
  /** Tail loss probe timer (RFC 8985 §7), and whether its probe is out: one per
   *  episode, until an ACK makes progress. */
  tlpAt: number | undefined = undefined;
  tlpOut = false;
  persistAt: number | undefined = undefined;
  delackAt: number | undefined = undefined;
  keepaliveAt: number | undefined = undefined;
  timeWaitAt: number | undefined = undefined;
  /** When the peer last sent an acceptable segment (a zero window is not a dead peer). */
  lastRcvAt = 0;
  /** Consecutive retransmission timeouts (SYN-ACK or data). */
  retries = 0;
  /** Persist timer backoff exponent, and probes the peer did not answer. */
  persistBackoff = 0;
  persistProbes = 0;
  /** Keepalive probes the peer did not answer. */
  keepaliveProbes = 0;

  // ---- flags and app options ----
  /** An ACK must go out on the next dispatch (out-of-order data, challenge, FIN...). */
  ackNow = false;
  /** Send a zero-window / keepalive probe on the next dispatch. */
  probeNow = false;
  /** Send a tail loss probe on the next dispatch. */
  tlpNow = false;
  noDelay = false;
  keepAlive = false;
  keepAliveIdleMs: number;
  /** send() came back short: tell the handler when room opens. */
  wantWritable = false;
  #ackLimit: number | undefined = undefined;
  #sendLimit: number | undefined = undefined;

  /** @internal pending handler events (EV_*) and the error for EV_CLOSED. */
  events = 0;
  closeError: Error | undefined = undefined;
  /** @internal the listener that created this connection, while half-open. */
  listener: { synQueue: number } | undefined = undefined;
  /** @internal time-heap bookkeeping of the stack: the deadline it holds for us. */
  scheduledAt: number | undefined = undefined;
  /** @internal queued in the stack's dirty list. */
  dirty = false;
  /** Rebuilt by a takeover in SYN-RECEIVED: the client most likely completed the
   *  handshake with the old primary, and would answer a SYN-ACK with a challenge ACK
   *  (RFC 5961), so retransmissions are probes instead (see timers.ts). */
  adoptedHalfOpen = false;
  /** Closed from LAST-ACK by the ACK of our FIN: the stack absorbs late duplicates. */
  closedGracefully = false;
  /** Delivered to the handler already (closed() is said once). */
  closedNotified = false;
  /** Rebuilt by a takeover and not kicked yet: sends nothing and runs no timer, so the
   *  takeover can kick thousands of connections a batch at a time instead of releasing
   *  them in one burst that the links drop (measured: 9,936 of 10,000 kick frames lost).
   *  kick() releases it, or the peer's next segment does (process.ts). */
  kickHeld = false;
  /** When kick() ran: a peer heard from after it (lastRcvAt) needs no kick probe. */
  kickedAt: number | undefined = undefined;
  /** Kick probe timer: after a kick with nothing of ours unacknowledged no RTO would
   *  repeat a lost kick, so when the kick acknowledges bytes the peer has not seen
   *  acknowledged, a keepalive-style probe (which the peer must answer, and which
   *  carries the same ACK) goes while the peer stays silent, a few times, backing off
   *  (timers.ts). */
  kickProbeAt: number | undefined = undefined;
  kickProbes = 0;

  constructor(ctx: StackContext, localAddr: number, localPort: number, remoteAddr: number, remotePort: number) {
    this.ctx = ctx;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
    this.keepAliveIdleMs = ctx.cfg.keepAliveIdleMs;
    this.rcvMss = ctx.cfg.mss;
  }

  // ---- derived values ----

  /** Sequence number of the first byte in the send queue (the SYN comes before it). */
  dataStart(): number {
    return this.sndUna === this.iss ? seqAdd(this.iss, 1) : this.sndUna;
  }

  /** Sequence number one past the last queued byte. */
  dataEnd(): number {
    return seqAdd(this.dataStart(), this.sendQueue.length);
  }

  /** The acknowledgment the wire sees: min(rcvNxt, ackLimit) (DESIGN rule 1). */
  effAck(): number {
    return this.#ackLimit === undefined ? this.rcvNxt : seqMin(this.rcvNxt, this.#ackLimit);
  }

  /** Our TSval at `now`: a 1 ms clock, offset per connection (RFC 7323 §5.4). */
  tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** The peer's FIN arrived and everything before it: EOF after the queued bytes. */
  finReceived(): boolean {
    return this.rcvFinSeq !== undefined;
  }

  /** Our FIN was acknowledged. */
  finAcked(): boolean {
    return this.finSeq !== undefined && seqGt(this.sndUna, this.finSeq);
  }

  /** Room left under the advertised right edge, from rcvNxt. */
  rcvWnd(): number {
    return Math.max(0, seqSub(this.rcvAdvEdge, this.rcvNxt));
  }

  /** SACK blocks for the next segment: what the assembler holds, the most recent first
   *  (RFC 2018), never anything at or beyond ackLimit — an unconfirmed byte must not be
   *  acknowledged by SACK either (rule 1), and out-of-order data is not replicated. */
  sackBlocks(): readonly SackBlock[] {
    if (!this.sackOk || this.ooo === undefined || this.ooo.isEmpty) return [];
    const blocks = this.ooo.sackBlocks(this.tsOk ? 3 : 4);
    const limit = this.#ackLimit;
    if (limit === undefined) return blocks;
    const out: SackBlock[] = [];
    for (const [l, r] of blocks) {
      if (seqLt(l, limit)) out.push([l, seqMin(r, limit)]);
    }
    return out;
  }

  // ---- state changes ----

  /** Every state change goes through here (logged A=>B at debug level). */
  setState(next: TcpState): void {
    if (this.state === next) return;
    this.ctx.log.debug({ conn: this.id(), from: this.state, to: next }, `${this.state}=>${next}`);
    this.state = next;
    this.events |= EV_UPDATED;
  }

  /** Enter CLOSED: stop everything, tell the handler (once) and the stack. */
  enterClosed(err: Error | undefined, notify = true): void {
    if (this.state === 'CLOSED') return;
    this.setState('CLOSED');
    this.rtoAt = this.persistAt = this.delackAt = this.keepaliveAt = this.timeWaitAt = this.rackAt = this.tlpAt = undefined;
    this.kickProbeAt = undefined;
    this.ackNow = this.probeNow = this.rtxPending = false;
    if (notify && !this.closedNotified) {
      this.closedNotified = true;
      this.closeError = err;
      this.events |= EV_CLOSED;
    }
    this.ctx.removed(this);
  }

  /** Enter TIME-WAIT: "start the time-wait timer, turn off the other timers". The
   *  application is done with the connection here, so it hears closed() now. */
  enterTimeWait(now: number): void {
    this.setState('TIME-WAIT');
    this.rtoAt = this.persistAt = this.keepaliveAt = this.rackAt = this.tlpAt = this.kickProbeAt = undefined;
    this.timeWaitAt = now + this.ctx.cfg.timeWaitMs;
    if (!this.closedNotified) {
      this.closedNotified = true;
      this.events |= EV_CLOSED;
    }
  }

  id(): string {
    return `${ip(this.localAddr)}:${this.localPort}<->${ip(this.remoteAddr)}:${this.remotePort}`;
  }

  // ---- the application's API ----

  /** Consume up to `max` in-order bytes. Opens the window (a window update goes out
   *  when the right edge can move by a useful amount: receiver SWS avoidance). */
  recv(max = Infinity): Buffer | undefined {
    const b = this.recvQueue.take(max);
    if (b === undefined) return undefined;
    this.bytesConsumed += b.length;
    if (this.windowUpdateWorthSending()) {
      this.ackNow = true;
      this.ctx.markDirty(this);
    }
    return b;
  }

  recvQueued(): number {
    return this.recvQueue.length;
  }

  /** Queue bytes for sending; returns how many were taken (<= sendFree()). The buffer
   *  is kept, not copied: the caller must not change it afterwards (as with Node's net). */
  send(data: Buffer): number {
    switch (this.state) {
      case 'SYN-RECEIVED':
      case 'SYN-SENT':
      case 'ESTABLISHED':
      case 'CLOSE-WAIT':
        break;
      default:
        throw new IntactError('ERR_INTACT_NOT_WRITABLE', `send() in state ${this.state}`);
    }
    if (this.finSeq !== undefined) throw new IntactError('ERR_INTACT_NOT_WRITABLE', 'send() after close()');
    if (this.replaySkip > 0) {
      // Regenerated output the client already holds: taken, counted in bytesWritten
      // when the skip was learnt, never queued.
      const skipped = Math.min(this.replaySkip, data.length);
      this.replaySkip -= skipped;
      return skipped === data.length ? skipped : skipped + this.send(data.subarray(skipped));
    }
    const n = Math.min(data.length, this.sendFree());
    if (n < data.length) this.wantWritable = true;
    if (n === 0) return 0;
    const chunk = n < data.length ? data.subarray(0, n) : data;
    const seq = this.dataEnd();
    this.sendQueue.push(chunk);
    this.bytesWritten += n;
    this.observer?.queued?.(this, seq, chunk);
    this.ctx.markDirty(this);
    return n;
  }

  sendQueued(): number {
    return this.sendQueue.length;
  }

  sendFree(): number {
    const free = Math.max(0, this.ctx.cfg.sndBuf - this.sendQueue.length);
    if (free === 0) this.wantWritable = true;
    return free;
  }

  /** FIN after all queued data (a half-close: receiving goes on until the peer's FIN). */
  close(): void {
    if (this.finSeq !== undefined) return;
    if (this.replaySkip > 0) {
      // The regenerated output ends below bytes the client already holds: the app's
      // output was not the pure function of its input that output replay relies on.
      // No FIN can be right here; the client is told with a RST.
      this.ctx.stats.replayDiverged++;
      this.abort();
      return;
    }
    switch (this.state) {
      case 'SYN-SENT':
        // "Delete the TCB and return "error: closing" responses to any queued SENDs".
        this.enterClosed(undefined);
        break;
      case 'SYN-RECEIVED':
        // "If no SENDs have been issued and there is no pending data to send, then form
        // a FIN segment and send it ... otherwise, queue for processing after entering
        // ESTABLISHED state." The FIN waits for the handshake either way.
        this.finSeq = this.dataEnd();
        break;
      case 'ESTABLISHED':
        // "Queue this until all preceding SENDs have been segmentized, then form a FIN
        // segment and send it. In any case, enter FIN-WAIT-1 state."
        this.finSeq = this.dataEnd();
        this.setState('FIN-WAIT-1');
        break;
      case 'CLOSE-WAIT':
        // "Queue this request until all preceding SENDs have been segmentized; then
        // send a FIN segment, enter LAST-ACK state."
        this.finSeq = this.dataEnd();
        this.setState('LAST-ACK');
        break;
      default:
        return;
    }
    if (this.finSeq !== undefined) this.observer?.closing?.(this);
    this.ctx.markDirty(this);
  }

  /** RST now. The handler hears closed() without an error. */
  abort(): void {
    switch (this.state) {
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSE-WAIT':
        // "Send a reset segment: <SEQ=SND.NXT><CTL=RST>"
        this.ctx.sendRst(this, this.sndMax, this.effAck());
        break;
      default:
        // CLOSING, LAST-ACK, TIME-WAIT: "Respond with "ok" and delete the TCB".
        break;
    }
    this.enterClosed(undefined);
    this.ctx.markDirty(this);
  }

  setNoDelay(on: boolean): void {
    this.noDelay = on;
    if (on) this.ctx.markDirty(this);
  }

  setKeepAlive(on: boolean, idleMs?: number): void {
    this.keepAlive = on;
    if (idleMs !== undefined && idleMs > 0) this.keepAliveIdleMs = idleMs;
    this.keepaliveAt = on ? this.ctx.lastNow() + this.keepAliveIdleMs : undefined;
    this.keepaliveProbes = 0;
    this.ctx.markDirty(this);
  }

  /** Replication gate (rule 1): never advertise an ACK beyond this sequence number. */
  get ackLimit(): number | undefined {
    return this.#ackLimit;
  }

  set ackLimit(v: number | undefined) {
    this.#ackLimit = v === undefined ? undefined : v >>> 0;
    this.ctx.markDirty(this);
  }

  /** Replication gate (rule 2): never send sequence space at or after this number. */
  get sendLimit(): number | undefined {
    return this.#sendLimit;
  }

  set sendLimit(v: number | undefined) {
    this.#sendLimit = v === undefined ? undefined : v >>> 0;
    this.ctx.markDirty(this);
  }

  /** Takeover: keep this rebuilt connection silent until kick() (see kickHeld). */
  hold(): void {
    this.kickHeld = true;
  }

  /** Takeover "kick" (DESIGN step 5): resend everything unacknowledged at once and
   *  tell the peer where we are, instead of waiting for a timer. `now` is the stack's
   *  clock; the rebuild may be long past, and the retransmission timer counts from the
   *  resend, not from the rebuild. Without it: the later of the stack's last time and
   *  the rebuild's (restore sets lastRcvAt; a fresh stack's last time is 0). */
  kick(now = Math.max(this.ctx.lastNow(), this.lastRcvAt)): void {
    this.kickHeld = false;
    this.kickedAt = now;
    const unacked = this.sndUna !== this.sndMax;
    if (this.state === 'SYN-RECEIVED') {
      // Adopted half-open: a probe, never a SYN-ACK an established client would
      // answer with a challenge ACK (backup-daemon/takeover.ts's kick()).
      if (this.adoptedHalfOpen) this.probeNow = true;
      else this.sndNxt = this.iss;
    } else {
      if (unacked) {
        this.sndNxt = this.sndUna;
        // RFC 5681 §4.1: after a silence longer than an RTO (the outage) cwnd restarts
        // at no more than the initial window, so the resend is not a burst of a whole
        // old window into a path whose queues are unknown.
        this.cc.cwnd = Math.min(this.cc.cwnd, initialWindow(this.effMss));
      }
      this.ackNow = true;
    }
    // The backoff counted the old host's unanswered retransmissions, not this path's.
    this.rtt.resetBackoff();
    this.rtoAt = unacked ? now + this.rtt.rto : undefined;
    this.kickProbes = 0;
    // Only a kick that tells the peer something (bytes the old host held back the ACK
    // of, rule 1) is worth repeating; otherwise its probes would only add answers to
    // read at the worst moment, thousands at once.
    const news = this.effAck() !== this.lastAckSent;
    this.kickProbeAt = !unacked && news && this.synchronized() ? now + this.rtt.rto : undefined;
    this.ctx.markDirty(this);
  }

  /** States in which the peer answers a keepalive-style probe with an ACK. */
  synchronized(): boolean {
    switch (this.state) {
      case 'ESTABLISHED':
      case 'CLOSE-WAIT':
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSING':
      case 'LAST-ACK':
        return true;
      default:
        return false;
    }
  }

  /** The right edge a window advertised now would have, and whether moving to it is worth
   *  a segment of its own (RFC 9293 3.8.6.2.2: by min(rcvBuf/2, MSS) at least; we wait
   *  for two MSS unless the window is nearly closed, as Linux does in tcp_cleanup_rbuf). */
  windowUpdateWorthSending(): boolean {
    if (this.state !== 'ESTABLISHED' && this.state !== 'FIN-WAIT-1' && this.state !== 'FIN-WAIT-2') return false;
    const rcvBuf = this.ctx.cfg.rcvBuf;
    const free = Math.max(0, rcvBuf - this.recvQueue.length);
    const advance = seqSub(seqAdd(this.rcvNxt, free), this.rcvAdvEdge);
    const open = seqSub(this.rcvAdvEdge, this.rcvNxt);
    const mss = this.rcvMssEst;
    return advance >= Math.min(rcvBuf / 2, open < mss ? mss : 2 * mss);
  }

  snapshot(): TcbSnapshot {
    const s: TcbSnapshot = {
      localAddr: this.localAddr,
      localPort: this.localPort,
      remoteAddr: this.remoteAddr,
      remotePort: this.remotePort,
      state: this.state,
      iss: this.iss,
      irs: this.irs,
      sndUna: this.sndUna,
      sndNxt: this.sndNxt,
      sndMax: this.sndMax,
      sndWnd: this.sndWnd,
      sndWl1: this.sndWl1,
      sndWl2: this.sndWl2,
      sndWndShift: this.sndWndShift,
      maxSndWnd: this.maxSndWnd,
      rcvNxt: this.rcvNxt,
      rcvWnd: this.rcvWnd(),
      rcvWndShift: this.rcvWndShift,
      sndMss: this.sndMss,
      rcvMss: this.rcvMss,
      sackOk: this.sackOk,
      tsOk: this.tsOk,
      tsRecent: this.tsRecent,
      tsLastSent: this.tsLastSent,
      lastAckSent: this.lastAckSent,
      ccName: this.cc.name,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      cc: this.cc.snapshot(),
      rtt: this.rtt.snapshot(),
      sendQueue: Buffer.from(this.sendQueue.toBuffer()),
      recvQueue: Buffer.from(this.recvQueue.toBuffer()),
      ooo: (this.ooo?.chunks() ?? []).map(([seq, data]) => ({ seq, data: Buffer.from(data) })),
      bytesConsumed: this.bytesConsumed,
      bytesWritten: this.bytesWritten,
      noDelay: this.noDelay,
      keepAlive: this.keepAlive,
      keepAliveIdleMs: this.keepAliveIdleMs,
    };
    if (this.rcvFinSeq !== undefined) s.rcvFinSeq = this.rcvFinSeq;
    if (this.rcvFinOoo !== undefined) s.rcvFinOoo = this.rcvFinOoo;
    if (this.finSeq !== undefined) s.finSeq = this.finSeq;
    if (this.replayAckLimit !== undefined) s.replayAckLimit = this.replayAckLimit;
    if (this.replaySkip > 0) s.replaySkip = this.replaySkip;
    return s;
  }

  /** @internal a fresh RFC 6298 estimator with the stack's bounds. */
  static newRtt(cfg: ResolvedOptions): RttEstimator {
    return new RttEstimator({ initialRto: cfg.initialRto, minRto: cfg.minRto, maxRto: cfg.maxRto });
  }
}

export function ip(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}
