// One segment in (smoltcp's `process`): RFC 9293 §3.10.7.4 "SEGMENT ARRIVES" for a
// connection that exists, in the RFC's order — PAWS (RFC 7323), sequence number,
// RST (RFC 5961 §3), SYN (RFC 5961 §4), ACK (per state), segment text, FIN. Nothing is
// sent from here: the connection is marked (ackNow, rtxPending, timers) and dispatch.ts
// decides what goes out. Bad input is dropped and counted; nothing here throws on it.

import { Assembler } from './assembler.js';
import { type TcpConnection, EV_END, EV_READABLE, EV_UPDATED, EV_WRITABLE, connError } from './connection.js';
import { ACK, FIN, RST, SYN, type TcpSegment } from './segment.js';
import { Scoreboard } from './scoreboard.js';
import { seqAdd, seqGe, seqGt, seqInRange, seqLe, seqLt, seqSub } from './seq.js';
import type { DropReason } from './stats.js';
import { processSynSent } from './active-open.js';
import { rackDetect } from './timers.js';

/** Largest out-of-order span held: RFC 7323 caps a window at 2^30. The receive window
 *  itself (trimming below) is what really bounds it. */
const OOO_CAPACITY = 2 ** 30;
const EMPTY = Buffer.alloc(0);

export function processSegment(c: TcpConnection, seg: TcpSegment, now: number): void {
  // The peer spoke before the takeover's paced kick reached this connection: kick it
  // now, so the answer (and our resend) goes at once rather than at its turn.
  if (c.kickHeld) {
    c.kick(now);
    // It spoke: no probe is needed to make it (an adopted half-open's kick is one, and
    // the kick probe timer watches for silence).
    c.probeNow = false;
    c.kickProbeAt = undefined;
  }
  if (c.state === 'SYN-SENT') {
    processSynSent(c, seg, now);
    return;
  }
  if (c.state === 'CLOSED' || c.state === 'LISTEN') return;
  const stats = c.ctx.stats;
  const flags = seg.flags;
  const ts = c.tsOk ? seg.options.ts : undefined;

  // RFC 7323 §5.3 R1: "If there is a Timestamps option in the arriving segment,
  // SEG.TSval < TS.Recent, and if TS.Recent is valid, then treat the arriving segment
  // as not acceptable: Send an acknowledgment in reply as specified in [RFC793] page
  // 69 and drop the segment." (R1 exempts RSTs, as Linux does.)
  if (ts !== undefined && !(flags & RST) && seqLt(ts.val, c.tsRecent)) {
    stats.pawsDrops++;
    drop(c, 'paws');
    c.ackNow = true;
    return;
  }

  // A retransmitted SYN while half-open: our SYN-ACK was lost; send it again (what
  // Linux's tcp_check_req does) rather than treat it as a new SYN.
  if (c.state === 'SYN-RECEIVED' && (flags & (SYN | ACK | RST | FIN)) === SYN && seg.seq === c.irs) {
    c.sndNxt = c.iss;
    return;
  }

  // RFC 9293 fourth check / RFC 5961 §4.2: "If the SYN bit is set, irrespective of the
  // sequence number, TCP endpoints MUST send a "challenge ACK" to the remote peer".
  // Checked before the window (as Linux does) so an out-of-window SYN counts too.
  if (flags & SYN) {
    if (c.state === 'SYN-RECEIVED') {
      // "If the connection was initiated with a passive OPEN, then return this
      // connection to the LISTEN state and return."
      drop(c, 'synChallenged');
      c.enterClosed(undefined, false);
      return;
    }
    challengeAck(c, now, 'synChallenged');
    return;
  }

  // RFC 9293 first check: the sequence number.
  const segLen = seg.payload.length + (flags & FIN ? 1 : 0);
  const wnd = c.rcvWnd();
  let zeroWindowData = false;
  if (!acceptable(seg.seq, segLen, c.rcvNxt, wnd)) {
    if (flags & RST) {
      // RFC 5961 §3.2: "If the RST bit is set and the sequence number is outside the
      // current receive window, silently drop the segment."
      drop(c, 'rstOutOfWindow');
      return;
    }
    if (wnd === 0 && seg.seq === c.rcvNxt) {
      // "If the RCV.WND is zero, no segments will be acceptable, but special allowance
      // should be made to accept valid ACKs, URGs, and RSTs."
      zeroWindowData = true;
    } else {
      // "If an incoming segment is not acceptable, an acknowledgment should be sent in
      // reply (unless the RST bit is set, if so drop the segment and return)".
      if (c.state === 'TIME-WAIT' && flags & FIN) c.timeWaitAt = now + c.ctx.cfg.timeWaitMs;
      drop(c, 'outOfWindow');
      c.ackNow = true;
      return;
    }
  }

  // RFC 9293 second check / RFC 5961 §3.2: "If the RST bit is set and the sequence
  // number exactly matches the next expected sequence number (RCV.NXT), then TCP
  // endpoints MUST reset the connection ... If the RST bit is set and the sequence
  // number does not exactly match the next expected sequence value, yet is within the
  // current receive window, TCP endpoints MUST send an acknowledgment (challenge ACK)".
  if (flags & RST) {
    stats.rstIn++;
    if (seg.seq !== c.rcvNxt) {
      challengeAck(c, now, 'rstChallenged');
      return;
    }
    stats.resets++;
    switch (c.state) {
      case 'SYN-RECEIVED':
        // "If this connection was initiated with a passive OPEN (i.e., came from the
        // LISTEN state), then return this connection to LISTEN state and return. The
        // user need not be informed."
        c.enterClosed(undefined, false);
        return;
      case 'ESTABLISHED':
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSE-WAIT':
        // "any outstanding RECEIVEs and SEND should receive "reset" responses ... Users
        // should also receive an unsolicited general "connection reset" signal. Enter the
        // CLOSED state, delete the TCB, and return."
        c.enterClosed(connError('ECONNRESET'));
        return;
      case 'CLOSING':
      case 'LAST-ACK':
        // "If the RST bit is set, then enter the CLOSED state, delete the TCB, and
        // return." Both FINs were sent; if all our data was acknowledged (only the FIN
        // is outstanding: the peer finished and forgot us) nothing was lost. Otherwise
        // the application hears of the reset.
        c.enterClosed(seqLt(c.sndUna, c.finSeq!) ? connError('ECONNRESET') : undefined);
        return;
      case 'TIME-WAIT':
        c.enterClosed(undefined, false);
        return;
      default:
        return;
    }
  }

  // RFC 7323 §4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent, then
  // SEG.TSval is copied to TS.Recent; otherwise, it is ignored."
  if (ts !== undefined && seqGe(ts.val, c.tsRecent) && seqLe(seg.seq, c.lastAckSent)) c.tsRecent = ts.val;

  // RFC 9293 fifth check: "if the ACK bit is off, drop the segment and return".
  if (!(flags & ACK)) {
    drop(c, 'noAck');
    return;
  }

  // Anything acceptable from the peer proves it alive (keepalive, persist, RTO).
  c.lastRcvAt = now;
  c.keepaliveProbes = 0;
  if (c.keepAlive) c.keepaliveAt = now + c.keepAliveIdleMs;

  switch (c.state) {
    case 'SYN-RECEIVED': {
      // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue
      // processing with the variables below set to: SND.WND <- SEG.WND, SND.WL1 <-
      // SEG.SEQ, SND.WL2 <- SEG.ACK. If the segment acknowledgment is not acceptable,
      // form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it."
      if (!(seqLt(c.sndUna, seg.ack) && seqLe(seg.ack, c.sndMax))) {
        drop(c, 'badAckInSynRcvd');
        c.ctx.sendRst(c, seg.ack, undefined);
        return;
      }
      if (!c.ctx.canEstablish(c)) {
        // Linux (tcp_abort_on_overflow = 0): drop the ACK; the SYN-ACK timer tries again.
        drop(c, 'acceptQueueFull');
        return;
      }
      c.sndWnd = seg.window * 2 ** c.sndWndShift;
      c.sndWl1 = seg.seq;
      c.sndWl2 = seg.ack;
      c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
      c.setState(c.finSeq === undefined ? 'ESTABLISHED' : 'FIN-WAIT-1');
      c.ctx.established(c);
      if (!processAck(c, seg, now)) return;
      break;
    }
    case 'ESTABLISHED':
    case 'CLOSE-WAIT':
      // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK ... If the ACK is a
      // duplicate (SEG.ACK =< SND.UNA), it can be ignored. If the ACK acks something not
      // yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the segment, and return."
      if (!processAck(c, seg, now)) return;
      break;
    case 'FIN-WAIT-1':
      // "In addition to the processing for the ESTABLISHED state, if the FIN segment is
      // now acknowledged, then enter FIN-WAIT-2 and continue processing in that state."
      if (!processAck(c, seg, now)) return;
      if (c.finAcked()) c.setState('FIN-WAIT-2');
      break;
    case 'FIN-WAIT-2':
      // "In addition to the processing for the ESTABLISHED state, if the retransmission
      // queue is empty, the user's CLOSE can be acknowledged ("ok") but do not delete
      // the TCB."
      if (!processAck(c, seg, now)) return;
      break;
    case 'CLOSING':
      // "In addition to the processing for the ESTABLISHED state, if the ACK
      // acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore the
      // segment."
      if (!processAck(c, seg, now)) return;
      if (c.finAcked()) c.enterTimeWait(now);
      return;
    case 'LAST-ACK':
      // "The only thing that can arrive in this state is an acknowledgment of our FIN.
      // If our FIN is now acknowledged, delete the TCB, enter the CLOSED state, and
      // return."
      if (!processAck(c, seg, now)) return;
      if (c.finAcked()) {
        // The stack absorbs late duplicates of this ACK for a while (TcpStack.#linger).
        c.closedGracefully = true;
        c.enterClosed(undefined);
      }
      return;
    case 'TIME-WAIT':
      // "The only thing that can arrive in this state is a retransmission of the remote
      // FIN. Acknowledge it, and restart the 2 MSL timeout."
      if (flags & FIN) {
        c.ackNow = true;
        c.timeWaitAt = now + c.ctx.cfg.timeWaitMs;
      }
      return;
    default:
      return;
  }

  // RFC 9293 seventh and eighth: segment text and FIN, in ESTABLISHED, FIN-WAIT-1 and
  // FIN-WAIT-2. CLOSE-WAIT/CLOSING/LAST-ACK/TIME-WAIT: "This should not occur since a
  // FIN has been received from the remote side. Ignore the segment text."
  if (c.state === 'ESTABLISHED' || c.state === 'FIN-WAIT-1' || c.state === 'FIN-WAIT-2') {
    if (seg.payload.length > 0 || flags & FIN) receiveText(c, seg, now, zeroWindowData);
  }
}

