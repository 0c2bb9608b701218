// Congestion window arithmetic. The connection owns loss detection, fast retransmit,
// fast recovery and SACK recovery (RFC 5681 §3.2, RFC 6675); it calls in here only to
// learn how big the window is after new data is acknowledged, after a loss, and after
// a retransmission timeout. No clock is read: `now` is a parameter in ms.
//
// Units: cwnd and ssthresh are bytes, integers. `inFlight` is the bytes outstanding
// (FlightSize, or RFC 6675's pipe during SACK recovery) after the ACK being reported.

import { Cubic } from './cubic.js';
import { NewReno } from './newreno.js';

export type CcName = 'cubic' | 'newreno';

/** What the backup needs to continue with the same window. Times are kept relative to
 *  the last `now` the controller saw (`lastNow`), so a backup with its own clock can
 *  shift them on restore. */
export interface CcSnapshot {
  name: CcName;
  cwnd: number;
  ssthresh: number;
  mss: number;
  /** RFC 3465 bytes_acked, for congestion avoidance (NewReno). */
  bytesAcked: number;
  /** An RTO happened and no new data has been acknowledged since (RFC 5681 §3.1:
   *  ssthresh is held on a repeated timeout; RFC 3465 §2.3: L = 1 SMSS after RTO). */
  rtoPending: boolean;
  /** Slow start after an RTO, until ssthresh is reached or a loss (RFC 3465 §2.3). */
  afterRto: boolean;
  /** True until the first ACK or loss: setMss() may recompute the initial window. */
  pristine: boolean;
  lastNow: number;
  /** Sub-byte cwnd growth carried between ACKs. */
  carry: number;
  cubic?: CubicState;
}

/** RFC 9438 state, windows in segments, times in ms on the controller's clock. */
export interface CubicState {
  /** W_max: the window before the last reduction (after fast convergence). */
  wMax?: number;
  /** cwnd_prior: cwnd at the last congestion event (switches alpha_cubic to 1). */
  cwndPrior?: number;
  /** Start of the current congestion-avoidance epoch; undefined outside one. */
  epochStart?: number;
  /** K, seconds. */
  k: number;
  /** W_est, the Reno-friendly estimate. */
  wEst: number;
  /** The next epoch follows a timeout: K = 0, W_max = cwnd at its start (§4.8). */
  epochAfterRto: boolean;
}

export interface CongestionControl {
  readonly name: CcName;
  /** Congestion window, bytes. The connection may set it (e.g. RFC 5681's inflation to
   *  ssthresh + 3*SMSS in fast recovery, deflation to ssthresh on leaving it). */
  cwnd: number;
  /** Slow start threshold, bytes. */
  ssthresh: number;
  /** New data acknowledged outside loss recovery. */
  onAck(ackedBytes: number, now: number, rttMs: number | undefined, inFlight: number): void;
  /** Loss detected by duplicate ACKs or SACK, once per recovery episode. */
  onCongestionEvent(now: number, inFlight: number): void;
  /** The retransmission timer expired. */
  onRetransmitTimeout(now: number, inFlight: number): void;
  setMss(mss: number): void;
  snapshot(): CcSnapshot;
}

/** A controller of the given kind; with `snap`, continuing the snapshotted one (its
 *  own name wins over `name` so a restored connection keeps its algorithm). */
export function createCongestionControl(name: CcName, mss: number, now: number, snap?: CcSnapshot): CongestionControl {
  const kind = snap?.name ?? name;
  return kind === 'cubic' ? new Cubic(mss, now, snap) : new NewReno(mss, now, snap);
}

export { initialWindow, INFINITE_SSTHRESH } from './newreno.js';
