// What a connection sends now (smoltcp's `dispatch`). Called from poll() after the
// timers ran. In order:
//   1. the SYN-ACK (or SYN) while the handshake is open;
//   2. a pending fast retransmission (RFC 5681 §3.2 / RFC 6582 / RFC 6675 step 4.3);
//   3. SACK-based recovery: RFC 6675 NextSeg() while cwnd - pipe allows;
//   4. resending after a timeout (go-back-N from sndNxt, cwnd-limited);
//   5. new data, under min(peer window, cwnd), the replication gate (sendLimit), Nagle
//      and sender SWS avoidance; the FIN after the last byte;
//   6. a zero-window or keepalive probe; then a pure ACK if one is still owed.
// Every segment carries the current ACK (min(rcvNxt, ackLimit)), window and options.

import { type TcpConnection } from './connection.js';
import { optionBytes } from './options.js';
import { ACK, FIN, PSH, SYN, type Datagram, type SackBlock, type TcpOptions, type TcpSegment } from './segment.js';
import { RtxLog } from './rack.js';
import { armTlp } from './timers.js';
import { seqAdd, seqGt, seqLt, seqMax, seqMin, seqSub } from './seq.js';

const EMPTY = Buffer.alloc(0);
/** Guards the send loop against a bug spinning forever (each turn sends a segment). */
const MAX_SEGMENTS_PER_DISPATCH = 4096;

export function dispatch(c: TcpConnection, now: number, out: Datagram[]): void {
  // Held for the takeover's kick, which paces thousands of connections (connection.ts).
  if (c.kickHeld) return;
  const start = out.length;
  switch (c.state) {
    case 'CLOSED':
    case 'LISTEN':
      return;
    case 'SYN-SENT':
      if (c.sndNxt === c.iss && gateAllows(c, c.iss)) sendSyn(c, now, out, false);
      break;
    case 'SYN-RECEIVED':
      if (c.sndNxt === c.iss && gateAllows(c, c.iss)) sendSyn(c, now, out, true);
      break;
    case 'TIME-WAIT':
      break;
    default:
      sendData(c, now, out);
      break;
  }
  if (c.probeNow) {
    c.probeNow = false;
    if (!sendProbeData(c, now, out)) {
      // Linux's tcp_xmit_probe_skb: "Use a previous sequence. This should cause the
      // other end to send an ack." Consumes no sequence space, needs no window.
      emit(c, now, out, seqAdd(c.sndUna, -1), EMPTY, ACK, undefined, c.sackBlocks());
    }
  }
  if (out.length === start && ackOwed(c, now) && !(c.state === 'SYN-RECEIVED' && c.sndMax === c.iss)) {
    emit(c, now, out, c.sndMax, EMPTY, ACK, undefined, c.sackBlocks());
  }
}

/** An ACK is owed: forced (out-of-order data, FIN, challenge, window update...), or
 *  for in-order data: two full segments unacknowledged (RFC 5681 §4.2 "at least every
 *  second full-sized segment") or the delayed-ACK timer ran out. Only bytes the gate
 *  lets us acknowledge count: an ACK that says nothing new is not sent. */
export function ackOwed(c: TcpConnection, now: number): boolean {
  if (c.ackNow) return true;
  const unacked = seqSub(c.effAck(), c.lastAckSent);
  if (unacked <= 0) return false;
  return unacked >= 2 * c.rcvMssEst || (c.delackAt !== undefined && now >= c.delackAt);
}

function gateAllows(c: TcpConnection, seq: number): boolean {
  return c.sendLimit === undefined || seqLt(seq, c.sendLimit);
}

/** Payload bytes per segment given the options this segment carries. */
function pieceSize(c: TcpConnection, sack: readonly SackBlock[]): number {
  return Math.max(1, Math.min(c.sndMss, c.ctx.cfg.mss) - optionBytes(c.tsOk, sack.length));
}