/** RFC 9293's table of the four acceptability cases. */
function acceptable(seq: number, len: number, rcvNxt: number, wnd: number): boolean {
  const right = seqAdd(rcvNxt, wnd);
  if (len === 0) return wnd === 0 ? seq === rcvNxt : seqInRange(seq, rcvNxt, right);
  if (wnd === 0) return false;
  return seqInRange(seq, rcvNxt, right) || seqInRange(seqAdd(seq, len - 1), rcvNxt, right);
}

export function drop(c: TcpConnection, reason: DropReason): void {
  c.ctx.stats.dropped[reason]++;
  c.ctx.log.debug({ conn: c.id(), reason }, 'segment dropped');
}

/** RFC 5961 §7: challenge ACKs are rate-limited for the whole stack. */
export function challengeAck(c: TcpConnection, now: number, reason: DropReason): void {
  drop(c, reason);
  if (c.ctx.allowChallengeAck(now)) {
    c.ctx.stats.challengeAcks++;
    c.ackNow = true;
  } else {
    c.ctx.stats.dropped.challengeAckLimit++;
  }
}

/** The ACK field of a synchronized connection. Returns false when the segment must be
 *  dropped. */
function processAck(c: TcpConnection, seg: TcpSegment, now: number): boolean {
  const ack = seg.ack;
  // RFC 5961 §5.2: "The ACK value is considered acceptable only if it is in the range of
  // ((SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT). All incoming segments whose ACK
  // value doesn't satisfy the above condition MUST be discarded and an ACK sent back."
  // SND.NXT is our sndMax: after a timeout sndNxt runs behind what was sent.
  if (c.replayAckLimit !== undefined) {
    // Past the limit no ACK can be for bytes the old primary sent: the exception ends
    // (it would otherwise widen the check above for good, and after 2 GiB more, wrap).
    if (seqGe(c.sndMax, c.replayAckLimit)) c.replayAckLimit = undefined;
    else if (seqGt(ack, c.sndMax) && seqLe(ack, c.replayAckLimit) && (c.finSeq === undefined || seqLe(ack, c.finSeq))) replayCatchUp(c, ack);
  }
  if (seqGt(ack, c.sndMax) || seqLt(ack, seqAdd(c.sndUna, -c.maxSndWnd))) {
    challengeAck(c, now, 'ackUnacceptable');
    return false;
  }
  const scaled = seg.window * 2 ** c.sndWndShift;
  // RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT": outstanding data, no data, no SYN/FIN, the
  // same acknowledgment number and the same window.
  const isDup = ack === c.sndUna && seg.payload.length === 0 && !(seg.flags & (SYN | FIN))
    && scaled === c.sndWnd && c.sndMax !== c.sndUna;

  // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If (SND.WL1 <
  // SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, set
  // SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
  if (seqGe(ack, c.sndUna) && (seqLt(c.sndWl1, seg.seq) || (c.sndWl1 === seg.seq && seqLe(c.sndWl2, ack)))) {
    if (scaled !== c.sndWnd) c.events |= EV_UPDATED;
    c.sndWnd = scaled;
    c.sndWl1 = seg.seq;
    c.sndWl2 = ack;
    if (scaled > c.maxSndWnd) c.maxSndWnd = scaled;
  }

  const newAck = seqGt(ack, c.sndUna);
  const blocks = seg.options.sack;
  let newlySacked = 0;
  if (c.sackOk && blocks !== undefined && blocks.length > 0) {
    c.scoreboard ??= new Scoreboard();
    newlySacked = c.scoreboard.update(newAck ? ack : c.sndUna, blocks, c.sndMax);
  }
  if (newAck) onNewAck(c, seg, now);
  // RFC 5681 §2: "a TCP that utilizes selective acknowledgments ... can leverage the
  // SACK information to determine when an incoming ACK is a "duplicate" (e.g., if the
  // ACK contains previously unknown SACK information)" — a window that moves while the
  // peer buffers out-of-order data must not hide the loss until the RTO.
  else if (isDup || (newlySacked > 0 && ack === c.sndUna && c.sndMax !== c.sndUna)) onDupAck(c, now);
  if (c.rtxLog !== undefined && c.rtxLog.size > 0) {
    rackDetect(c, now);
    // RFC 8985 §6.2: RACK may find a loss before DupThresh SACKs do (a whole lost
    // frame, a lost tail after a probe): it starts recovery as well.
    if (!c.inRecovery && c.rtxLog.hasLost() && c.scoreboard !== undefined && c.scoreboard.sackedBytes > 0
      && seqGe(c.sndUna, c.recoverPoint)) enterRecovery(c, now);
  }
  // The peer answered: zero-window probes are not going unheard.
  c.persistProbes = 0;
  return true;
}

