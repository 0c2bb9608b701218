// Retransmission timer arithmetic, RFC 6298. Pure: the caller measures RTTs (applying
// Karn's rule) and owns the timer; this only says how long the timer should be.

import { IntactError } from '../errors.js';

/** RFC 6298 §2: "alpha = 1/8 and beta = 1/4 (as suggested in [JK88])". */
const ALPHA = 1 / 8;
const BETA = 1 / 4;
/** RFC 6298 §2: "K = 4". */
const K = 4;
/** Clock granularity G in ms: our clock is Date.now()-like, 1 ms. */
const G = 1;

export interface RttOptions {
  /** RFC 6298 §2.1: "the sender SHOULD set RTO <- 1 second". */
  initialRto?: number;
  /** RFC 6298 §2.4 asks for 1 s; Linux uses 200 ms (TCP_RTO_MIN), and our peers are Linux. */
  minRto?: number;
  /** RFC 6298 §2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds." */
  maxRto?: number;
}

/** The replicated part of the estimator: enough to rebuild it on the backup. */
export interface RttSnapshot {
  srtt?: number;
  rttvar?: number;
  /** The RTO in force when the snapshot was taken (backoff included); informative. */
  rto: number;
  backoffCount: number;
}

function checkPositive(k: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0) {
    throw new IntactError('ERR_INTACT_INVALID_ARG', `RttEstimator: ${k} must be a positive number, got ${v}`);
  }
}

export class RttEstimator {
  #srtt: number | undefined;
  #rttvar: number | undefined;
  /** RTO before backoff, already clamped. */
  #baseRto: number;
  #backoffCount = 0;
  readonly #minRto: number;
  readonly #maxRto: number;

  constructor(o: RttOptions = {}) {
    const initialRto = o.initialRto ?? 1000;
    this.#minRto = o.minRto ?? 200;
    this.#maxRto = o.maxRto ?? 120_000;
    // Plain calls, no list of pairs: a takeover builds one estimator per connection,
    // all at once, in code V8 has not optimised yet.
    checkPositive('initialRto', initialRto);
    checkPositive('minRto', this.#minRto);
    checkPositive('maxRto', this.#maxRto);
    if (this.#minRto > this.#maxRto) {
      throw new IntactError('ERR_INTACT_INVALID_ARG', `RttEstimator: minRto ${this.#minRto} > maxRto ${this.#maxRto}`);
    }
    this.#baseRto = this.#clamp(initialRto);
  }

  get srtt(): number | undefined {
    return this.#srtt;
  }

  get rttvar(): number | undefined {
    return this.#rttvar;
  }

  get backoffCount(): number {
    return this.#backoffCount;
  }

  /** The current RTO in ms, backoff included, within [minRto, maxRto]. */
  get rto(): number {
    if (this.#backoffCount === 0) return this.#baseRto;
    // 2 ** n overflows to Infinity for large n, which the clamp turns into maxRto.
    return Math.min(this.#baseRto * 2 ** this.#backoffCount, this.#maxRto);
  }

  /** One valid RTT measurement in ms. The caller has applied Karn's rule (RFC 6298 §3:
   *  "RTT samples MUST NOT be made using segments that were retransmitted"), unless it
   *  measured with timestamps, which RFC 7323 §4 makes safe. */
  sample(rttMs: number): void {
    // Garbage (a clock step, a hostile TSecr) must not poison the estimate.
    if (!Number.isFinite(rttMs) || rttMs < 0) return;
    const r = rttMs;
    if (this.#srtt === undefined || this.#rttvar === undefined) {
      // §2.2: "SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max (G, K*RTTVAR)".
      this.#srtt = r;
      this.#rttvar = r / 2;
    } else {
      // §2.3: "RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
      //        SRTT <- (1 - alpha) * SRTT + alpha * R'"
      // "The above SHOULD be computed using RTTVAR and SRTT ... as they were before" —
      // hence RTTVAR first.
      this.#rttvar = (1 - BETA) * this.#rttvar + BETA * Math.abs(this.#srtt - r);
      this.#srtt = (1 - ALPHA) * this.#srtt + ALPHA * r;
    }
    this.#baseRto = this.#clamp(this.#srtt + Math.max(G, K * this.#rttvar));
    // §5.7 note: once a new RTT sample arrives after backing off, the RTO is computed
    // afresh from SRTT and RTTVAR ("collapse the RTO"), so the backoff ends here.
    this.#backoffCount = 0;
  }

  /** The retransmission timer expired. §5.5: "The host MUST set RTO <- RTO * 2 ("back
   *  off the timer")"; the §2.5 maximum applies. The count keeps rising at the maximum,
   *  so the caller can give up after N expiries (Linux's tcp_retries2). */
  backoff(): void {
    this.#backoffCount++;
  }

  /** Forget the backoff without a sample (e.g. new data acknowledged with no usable
   *  measurement, as Linux does when the ACK advances snd_una). */
  resetBackoff(): void {
    this.#backoffCount = 0;
  }

  snapshot(): RttSnapshot {
    const s: RttSnapshot = { rto: this.rto, backoffCount: this.#backoffCount };
    if (this.#srtt !== undefined) s.srtt = this.#srtt;
    if (this.#rttvar !== undefined) s.rttvar = this.#rttvar;
    return s;
  }

  /** Rebuild from a snapshot. The base RTO comes from SRTT/RTTVAR when present; without
   *  a sample it is the snapshot's RTO with its backoff divided out, so a restored
   *  estimator times out exactly when the original would have. */
  static restore(s: RttSnapshot, o: RttOptions = {}): RttEstimator {
    const e = new RttEstimator(o);
    const count = Number.isInteger(s.backoffCount) && s.backoffCount > 0 ? s.backoffCount : 0;
    if (s.srtt !== undefined && s.rttvar !== undefined && Number.isFinite(s.srtt) && Number.isFinite(s.rttvar)
      && s.srtt >= 0 && s.rttvar >= 0) {
      e.#srtt = s.srtt;
      e.#rttvar = s.rttvar;
      e.#baseRto = e.#clamp(s.srtt + Math.max(G, K * s.rttvar));
    } else if (Number.isFinite(s.rto) && s.rto > 0) {
      e.#baseRto = e.#clamp(s.rto / 2 ** Math.min(count, 30));
    }
    e.#backoffCount = count;
    return e;
  }

  #clamp(rto: number): number {
    return Math.min(Math.max(rto, this.#minRto), this.#maxRto);
  }
}