function sendSyn(c: TcpConnection, now: number, out: Datagram[], synAck: boolean): void {
  const cfg = c.ctx.cfg;
  // RFC 7323 §2.2: "The window field in a segment where the SYN bit is set (i.e., a
  // <SYN> or <SYN,ACK>) MUST NOT be scaled."
  const window = Math.min(cfg.rcvBuf, 0xffff);
  const options: { -readonly [K in keyof TcpOptions]: TcpOptions[K] } = { mss: cfg.mss };
  const tsVal = c.tsNow(now);
  if (synAck) {
    // Each option only when the peer offered it (RFC 7323 §1.3, RFC 2018 §2).
    if (c.wsOk) options.wscale = c.rcvWndShift;
    if (c.sackOk) options.sackPermitted = true;
    if (c.tsOk) options.ts = { val: tsVal, ecr: c.tsRecent };
  } else {
    if (cfg.windowScaling) options.wscale = c.rcvWndShift;
    if (cfg.sack) options.sackPermitted = true;
    if (cfg.timestamps) options.ts = { val: tsVal, ecr: 0 };
  }
  const ack = synAck ? c.effAck() : 0;
  const seg: TcpSegment = {
    srcPort: c.localPort, dstPort: c.remotePort, seq: c.iss, ack, flags: synAck ? SYN | ACK : SYN,
    window, options, payload: EMPTY,
  };
  if (synAck) {
    c.lastAckSent = ack;
    const edge = seqAdd(ack, window);
    if (seqGt(edge, c.rcvAdvEdge)) c.rcvAdvEdge = edge;
  }
  if (options.ts !== undefined) c.tsLastSent = tsVal;
  c.ackNow = false;
  c.sndNxt = seqAdd(c.iss, 1);
  if (seqLt(c.sndMax, c.sndNxt)) c.sndMax = c.sndNxt;
  if (c.retries === 0 && c.rttSeq === undefined) {
    c.rttSeq = c.sndNxt;
    c.rttTime = now;
  } else if (c.retries > 0) {
    c.rttSeq = undefined; // Karn: a retransmitted SYN gives no sample
    c.ctx.stats.retransSegs++;
  }
  c.rtoAt ??= now + c.rtt.rto;
  push(c, out, seg);
}