/** Output replay (TcpConnection.replayAckLimit): the client acknowledges bytes the
 *  dead primary sent and the backup never held. They count as sent: what the queue
 *  holds of them is acknowledged by the normal path below; past the queue's end, the
 *  app's regenerated bytes up to the ACK are dropped as they come (replaySkip). Never
 *  past our FIN's place (a FIN is sent only once the backup holds it, so such an ACK
 *  cannot be the client's). */
function replayCatchUp(c: TcpConnection, ack: number): void {
  const end = c.dataEnd();
  c.ctx.stats.replayCatchUps++;
  if (seqLe(ack, end)) {
    c.sndNxt = c.sndMax = ack;
    return;
  }
  const skip = seqSub(ack, end);
  c.replaySkip += skip;
  c.bytesWritten += skip;
  c.sendQueue.drop(c.sendQueue.length);
  c.sndUna = c.sndNxt = c.sndMax = c.highRxt = c.recoverPoint = ack;
  c.scoreboard = undefined;
  c.rtxLog?.clear();
  c.rtoAt = undefined;
  c.tlpAt = undefined;
  c.retries = 0;
  c.events |= EV_UPDATED;
  // The queue emptied: an app blocked on a full queue writes on (onNewAck, which would
  // say so, does not run: this ACK is snd_una now).
  if (c.wantWritable) {
    c.wantWritable = false;
    c.events |= EV_WRITABLE;
  }
}

