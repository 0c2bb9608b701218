// Timer expiries of one connection and its next deadline (smoltcp's `poll_at`). Timers
// are absolute times on the TCB; the stack keeps one heap over all connections and
// calls runTimers() when a deadline passes. Nothing here reads a clock.

import { type TcpConnection, connError } from './connection.js';
import { seqSub } from './seq.js';

/** RFC 8985 §6.2: "RACK.reo_wnd = RACK.min_RTT / 4" by default; the RTT here is SRTT
 *  (no windowed minimum is kept) and the window at least 1 ms, the clock's grain. */
export function reoWnd(c: TcpConnection): number {
  return Math.max(1, (c.rtt.srtt ?? 0) / 4);
}

/** Look for lost retransmissions (rack.ts) and arm the reordering timer for those
 *  still within their window. */
export function rackDetect(c: TcpConnection, now: number): void {
  const log = c.rtxLog;
  if (log === undefined || log.size === 0) {
    c.rackAt = undefined;
    return;
  }
  c.rackAt = log.update(c.sndUna, c.scoreboard, now, c.rtt.srtt ?? 0, reoWnd(c));
}

/** RFC 8985 §7.2: "PTO = 2 * SRTT", plus the peer's delayed-ACK allowance when one
 *  segment is in flight, never past the RTO. The floor (Linux's is 10 ms too) keeps a
 *  sub-millisecond SRTT from probing every poll. */
export function armTlp(c: TcpConnection, now: number): void {
  const srtt = c.rtt.srtt;
  if (!c.sackOk || c.inRecovery || c.tlpOut || c.tlpAt !== undefined || c.sndUna === c.sndMax
    || srtt === undefined || c.rtoAt === undefined) return;
  let pto = Math.max(2 * srtt, 10);
  if (seqSub(c.sndMax, c.sndUna) <= c.effMss) pto += c.ctx.cfg.delayedAckMs;
  const at = now + pto;
  if (at < c.rtoAt) c.tlpAt = at;
}

/** Kick probes after a takeover (connection.ts kickProbeAt): at RTO, 2 RTO, 4 RTO. */
export const MAX_KICK_PROBES = 3;

export function runTimers(c: TcpConnection, now: number): void {
  // Held for the takeover's kick: its timers wait for it (they start afresh there).
  if (c.kickHeld) return;
  if (c.timeWaitAt !== undefined && now >= c.timeWaitAt) {
    // RFC 9293 3.10.8: "If the time-wait timeout expires on a connection, delete the
    // TCB, enter the CLOSED state, and return."
    c.timeWaitAt = undefined;
    c.enterClosed(undefined, false);
    return;
  }
  if (c.rackAt !== undefined && now >= c.rackAt) {
    // The reordering window of an overtaken retransmission ran out: dispatch resends it.
    c.rackAt = undefined;
    rackDetect(c, now);
  }
  if (c.tlpAt !== undefined && now >= c.tlpAt) {
    c.tlpAt = undefined;
    if (!c.inRecovery && c.sndUna !== c.sndMax) {
      c.tlpOut = true;
      c.tlpNow = true;
    }
  }
  if (c.rtoAt !== undefined && now >= c.rtoAt) onRetransmitTimeout(c, now);
  if (closed(c)) return;
  if (c.persistAt !== undefined && now >= c.persistAt) onPersist(c, now);
  if (closed(c)) return;
  if (c.keepaliveAt !== undefined && now >= c.keepaliveAt) onKeepalive(c, now);
  if (c.kickProbeAt !== undefined && now >= c.kickProbeAt) onKickProbe(c, now);
}

/** Read through a call so the compiler does not narrow the state across mutations. */
function closed(c: TcpConnection): boolean {
  return c.state === 'CLOSED';
}

/** The earliest time this connection needs a poll; undefined when idle. */
export function nextDeadline(c: TcpConnection): number | undefined {
  if (c.kickHeld) return undefined;
  let t = c.rtoAt;
  if (c.kickProbeAt !== undefined && (t === undefined || c.kickProbeAt < t)) t = c.kickProbeAt;
  if (c.rackAt !== undefined && (t === undefined || c.rackAt < t)) t = c.rackAt;
  if (c.tlpAt !== undefined && (t === undefined || c.tlpAt < t)) t = c.tlpAt;
  if (c.persistAt !== undefined && (t === undefined || c.persistAt < t)) t = c.persistAt;
  if (c.keepaliveAt !== undefined && (t === undefined || c.keepaliveAt < t)) t = c.keepaliveAt;
  if (c.timeWaitAt !== undefined && (t === undefined || c.timeWaitAt < t)) t = c.timeWaitAt;
  if (c.delackAt !== undefined && (t === undefined || c.delackAt < t) && seqSub(c.effAck(), c.lastAckSent) > 0) {
    t = c.delackAt;
  }
  return t;
}

/** Keepalive runs on a synchronized connection whose application asked for it. */
export function armKeepalive(c: TcpConnection, now: number): void {
  if (!c.keepAlive || c.keepaliveAt !== undefined) return;
  switch (c.state) {
    case 'ESTABLISHED':
    case 'CLOSE-WAIT':
    case 'FIN-WAIT-1':
    case 'FIN-WAIT-2':
      c.keepaliveAt = now + c.keepAliveIdleMs;
      break;
    default:
      break;
  }
}