function sendData(c: TcpConnection, now: number, out: Datagram[]): void {
  const cfg = c.ctx.cfg;
  const sack = c.sackBlocks();
  const piece = pieceSize(c, sack);
  const maxLen = cfg.gsoMaxBytes > piece ? Math.floor(cfg.gsoMaxBytes / piece) * piece : piece;
  let sentNew = false;
  if (c.tlpNow) {
    c.tlpNow = false;
    sentNew = sendTlp(c, now, out, piece, sack);
  }
  for (let turn = 0; turn < MAX_SEGMENTS_PER_DISPATCH; turn++) {
    if (c.rtxPending) {
      // Fast retransmit / NewReno partial ACK: the first unacknowledged segment (with
      // SACK, the first hole), whatever cwnd says.
      c.rtxPending = false;
      let lo = c.sndUna;
      let hi = c.sndMax;
      if (c.sackRecovery && c.scoreboard !== undefined) {
        const h = c.scoreboard.nextHole(c.sndUna, c.sndMax);
        if (h !== undefined) [lo, hi] = h;
      }
      if (seqLt(lo, c.sndMax)) {
        const used = resend(c, now, out, lo, hi, piece, piece, sack);
        c.highRxt = seqMax(c.highRxt, seqAdd(lo, used));
        if (used > 0) c.rtxLog?.record(lo, seqAdd(lo, used), now, c.sndMax);
      }
      continue;
    }
    if (c.inRecovery && c.sackRecovery && c.scoreboard !== undefined) {
      // RFC 6675 §5 (C): "If cwnd - pipe >= 1 SMSS, the sender SHOULD transmit one or
      // more segments as follows".
      const sb = c.scoreboard;
      const log = c.rtxLog;
      // RFC 8985 §6.2: a retransmission deemed lost leaves the pipe.
      const pipe = sb.pipe(c.sndUna, c.sndMax, c.highRxt, c.effMss) - (log?.lostBytes() ?? 0);
      const room = c.cc.cwnd - pipe;
      if (room < piece) break;
      // Whole holes go out as one GSO frame, as far as cwnd allows: a hole is a burst
      // dropped together, and one frame instead of one per segment is one chance of
      // losing the retransmission instead of dozens.
      const rtxLen = Math.min(maxLen, Math.floor(room / piece) * piece);
      // A retransmission lost again (rack.ts) goes before anything else.
      const lost = log?.takeLost();
      if (lost !== undefined) {
        c.ctx.stats.rackLost++;
        resendLost(c, now, out, lost[0], lost[1], piece, rtxLen, sack);
        continue;
      }
      const hole = sb.nextHole(seqMax(c.highRxt, c.sndUna), c.sndMax);
      // NextSeg (1): "the first ... S2 ... that has not been SACKed, S2 > HighRxt ...
      // IsLost (S2) returns true." IsLost() is the same for every segment of a hole.
      if (hole !== undefined && sb.isLost(hole[0], c.effMss)) {
        const used = resend(c, now, out, hole[0], hole[1], piece, rtxLen, sack);
        c.highRxt = seqAdd(hole[0], used);
        if (used > 0) log?.record(hole[0], seqAdd(hole[0], used), now, c.sndMax);
        continue;
      }
      // NextSeg (2): "If no sequence number 'S2' per rule (1) exists but there exists
      // available unsent data and the receiver's advertised window allows, the sequence
      // range of one segment of up to SMSS octets of previously unsent data".
      if (sendNew(c, now, out, piece, piece)) {
        sentNew = true;
        continue;
      }
      // NextSeg (3): "... the first segment ... S3 ... > HighRxt, ... not SACKed,
      // ... less than HighACK" — a hole below the highest SACKed byte.
      const hs = sb.highestSacked();
      if (hole !== undefined && hs !== undefined && seqLt(hole[0], hs)) {
        const used = resend(c, now, out, hole[0], seqMin(hole[1], hs), piece, rtxLen, sack);
        c.highRxt = seqAdd(hole[0], used);
        if (used > 0) log?.record(hole[0], seqAdd(hole[0], used), now, c.sndMax);
        continue;
      }
      break;
    }
    if (seqLt(c.sndNxt, c.sndMax)) {
      // After a timeout: resend from sndNxt as the (restarted) cwnd allows.
      const flight = seqSub(c.sndNxt, c.sndUna);
      if (flight >= c.cc.cwnd) break;
      let from = c.sndNxt;
      let to = c.sndMax;
      if (c.scoreboard !== undefined && c.scoreboard.sackedBytes > 0) {
        const h = c.scoreboard.nextHole(from, c.sndMax);
        if (h === undefined) {
          c.sndNxt = c.sndMax;
          continue;
        }
        [from, to] = h;
      }
      const room = Math.max(piece, Math.floor((c.cc.cwnd - flight) / piece) * piece);
      const used = resend(c, now, out, from, to, piece, Math.min(maxLen, room), sack);
      if (used === 0) {
        c.sndNxt = c.sndMax;
        continue;
      }
      c.sndNxt = seqAdd(from, used);
      c.rtxLog?.record(from, c.sndNxt, now, c.sndMax);
      continue;
    }
    if (!sendNew(c, now, out, piece, maxLen)) break;
    sentNew = true;
  }
  if (sentNew) c.persistBackoff = 0;
  armPersist(c, now, piece);
  armTlp(c, now);
}

/** RFC 8985 §7.3: the tail loss probe is "new data, if available and the receive
 *  window allows" (one segment, whatever cwnd says), else the last segment sent
 *  again. Its ACK (or SACK) lets RACK find what of the tail was lost without an RTO.
 *  Returns whether new data went out. */