function onNewAck(c: TcpConnection, seg: TcpSegment, now: number): void {
  const ack = seg.ack;
  let dataAcked = seqSub(ack, c.sndUna);
  if (c.sndUna === c.iss) dataAcked--; // the SYN
  if (c.finSeq !== undefined && seqGt(ack, c.finSeq)) dataAcked--; // our FIN
  c.sendQueue.drop(dataAcked);
  c.sndUna = ack;
  if (seqLt(c.sndNxt, ack)) c.sndNxt = ack;
  if (seqLt(c.highRxt, ack)) c.highRxt = ack;
  c.events |= EV_UPDATED;

  // RTT: timestamps when agreed (RFC 7323 §4.1: TSecr of an ACK for new data), else
  // the one timed segment (RFC 6298 §3, Karn: never a retransmitted one).
  let rttMs: number | undefined;
  const ts = c.tsOk ? seg.options.ts : undefined;
  if (ts !== undefined && ts.ecr !== 0) {
    const d = seqSub(c.tsNow(now), ts.ecr);
    if (c.tsEpoch !== undefined && seqLt(ts.ecr, c.tsEpoch)) {
      // Restored: this echoes a segment the previous host sent (see tsEpoch).
    } else if (d >= 0) {
      rttMs = d;
      c.tsEpoch = undefined;
    }
  } else if (c.rttSeq !== undefined && seqGe(ack, c.rttSeq)) {
    rttMs = now - c.rttTime;
    c.rttSeq = undefined;
  }
  if (rttMs !== undefined) c.rtt.sample(rttMs);
  else c.rtt.resetBackoff();
  c.retries = 0;
  c.tlpAt = undefined;
  c.tlpOut = false;

  const mss = c.effMss;
  const inFlight = seqSub(c.sndMax, ack);
  if (c.inRecovery) {
    if (seqGe(ack, c.recoverPoint)) {
      // RFC 6582 §3.2 step 3, full acknowledgment: "Set cwnd to either (1) min
      // (ssthresh, max(FlightSize, SMSS) + SMSS) or (2) ssthresh ... Exit the fast
      // recovery procedure." (RFC 6675 §5: recovery ends at RecoveryPoint too.)
      c.inRecovery = false;
      c.sackRecovery = false;
      c.dupAcks = 0;
      c.cc.cwnd = Math.max(Math.min(c.cc.ssthresh, Math.max(inFlight, mss) + mss), mss);
    } else if (!c.sackRecovery) {
      // RFC 6582 §3.2 step 4, partial acknowledgment: "Retransmit the first
      // unacknowledged segment ... deflate the congestion window by the amount of new
      // data acknowledged by the Cumulative Acknowledgment field. If the partial ACK
      // acknowledges at least one SMSS of new data, then add back SMSS bytes".
      c.rtxPending = true;
      c.cc.cwnd = Math.max(c.cc.cwnd - dataAcked + (dataAcked >= mss ? mss : 0), mss);
    }
    // RFC 6675: a partial ACK keeps recovery going; NextSeg() chooses what to send.
  } else {
    c.dupAcks = 0;
    if (dataAcked > 0) c.cc.onAck(dataAcked, now, rttMs, inFlight);
  }

  // RFC 6298 (5.2) "When all outstanding data has been acknowledged, turn off the
  // retransmission timer." (5.3) "When an ACK is received that acknowledges new data,
  // restart the retransmission timer so that it will expire after RTO seconds".
  c.rtoAt = c.sndUna === c.sndMax ? undefined : now + c.rtt.rto;

  if (c.wantWritable && c.sendQueue.length < c.ctx.cfg.sndBuf) {
    c.wantWritable = false;
    c.events |= EV_WRITABLE;
  }
}

