// CUBIC, RFC 9438: the window grows as a cubic function of the time since the last
// congestion event, W_cubic(t) = C*(t - K)^3 + W_max, so it returns quickly to the
// window where loss happened, lingers there, then probes beyond it. Windows here are
// counted in segments (the unit C = 0.4 is defined in) and stored in bytes.

import type { CcSnapshot, CongestionControl, CubicState } from './congestion.js';
import { finite, WindowBase } from './newreno.js';

/** RFC 9438 §5.1: "C SHOULD be set to 0.4". */
export const CUBIC_C = 0.4;
/** RFC 9438 §5.1: "β_cubic SHOULD be set to 0.7". */
export const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: "α_cubic = 3 * (1 - β_cubic) / (1 + β_cubic)". */
const ALPHA_CUBIC = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

export class Cubic extends WindowBase implements CongestionControl {
  readonly name = 'cubic' as const;
  #wMax: number | undefined;
  #cwndPrior: number | undefined;
  #epochStart: number | undefined;
  #k = 0;
  #wEst = 0;
  #epochAfterRto = false;

  constructor(mss: number, now: number, snap?: CcSnapshot) {
    super(mss, now, snap);
    const c = snap?.cubic;
    if (c !== undefined && snap !== undefined) {
      const pos = (x: unknown): number | undefined => (finite(x) && x > 0 ? x : undefined);
      this.#wMax = pos(c.wMax);
      this.#cwndPrior = pos(c.cwndPrior);
      // Shift the epoch onto this clock: the same time before `now` as it was before
      // the snapshot's last event. Without a sound epoch a new one starts at the next ACK.
      const ok = finite(c.epochStart) && finite(snap.lastNow) && finite(c.k) && c.k >= 0 && finite(c.wEst);
      if (ok) {
        this.#epochStart = now - Math.max(0, snap.lastNow - c.epochStart!);
        this.#k = c.k;
        this.#wEst = c.wEst;
      }
      this.#epochAfterRto = c.epochAfterRto === true;
    }
  }

  /** W_cubic(t) in segments, t in seconds since the epoch began (RFC 9438 Figure 1). */
  wCubic(t: number): number {
    const d = t - this.#k;
    return CUBIC_C * d * d * d + (this.#wMax ?? 0);
  }

  get k(): number {
    return this.#k;
  }

  get wMax(): number | undefined {
    return this.#wMax;
  }

  onAck(ackedBytes: number, now: number, rttMs: number | undefined, inFlight: number): void {
    const prev = this.lastNow;
    if (!this.beginAck(ackedBytes, now, inFlight)) {
      // §5.8: no growth while the application leaves the window unused, and the time
      // does not count either (as Linux shifts epoch_start after idle), else W_cubic(t)
      // would have run far ahead when the sender fills the window again.
      if (this.#epochStart !== undefined && ackedBytes > 0 && now > prev) this.#epochStart += now - prev;
      return;
    }
    let rest = ackedBytes;
    if (this.cwnd < this.ssthresh) {
      rest = this.slowStart(ackedBytes);
      if (rest <= 0) return;
    }
    const mss = this.mss;
    const w = this.cwnd / mss;
    if (this.#epochStart === undefined) this.#beginEpoch(now, w);
    const segs = rest / mss;

    // §4.3 Reno-friendly region: "W_est = W_est + α_cubic * segments_acked / cwnd" and
    // "Once W_est has grown to reach the cwnd at the time of most recently setting
    // ssthresh -- that is, W_est >= cwnd_prior -- the sender SHOULD set α_cubic to 1".
    const alpha = this.#cwndPrior !== undefined && this.#wEst >= this.#cwndPrior ? 1 : ALPHA_CUBIC;
    this.#wEst += (alpha * segs) / w;

    const t = (now - this.#epochStart!) / 1000;
    // §4.3: "If W_cubic(t) is less than W_est ... cwnd SHOULD be set to W_est".
    if (this.wCubic(t) < this.#wEst) {
      this.#setCwnd(Math.max(this.#wEst * mss, this.cwnd));
      return;
    }
    // §4.4/§4.5: target = W_cubic(t + RTT), "cwnd MUST be incremented by
    // (target - cwnd) / cwnd for each received new ACK", with target kept within
    // [cwnd, 1.5 * cwnd] (§4.2). One ACK of n segments counts as n ACKs.
    const rtt = rttMs === undefined ? 0 : rttMs / 1000;
    const target = Math.min(Math.max(this.wCubic(t + rtt), w), 1.5 * w);
    this.#setCwnd(this.cwnd + this.carry + ((target - w) / w) * segs * mss);
  }

  /** §4.6 and §4.7: "W_max = cwnd" at the congestion event, or with fast convergence
   *  "if cwnd < W_max ... W_max = cwnd * (1 + β_cubic) / 2" (the flow is yielding to a
   *  newcomer); "ssthresh = flight_size * β_cubic", "cwnd = ssthresh". */
  onCongestionEvent(now: number, inFlight: number): void {
    this.lastNow = now;
    this.pristine = false;
    const w = this.cwnd / this.mss;
    this.#wMax = this.#wMax !== undefined && w < this.#wMax ? (w * (1 + CUBIC_BETA)) / 2 : w;
    this.#cwndPrior = w;
    this.reduceSsthresh(inFlight, CUBIC_BETA);
    this.cwnd = this.ssthresh;
    this.carry = 0;
    this.afterRto = false;
    this.#epochStart = undefined;
    this.#epochAfterRto = false;
  }

  /** §4.8: "CUBIC follows Reno to reduce cwnd [RFC5681] but sets ssthresh using
   *  β_cubic"; "during the first congestion avoidance stage after a timeout ... K is
   *  set to 0, and W_max is set to the congestion window size at the beginning of the
   *  current congestion avoidance stage". */
  onRetransmitTimeout(now: number, inFlight: number): void {
    const w = this.cwnd / this.mss;
    if (this.timeout(now, inFlight, CUBIC_BETA)) this.#cwndPrior = w;
    this.#epochStart = undefined;
    this.#epochAfterRto = true;
  }

  snapshot(): CcSnapshot {
    const cubic: CubicState = { k: this.#k, wEst: this.#wEst, epochAfterRto: this.#epochAfterRto };
    if (this.#wMax !== undefined) cubic.wMax = this.#wMax;
    if (this.#cwndPrior !== undefined) cubic.cwndPrior = this.#cwndPrior;
    if (this.#epochStart !== undefined) cubic.epochStart = this.#epochStart;
    return { ...this.baseSnapshot('cubic'), cubic };
  }

  /** §4.2: the epoch begins with the first ACK in congestion avoidance; "K = cubic_root
   *  ((W_max - cwnd_epoch) / C)", and K = 0 when the window already reaches W_max
   *  (after slow start with no loss yet, or after a timeout, §4.8). §4.3: "W_est is set
   *  equal to cwnd_epoch at the start of the congestion avoidance stage". */
  #beginEpoch(now: number, w: number): void {
    this.#epochStart = now;
    if (this.#epochAfterRto || this.#wMax === undefined || this.#wMax <= w) {
      this.#wMax = w;
      this.#k = 0;
    } else {
      this.#k = Math.cbrt((this.#wMax - w) / CUBIC_C);
    }
    this.#epochAfterRto = false;
    this.#wEst = w;
  }

  /** cwnd stays a whole number of bytes; the fraction waits for the next ACK. */
  #setCwnd(bytes: number): void {
    const whole = Math.floor(bytes);
    this.carry = bytes - whole;
    this.cwnd = Math.max(whole, this.mss);
  }
}