function sendTlp(c: TcpConnection, now: number, out: Datagram[], piece: number, sack: readonly SackBlock[]): boolean {
  if (c.sndUna === c.sndMax || c.inRecovery) return false;
  c.ctx.stats.tlpProbes++;
  const sndMax = c.sndMax;
  const len = Math.min(seqSub(c.dataEnd(), sndMax), seqSub(seqAdd(c.sndUna, c.sndWnd), sndMax), piece,
    c.sendLimit === undefined ? Infinity : seqSub(c.sendLimit, sndMax));
  if (len > 0 && c.finSeq === undefined) {
    const payload = c.sendQueue.read(seqSub(sndMax, c.dataStart()), len);
    emit(c, now, out, sndMax, payload, ACK | PSH, undefined, sack);
    c.sndMax = c.sndNxt = seqAdd(sndMax, len);
    c.rtxLog?.record(sndMax, c.sndMax, now, c.sndMax);
    return true;
  }
  const from = seqMax(c.sndUna, seqAdd(sndMax, -piece));
  const used = resend(c, now, out, from, sndMax, piece, piece, sack);
  if (used > 0) c.rtxLog?.record(from, seqAdd(from, used), now, c.sndMax);
  return false;
}

/** Send again what of the lost range [left, right) is still not SACKed, up to
 *  maxLen, and log it; a remainder the window did not let out stays marked lost. */
function resendLost(c: TcpConnection, now: number, out: Datagram[], left: number, right: number, piece: number,
  maxLen: number, sack: readonly SackBlock[]): void {
  const log = c.rtxLog!;
  const h = c.scoreboard!.nextHole(seqMax(left, c.sndUna), right);
  if (h === undefined) return;
  const used = resend(c, now, out, h[0], h[1], piece, maxLen, sack);
  if (used === 0) return;
  const end = seqAdd(h[0], used);
  log.record(h[0], end, now, c.sndMax);
  c.highRxt = seqMax(c.highRxt, end);
  if (seqLt(end, right)) log.record(end, right, now, c.sndMax, true);
}

/** Resend [from, min(to, from + maxLen)) of data already sent once, with the FIN when
 *  the range reaches it. Returns the sequence space covered (0: nothing to send). */
function resend(c: TcpConnection, now: number, out: Datagram[], from: number, to: number, piece: number,
  maxLen: number, sack: readonly SackBlock[]): number {
  const len = Math.min(seqSub(to, from), maxLen);
  const dataLen = Math.max(0, Math.min(len, seqSub(c.dataEnd(), from)));
  const finSent = c.finSeq !== undefined && seqLt(c.finSeq, c.sndMax);
  const fin = finSent && seqAdd(from, dataLen) === c.finSeq && seqGt(to, c.finSeq!);
  if (dataLen === 0 && !fin) return 0;
  const payload = c.sendQueue.read(seqSub(from, c.dataStart()), dataLen);
  const gso = dataLen > piece ? piece : undefined;
  // PSH as the original most likely had it: on the segment that reached the queue's end.
  const psh = dataLen > 0 && seqAdd(from, dataLen) === c.dataEnd();
  emit(c, now, out, from, payload, ACK | (psh ? PSH : 0) | (fin ? FIN : 0), gso, sack);
  c.ctx.stats.retransSegs += gso === undefined ? 1 : Math.ceil(dataLen / piece);
  // Karn: the timed segment was sent again; its ACK would be ambiguous.
  if (c.rttSeq !== undefined && seqLt(from, c.rttSeq)) c.rttSeq = undefined;
  c.rtoAt ??= now + c.rtt.rto;
  return dataLen + (fin ? 1 : 0);
}