function onDupAck(c: TcpConnection, now: number): void {
  c.dupAcks++;
  if (!c.inRecovery) {
    const sb = c.scoreboard;
    // RFC 6675 §5: "(a) ... DupAcks >= DupThresh ... (b) ... IsLost (HighACK + 1)".
    const lost = c.sackOk && sb !== undefined && sb.isLost(c.sndUna, c.effMss);
    // RFC 6582 §3.2 step 2: only "if the Cumulative Acknowledgment field covers more
    // than recover" — not again for the same window of data.
    if ((c.dupAcks >= 3 || lost) && seqGe(c.sndUna, c.recoverPoint)) enterRecovery(c, now);
  } else if (!c.sackRecovery) {
    // RFC 5681 §3.2 step 4: "For each additional duplicate ACK received (after the
    // third), cwnd MUST be incremented by SMSS."
    c.cc.cwnd += c.effMss;
  }
}

/** Fast retransmit: RFC 5681 §3.2 steps 2-3 / RFC 6582, or RFC 6675 §5 when the peer
 *  reports SACK blocks (a peer that agreed to SACK but sends none gets NewReno). */
function enterRecovery(c: TcpConnection, now: number): void {
  const sb = c.scoreboard;
  c.inRecovery = true;
  c.sackRecovery = c.sackOk && sb !== undefined && sb.sackedBytes > 0;
  c.recoverPoint = c.sndMax;
  c.ctx.stats.fastRetransmits++;
  const flight = seqSub(c.sndMax, c.sndUna);
  // RFC 6675 §5 step 4.2 / RFC 5681 (4): "ssthresh = cwnd = (FlightSize / 2)".
  c.cc.onCongestionEvent(now, flight);
  // RFC 5681 step 3: "set cwnd to ssthresh plus 3*SMSS. This artificially "inflates"
  // the congestion window by the number of segments (three) that have left the network".
  if (!c.sackRecovery) c.cc.cwnd = c.cc.ssthresh + 3 * c.effMss;
  c.highRxt = c.sndUna;
  c.rtxPending = true;
  c.rttSeq = undefined;
  c.tlpAt = undefined;
}

