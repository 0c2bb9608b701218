// Stack options as the application gives them, and the resolved values the engine uses.

import { IntactError } from '../errors.js';

export interface StackOptions {
  /** MSS we advertise (default 1460). */
  mss?: number;
  /** Receive buffer per connection, bytes (default 256 KiB); sets the window and the
   *  window scale we offer. */
  rcvBuf?: number;
  /** Send buffer per connection, bytes (default 256 KiB). */
  sndBuf?: number;
  /** All connections incl. half-open (default 65536); beyond it SYNs are dropped and counted. */
  maxConnections?: number;
  /** Offer/accept timestamps, SACK, window scaling (default true). */
  timestamps?: boolean;
  sack?: boolean;
  windowScaling?: boolean;
  /** Default 'cubic'. */
  congestionControl?: 'cubic' | 'newreno';
  /** > 0: one emitted segment may carry up to this many payload bytes, with gsoSize set
   *  to the per-segment payload (the link splits it). Default 0. */
  gsoMaxBytes?: number;
  /** Default 40. */
  delayedAckMs?: number;
  /** Default 60000 (Linux). */
  timeWaitMs?: number;
  /** [0,1) source for ISS and timestamp offsets; tests inject a seeded one. */
  random?: () => number;
  /** Called when an application call (send, recv, close...) created output or changed
   *  pollAt(); the runtime then schedules a poll. */
  wake?: () => void;
  // ---- additions beside the contract ----
  /** Chooses the ISS (tests force one near 2^32); default: random() * 2^32. */
  iss?: () => number;
  /** Retransmissions before giving up with ETIMEDOUT (Linux tcp_retries2: 15). */
  maxRetries?: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped (Linux: 5). */
  synAckRetries?: number;
  /** RFC 6298 bounds (Linux: min 200 ms, max 120 s; initial 1 s). */
  minRto?: number;
  maxRto?: number;
  initialRto?: number;
  /** Keepalive (Linux defaults: idle 7200 s, interval 75 s, 9 probes). */
  keepAliveIdleMs?: number;
  keepAliveIntervalMs?: number;
  keepAliveProbes?: number;
  /** Challenge ACKs per second for the whole stack (RFC 5961 §7; Linux's historic 1000). */
  challengeAckLimit?: number;
  /** Copy received payloads before holding them (default true): the link may reuse the
   *  buffer a segment's payload views once input() returns. */
  copyPayload?: boolean;
}

export interface ResolvedOptions {
  mss: number;
  rcvBuf: number;
  sndBuf: number;
  maxConnections: number;
  timestamps: boolean;
  sack: boolean;
  windowScaling: boolean;
  congestionControl: 'cubic' | 'newreno';
  gsoMaxBytes: number;
  delayedAckMs: number;
  timeWaitMs: number;
  random: () => number;
  wake: (() => void) | undefined;
  iss: () => number;
  maxRetries: number;
  synAckRetries: number;
  minRto: number;
  maxRto: number;
  initialRto: number;
  keepAliveIdleMs: number;
  keepAliveIntervalMs: number;
  keepAliveProbes: number;
  challengeAckLimit: number;
  copyPayload: boolean;
}

function positiveInt(name: string, v: number | undefined, dflt: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new IntactError('ERR_INTACT_INVALID_ARG', `StackOptions.${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

export function resolveOptions(o: StackOptions = {}): ResolvedOptions {
  const random = o.random ?? Math.random;
  return {
    mss: positiveInt('mss', o.mss, 1460, 88, 65495),
    // RFC 7323 §2.3 caps a scaled window at 2^30.
    rcvBuf: positiveInt('rcvBuf', o.rcvBuf, 256 * 1024, 1, 2 ** 30),
    sndBuf: positiveInt('sndBuf', o.sndBuf, 256 * 1024, 1, 2 ** 30),
    maxConnections: positiveInt('maxConnections', o.maxConnections, 65536, 0),
    timestamps: o.timestamps ?? true,
    sack: o.sack ?? true,
    windowScaling: o.windowScaling ?? true,
    congestionControl: o.congestionControl ?? 'cubic',
    gsoMaxBytes: positiveInt('gsoMaxBytes', o.gsoMaxBytes, 0, 0, 65535 * 16),
    delayedAckMs: positiveInt('delayedAckMs', o.delayedAckMs, 40, 0),
    timeWaitMs: positiveInt('timeWaitMs', o.timeWaitMs, 60000, 0),
    random,
    wake: o.wake,
    iss: o.iss ?? (() => Math.floor(random() * 2 ** 32) >>> 0),
    maxRetries: positiveInt('maxRetries', o.maxRetries, 15, 0),
    synAckRetries: positiveInt('synAckRetries', o.synAckRetries, 5, 0),
    minRto: positiveInt('minRto', o.minRto, 200),
    maxRto: positiveInt('maxRto', o.maxRto, 120_000),
    initialRto: positiveInt('initialRto', o.initialRto, 1000),
    keepAliveIdleMs: positiveInt('keepAliveIdleMs', o.keepAliveIdleMs, 7_200_000),
    keepAliveIntervalMs: positiveInt('keepAliveIntervalMs', o.keepAliveIntervalMs, 75_000),
    keepAliveProbes: positiveInt('keepAliveProbes', o.keepAliveProbes, 9),
    challengeAckLimit: positiveInt('challengeAckLimit', o.challengeAckLimit, 1000, 0),
    copyPayload: o.copyPayload ?? true,
  };
}