/** One segment of new data (or the FIN alone). Returns false when nothing may go. */
function sendNew(c: TcpConnection, now: number, out: Datagram[], piece: number, maxLen: number): boolean {
  const sndMax = c.sndMax;
  const avail = seqSub(c.dataEnd(), sndMax);
  const closing = c.finSeq !== undefined;
  if (avail <= 0) {
    // The FIN follows the last byte; it needs no window (Linux forces it out too).
    if (closing && sndMax === c.finSeq && gateAllows(c, sndMax)) {
      emit(c, now, out, sndMax, EMPTY, ACK | FIN, undefined, c.sackBlocks());
      c.sndMax = c.sndNxt = seqAdd(sndMax, 1);
      c.rtoAt ??= now + c.rtt.rto;
      return true;
    }
    return false;
  }
  const flight = seqSub(sndMax, c.sndUna);
  const rwndRoom = seqSub(seqAdd(c.sndUna, c.sndWnd), sndMax);
  const cwndRoom = c.inRecovery && c.sackRecovery ? piece : c.cc.cwnd - flight;
  const gateRoom = c.sendLimit === undefined ? Infinity : seqSub(c.sendLimit, sndMax);
  let len = Math.min(avail, rwndRoom, cwndRoom, gateRoom, maxLen);
  if (len <= 0) return false;
  const nagleHolds = !c.noDelay && !closing && flight > 0 && seqGt(c.sndSml, c.sndUna);
  if (len < piece) {
    if (len < avail) {
      // RFC 9293 3.8.6.2.1 (sender SWS avoidance): short of a full segment and of all
      // the data, send only if "at least a fraction Fs of the maximum window can be
      // sent", Fs = 1/2, and only when the peer's window is what limits us.
      if (!(len === rwndRoom && c.maxSndWnd > 0 && len >= c.maxSndWnd / 2)) return false;
    } else if (nagleHolds) {
      // RFC 9293 3.7.4 (Nagle): "if there is unacknowledged data ..., the sending TCP
      // endpoint buffers all user data ... until the outstanding data has been
      // acknowledged or until the TCP endpoint can send a full-sized segment". With
      // Minshall's refinement (Linux's default) only an unacknowledged *small* segment
      // holds the next one back.
      return false;
    }
  } else if (len > piece && len % piece !== 0 && (len < avail || nagleHolds)) {
    // A GSO segment splits into pieces; a short last piece would be a small segment
    // sent with data outstanding, which Nagle (or SWS avoidance) would have held.
    len -= len % piece;
  }
  const fin = closing && seqAdd(sndMax, len) === c.finSeq && gateAllows(c, c.finSeq!);
  const payload = c.sendQueue.read(seqSub(sndMax, c.dataStart()), len);
  emit(c, now, out, sndMax, payload, ACK | (len === avail ? PSH : 0) | (fin ? FIN : 0),
    len > piece ? piece : undefined, c.sackBlocks());
  if (len % piece !== 0) c.sndSml = seqAdd(sndMax, len);
  if (c.rttSeq === undefined && !c.tsOk) {
    c.rttSeq = seqAdd(sndMax, len);
    c.rttTime = now;
  }
  c.sndMax = c.sndNxt = seqAdd(sndMax, len + (fin ? 1 : 0));
  if (c.sackOk) (c.rtxLog ??= new RtxLog()).record(sndMax, c.sndMax, now, c.sndMax);
  c.rtoAt ??= now + c.rtt.rto;
  return true;
}

/** RFC 9293 3.8.6.1: with data waiting, nothing in flight and a window too small to
 *  send into, a timer must keep probing, or a lost window update deadlocks both ends. */
function armPersist(c: TcpConnection, now: number, piece: number): void {
  const avail = seqSub(c.dataEnd(), c.sndMax);
  const idle = c.sndUna === c.sndMax && c.rtoAt === undefined;
  const gateRoom = c.sendLimit === undefined ? Infinity : seqSub(c.sendLimit, c.sndMax);
  const want = Math.min(avail, piece);
  const rwndRoom = seqSub(seqAdd(c.sndUna, c.sndWnd), c.sndMax);
  if (avail > 0 && idle && rwndRoom < want && gateRoom >= want) {
    c.persistAt ??= now + Math.min(c.rtt.rto * 2 ** c.persistBackoff, c.ctx.cfg.maxRto);
  } else {
    c.persistAt = undefined;
  }
}

/** A persist probe: when the window has room for anything, send what fits (Linux's
 *  tcp_write_wakeup); otherwise the caller sends a bare probe. */