/** RFC 9293 seventh (segment text) and eighth (FIN) steps. */
function receiveText(c: TcpConnection, seg: TcpSegment, now: number, zeroWindow: boolean): void {
  let seq = seg.seq;
  let data = seg.payload;
  const finAt = seqAdd(seg.seq, seg.payload.length);
  let fin = (seg.flags & FIN) !== 0 && seqGe(finAt, c.rcvNxt);
  if (zeroWindow) {
    // Accept the ACK, not the data; a bare FIN is fine (Linux accepts it too).
    if (data.length > 0) {
      c.ackNow = true;
      fin = false;
    }
    data = EMPTY;
  }
  // Trim what we already have ("segments with higher beginning sequence numbers may
  // be held"; the part below RCV.NXT is a duplicate).
  const skip = seqSub(c.rcvNxt, seq);
  if (skip > 0) {
    data = skip >= data.length ? EMPTY : data.subarray(skip);
    seq = c.rcvNxt;
    if (seg.payload.length > 0) c.ackNow = true; // a retransmission: our ACK was lost
  }
  // Trim to the right edge we advertised.
  const room = seqSub(c.rcvAdvEdge, seq);
  if (data.length > room) {
    data = room <= 0 ? EMPTY : data.subarray(0, room);
    fin = false;
    c.ackNow = true;
  }
  if (fin && seqGe(finAt, c.rcvAdvEdge) && !(data.length === 0 && finAt === c.rcvNxt)) fin = false;
  // Nothing exists beyond the peer's FIN (one processed, or one held out of order).
  const knownFin = c.rcvFinSeq ?? c.rcvFinOoo;
  if (knownFin !== undefined) {
    const lim = seqSub(knownFin, seq);
    if (data.length > lim) {
      drop(c, 'dataAfterFin');
      data = lim <= 0 ? EMPTY : data.subarray(0, lim);
    }
    if (fin && finAt !== knownFin) fin = false;
  }
  if (fin && c.rcvFinSeq === undefined) c.rcvFinOoo = finAt;

  if (data.length > 0) {
    if (c.ctx.cfg.copyPayload) data = Buffer.from(data);
    if (data.length <= c.rcvMss && data.length > c.rcvMssEst) c.rcvMssEst = data.length;
    if (seq === c.rcvNxt) {
      deliver(c, seq, data);
      let filled = false;
      if (c.ooo !== undefined && !c.ooo.isEmpty) {
        const more = c.ooo.take(c.rcvNxt);
        if (more !== undefined) {
          for (const b of more) deliver(c, c.rcvNxt, b);
          filled = true;
        }
      }
      // RFC 5681 §4.2: "an immediate ACK [SHOULD be sent] when the segment fills in all
      // or part of a gap in the sequence space"; otherwise the delayed ACK applies
      // (dispatch ACKs at once when two full segments are unacknowledged).
      if (filled || (c.ooo !== undefined && !c.ooo.isEmpty)) c.ackNow = true;
      else if (c.delackAt === undefined) c.delackAt = now + c.ctx.cfg.delayedAckMs;
    } else {
      // RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate duplicate ACK when an
      // out-of-order segment arrives."
      c.ooo ??= new Assembler(OOO_CAPACITY);
      c.ooo.insert(seq, data, c.rcvNxt);
      c.ackNow = true;
    }
  }

  if (c.rcvFinOoo !== undefined && c.rcvFinOoo === c.rcvNxt) processFin(c, now);
}

