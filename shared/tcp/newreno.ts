// RFC 5681 AIMD window arithmetic with RFC 3465 byte counting, plus the pieces CUBIC
// shares with it (initial window, slow start, timeout response).

import type { CcSnapshot, CongestionControl } from './congestion.js';
import { IntactError } from '../errors.js';

/** RFC 5681 §3.1: "The initial value of ssthresh SHOULD be set arbitrarily high".
 *  A finite number so snapshots survive JSON (Linux: TCP_INFINITE_SSTHRESH). */
export const INFINITE_SSTHRESH = 0x7fffffff;

/** RFC 6928 §2: "min (10*MSS, max (2*MSS, 14600))". */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

export function checkMss(mss: number): void {
  if (!Number.isInteger(mss) || mss <= 0 || mss > 65535) {
    throw new IntactError('ERR_INTACT_INVALID_ARG', `congestion control: MSS must be an integer in [1, 65535], got ${mss}`);
  }
}

export function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Whether the sender used its window: growing cwnd while the application leaves it
 *  idle builds a window the network never proved (RFC 7661 §4; RFC 9438 §5.8: "CUBIC
 *  does not increase its congestion window size if the congestion window is not fully
 *  utilized"). Linux's slow-start test, used throughout: the flight before this ACK
 *  filled at least half the window. */
export function cwndLimited(cwnd: number, ackedBytes: number, inFlight: number): boolean {
  return 2 * (inFlight + ackedBytes) >= cwnd;
}

/** The state and rules RFC 5681 gives every window-based controller. */
export abstract class WindowBase {
  cwnd: number;
  ssthresh: number;
  protected mss: number;
  protected bytesAcked = 0;
  protected rtoPending = false;
  protected afterRto = false;
  protected pristine = true;
  protected lastNow: number;
  protected carry = 0;

  constructor(mss: number, now: number, snap?: CcSnapshot) {
    if (snap !== undefined) {
      // A snapshot crossed the replication link: take what is sound, default the rest.
      const m = Number.isInteger(snap.mss) && snap.mss > 0 && snap.mss <= 65535 ? snap.mss : mss;
      checkMss(m);
      this.mss = m;
      this.cwnd = finite(snap.cwnd) ? Math.max(Math.floor(snap.cwnd), m) : initialWindow(m);
      this.ssthresh = finite(snap.ssthresh) ? Math.max(Math.floor(snap.ssthresh), 2 * m) : INFINITE_SSTHRESH;
      this.bytesAcked = finite(snap.bytesAcked) && snap.bytesAcked > 0 ? snap.bytesAcked : 0;
      this.rtoPending = snap.rtoPending === true;
      this.afterRto = snap.afterRto === true;
      this.pristine = snap.pristine === true;
      this.carry = finite(snap.carry) && snap.carry >= 0 && snap.carry < 1 ? snap.carry : 0;
    } else {
      checkMss(mss);
      this.mss = mss;
      this.cwnd = initialWindow(mss);
      this.ssthresh = INFINITE_SSTHRESH;
    }
    this.lastNow = now;
  }

  /** The MSS changed (negotiated, or path MTU). Before anything happened the initial
   *  window is recomputed for it; afterwards cwnd keeps its bytes and only the floors
   *  that are counted in segments move. */
  setMss(mss: number): void {
    checkMss(mss);
    this.mss = mss;
    if (this.pristine) this.cwnd = initialWindow(mss);
    this.cwnd = Math.max(this.cwnd, mss);
  }

  /** Slow start. RFC 5681 §3.1: "cwnd += min (N, SMSS)"; RFC 3465 §2.2 lets it grow
   *  by up to L = 2*SMSS per ACK, and §2.3 recommends L = 1*SMSS "during slow start
   *  following a retransmission timeout". Growth stops at ssthresh (as in Linux's
   *  tcp_slow_start); returns the acknowledged bytes left over for congestion
   *  avoidance when it gets there. */
  protected slowStart(ackedBytes: number): number {
    const limit = (this.afterRto ? 1 : 2) * this.mss;
    const room = this.ssthresh - this.cwnd;
    const inc = Math.min(ackedBytes, limit);
    if (inc < room) {
      this.cwnd += inc;
      return 0;
    }
    this.cwnd = this.ssthresh;
    this.afterRto = false;
    return ackedBytes - room;
  }

  /** Common ACK bookkeeping; false when the window must not grow. */
  protected beginAck(ackedBytes: number, now: number, inFlight: number): boolean {
    this.lastNow = now;
    if (!(ackedBytes > 0)) return false;
    this.pristine = false;
    // New data was acknowledged: the timed-out segment got through (RFC 5681 §3.1's
    // "held constant" applies only while the same segment keeps timing out).
    this.rtoPending = false;
    return cwndLimited(this.cwnd, ackedBytes, inFlight);
  }

  /** RFC 5681 §3.1 (4): "ssthresh = max (FlightSize / 2, 2*SMSS)", with beta in place
   *  of 1/2 for CUBIC (RFC 9438 §4.6). */
  protected reduceSsthresh(inFlight: number, beta: number): void {
    this.ssthresh = Math.max(Math.floor(Math.max(inFlight, 0) * beta), 2 * this.mss);
  }

  /** RFC 5681 §3.1: after a timeout "cwnd MUST be set to no more than the loss window,
   *  LW, which equals 1 full-sized segment", and "when a TCP sender detects segment
   *  loss using the retransmission timer and the given segment has already been
   *  retransmitted by way of the retransmission timer at least once, the value of
   *  ssthresh is held constant". A second timeout with no new ACK between is taken to
   *  be the same segment again. Returns whether this was a first timeout. */
  protected timeout(now: number, inFlight: number, beta: number): boolean {
    this.lastNow = now;
    this.pristine = false;
    const first = !this.rtoPending;
    if (first) this.reduceSsthresh(inFlight, beta);
    this.rtoPending = true;
    this.afterRto = true;
    this.cwnd = this.mss;
    this.bytesAcked = 0;
    this.carry = 0;
    return first;
  }

  protected baseSnapshot(name: 'cubic' | 'newreno'): CcSnapshot {
    return {
      name, cwnd: this.cwnd, ssthresh: this.ssthresh, mss: this.mss, bytesAcked: this.bytesAcked,
      rtoPending: this.rtoPending, afterRto: this.afterRto, pristine: this.pristine, lastNow: this.lastNow,
      carry: this.carry,
    };
  }
}

/** RFC 5681 NewReno window arithmetic (the recovery procedure itself, RFC 6582, is the
 *  connection's). */
export class NewReno extends WindowBase implements CongestionControl {
  readonly name = 'newreno' as const;

  onAck(ackedBytes: number, now: number, _rttMs: number | undefined, inFlight: number): void {
    if (!this.beginAck(ackedBytes, now, inFlight)) return;
    let rest = ackedBytes;
    if (this.cwnd < this.ssthresh) {
      rest = this.slowStart(ackedBytes);
      if (rest <= 0) return;
    }
    // RFC 3465 §2.1: "When bytes_acked becomes greater than or equal to the value of
    // the congestion window, bytes_acked is reduced by the value of cwnd. Next, cwnd is
    // incremented by a full-sized segment (SMSS)." At most once per ACK, so a stretch
    // ACK cannot grow cwnd by more than RFC 5681's one SMSS per RTT.
    this.bytesAcked += rest;
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  /** RFC 5681 §3.2 (2): "ssthresh = max (FlightSize / 2, 2*SMSS)"; RFC 6675 §5 (4.2):
   *  "cwnd = ssthresh". The RFC 5681 inflation by 3*SMSS is the connection's to add. */
  onCongestionEvent(now: number, inFlight: number): void {
    this.lastNow = now;
    this.pristine = false;
    this.reduceSsthresh(inFlight, 0.5);
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
    this.afterRto = false;
  }

  onRetransmitTimeout(now: number, inFlight: number): void {
    this.timeout(now, inFlight, 0.5);
  }

  snapshot(): CcSnapshot {
    return this.baseSnapshot('newreno');
  }
}