function sendProbeData(c: TcpConnection, now: number, out: Datagram[]): boolean {
  switch (c.state) {
    case 'ESTABLISHED':
    case 'CLOSE-WAIT':
    case 'FIN-WAIT-1':
    case 'CLOSING':
    case 'LAST-ACK':
      break;
    default:
      return false;
  }
  const avail = seqSub(c.dataEnd(), c.sndMax);
  const rwndRoom = seqSub(seqAdd(c.sndUna, c.sndWnd), c.sndMax);
  const gateRoom = c.sendLimit === undefined ? Infinity : seqSub(c.sendLimit, c.sndMax);
  const sack = c.sackBlocks();
  const len = Math.min(avail, rwndRoom, gateRoom, pieceSize(c, sack));
  if (len <= 0 || seqLt(c.sndNxt, c.sndMax)) return false;
  const sndMax = c.sndMax;
  const payload = c.sendQueue.read(seqSub(sndMax, c.dataStart()), len);
  emit(c, now, out, sndMax, payload, ACK | PSH, undefined, sack);
  c.sndMax = c.sndNxt = seqAdd(sndMax, len);
  c.rtoAt ??= now + c.rtt.rto;
  return true;
}

/** Build and queue one segment with the current ACK, window and options. */
export function emit(c: TcpConnection, now: number, out: Datagram[], seq: number, payload: Buffer, flags: number,
  gsoSize: number | undefined, sack: readonly SackBlock[]): void {
  const ack = c.effAck();
  const window = selectWindow(c, ack);
  let options: TcpOptions;
  if (c.tsOk) {
    const val = c.tsNow(now);
    c.tsLastSent = val;
    options = sack.length > 0 ? { ts: { val, ecr: c.tsRecent }, sack } : { ts: { val, ecr: c.tsRecent } };
  } else {
    options = sack.length > 0 ? { sack } : NO_OPTIONS;
  }
  const seg: TcpSegment = gsoSize === undefined
    ? { srcPort: c.localPort, dstPort: c.remotePort, seq, ack, flags, window, options, payload }
    : { srcPort: c.localPort, dstPort: c.remotePort, seq, ack, flags, window, options, payload, gsoSize };
  c.lastAckSent = ack;
  c.ackNow = false;
  // While the gate holds the ACK back, what we could not acknowledge yet is owed at
  // once: when the gate opens, the ACK goes out without waiting for another timer.
  if (ack === c.rcvNxt) c.delackAt = undefined;
  else c.delackAt ??= now;
  push(c, out, seg);
}

const NO_OPTIONS: TcpOptions = {};

function push(c: TcpConnection, out: Datagram[], seg: TcpSegment): void {
  const stats = c.ctx.stats;
  stats.segsOut++;
  stats.bytesOut += seg.payload.length;
  out.push({ src: c.localAddr, dst: c.remoteAddr, seg });
}

/** The window field for a segment acknowledging `ack`. The right edge moves right only
 *  by a useful amount (receiver SWS avoidance, RFC 9293 3.8.6.2.2: "min(Fr * RCV.BUFF,
 *  Eff.snd.MSS)", Fr = 1/2) and never moves left (RFC 7323 §2.4; a shrinking window
 *  is also what a restored connection must not show). */
export function selectWindow(c: TcpConnection, ack: number): number {
  const rcvBuf = c.ctx.cfg.rcvBuf;
  const shift = c.rcvWndShift;
  const unit = 2 ** shift;
  const free = Math.max(0, rcvBuf - c.recvQueue.length);
  // Never beyond ack + rcvBuf: while the replication gate holds the ACK below rcvNxt,
  // an edge counted from rcvNxt would promise room a backup rebuilt from the confirmed
  // point cannot honour, and the window would shrink across a takeover. (Without the
  // gate ack = rcvNxt and this changes nothing.)
  let right = seqMin(seqAdd(c.rcvNxt, free), seqAdd(ack, rcvBuf));
  if (seqSub(right, c.rcvAdvEdge) < Math.min(rcvBuf / 2, c.rcvMssEst)) right = c.rcvAdvEdge;
  const wnd = Math.max(0, seqSub(right, ack));
  let field = Math.floor(wnd / unit);
  // Rounding down must not pull the edge left of what we promised: round up instead.
  if (seqLt(seqAdd(ack, field * unit), c.rcvAdvEdge)) field = Math.ceil(Math.max(0, seqSub(c.rcvAdvEdge, ack)) / unit);
  if (field > 0xffff) field = 0xffff;
  const edge = seqAdd(ack, field * unit);
  if (seqGt(edge, c.rcvAdvEdge)) c.rcvAdvEdge = edge;
  return field;
}