function deliver(c: TcpConnection, seq: number, data: Buffer): void {
  c.recvQueue.push(data);
  c.rcvNxt = seqAdd(c.rcvNxt, data.length);
  c.events |= EV_READABLE;
  c.observer?.received?.(c, seq, data);
}

/** RFC 9293 eighth step, "check the FIN bit", once everything before it has arrived. */
function processFin(c: TcpConnection, now: number): void {
  c.rcvFinSeq = c.rcvNxt;
  c.rcvFinOoo = undefined;
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.ackNow = true;
  c.events |= EV_END | EV_UPDATED;
  if (c.ooo !== undefined) c.ooo.clear();
  switch (c.state) {
    case 'SYN-RECEIVED':
    case 'ESTABLISHED':
      // "Enter the CLOSE-WAIT state."
      c.setState('CLOSE-WAIT');
      break;
    case 'FIN-WAIT-1':
      // "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT,
      // start the time-wait timer, turn off the other timers; otherwise, enter the
      // CLOSING state."
      if (c.finAcked()) c.enterTimeWait(now);
      else c.setState('CLOSING');
      break;
    case 'FIN-WAIT-2':
      // "Enter the TIME-WAIT state. Start the time-wait timer, turn off the other timers."
      c.enterTimeWait(now);
      break;
    default:
      // CLOSE-WAIT, CLOSING, LAST-ACK: "Remain in the ... state."
      break;
  }
}