function onRetransmitTimeout(c: TcpConnection, now: number): void {
  const cfg = c.ctx.cfg;
  const stats = c.ctx.stats;
  c.rtoAt = undefined;
  if (c.sndUna === c.sndMax) return;
  stats.rtoFires++;
  if (c.state === 'SYN-RECEIVED' || c.state === 'SYN-SENT') {
    const limit = c.state === 'SYN-RECEIVED' ? cfg.synAckRetries : cfg.synAckRetries + 1;
    if (c.retries >= limit) {
      stats.timeouts++;
      // A half-open passive connection goes quietly (Linux drops the request sock);
      // an active open reports the failure.
      if (c.state === 'SYN-RECEIVED') c.enterClosed(undefined, false);
      else c.enterClosed(connError('ETIMEDOUT'));
      return;
    }
    c.retries++;
    c.rtt.backoff();
    if (c.adoptedHalfOpen) {
      // A keepalive-style probe (ACK at snd_una - 1) draws a plain ACK from an
      // ESTABLISHED client, which completes our handshake; a client still in SYN-SENT
      // retransmits its SYN, which gets a SYN-ACK as usual.
      c.probeNow = true;
      c.rtoAt = now + c.rtt.rto;
      return;
    }
    c.sndNxt = c.iss;
    return;
  }
  // Linux's tcp_retries2: give up after this many retransmissions of the same data —
  // except when the peer closed its window and keeps answering: then our
  // retransmissions are window probes and a live peer is not timed out (as Linux's
  // tcp_retransmit_timer: "Receiver dastardly shrinks window").
  const shrunk = c.sndWnd === 0 && now - c.lastRcvAt <= cfg.maxRto;
  if (c.retries >= cfg.maxRetries && !shrunk) {
    stats.timeouts++;
    c.enterClosed(connError('ETIMEDOUT'));
    return;
  }
  // RFC 6298 (5.4) "Retransmit the earliest segment that has not been acknowledged",
  // (5.5) "set RTO <- RTO * 2", (5.6) restart the timer (when the segment leaves).
  // RFC 5681 §3.1: cwnd to the loss window, ssthresh halved once per episode.
  c.cc.onRetransmitTimeout(now, seqSub(c.sndMax, c.sndUna));
  c.rtt.backoff();
  if (!shrunk) c.retries++;
  // RFC 6582 §4 / RFC 6675 §5.1: a timeout ends fast recovery; "recover" becomes the
  // highest sequence number sent, so duplicate ACKs for it do not start another.
  c.inRecovery = false;
  c.sackRecovery = false;
  c.recoverPoint = c.sndMax;
  c.dupAcks = 0;
  c.rtxPending = false;
  // RFC 2018 §8: "After a retransmit timeout the data sender SHOULD turn off all of
  // the SACKed bits" (the receiver may have reneged).
  c.scoreboard?.clear();
  c.rtxLog?.clear();
  c.rackAt = c.tlpAt = undefined;
  c.tlpOut = c.tlpNow = false;
  c.highRxt = c.sndUna;
  c.rttSeq = undefined;
  c.sndNxt = c.sndUna;
}

function onPersist(c: TcpConnection, now: number): void {
  const cfg = c.ctx.cfg;
  c.persistAt = undefined;
  if (c.persistProbes >= cfg.maxRetries) {
    // The peer kept a zero window and never answered a probe.
    c.ctx.stats.timeouts++;
    c.enterClosed(connError('ETIMEDOUT'));
    return;
  }
  c.persistProbes++;
  c.persistBackoff++;
  c.probeNow = true;
  c.ctx.stats.zeroWindowProbes++;
  void now;
}

function onKeepalive(c: TcpConnection, now: number): void {
  const cfg = c.ctx.cfg;
  c.keepaliveAt = undefined;
  if (!c.keepAlive) return;
  const busy = c.sndUna !== c.sndMax || seqSub(c.dataEnd(), c.sndMax) > 0;
  if (busy) {
    // Data in flight: the retransmission timer watches the peer.
    c.keepaliveAt = now + c.keepAliveIdleMs;
    return;
  }
  if (c.keepaliveProbes >= cfg.keepAliveProbes) {
    // Linux's tcp_keepalive_timer: reset the connection and report ETIMEDOUT.
    c.ctx.stats.timeouts++;
    c.ctx.sendRst(c, c.sndMax, c.effAck());
    c.enterClosed(connError('ETIMEDOUT'));
    return;
  }
  c.keepaliveProbes++;
  c.probeNow = true;
  c.ctx.stats.keepaliveProbes++;
  c.keepaliveAt = now + cfg.keepAliveIntervalMs;
}

/** The peer has said nothing since the kick, and nothing of ours is unacknowledged (no
 *  RTO would repeat a lost kick): probe, which the peer must answer with an ACK that
 *  shows where it is. Anything heard from the peer ends it. */
function onKickProbe(c: TcpConnection, now: number): void {
  c.kickProbeAt = undefined;
  const heard = c.kickedAt !== undefined && c.lastRcvAt > c.kickedAt;
  if (heard || c.sndUna !== c.sndMax || !c.synchronized()) return;
  c.kickProbes++;
  c.probeNow = true;
  c.ctx.stats.kickProbes++;
  if (c.kickProbes < MAX_KICK_PROBES) c.kickProbeAt = now + c.rtt.rto * 2 ** c.kickProbes;
}
