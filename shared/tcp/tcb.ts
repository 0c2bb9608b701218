// The transmission control block as a plain value: what a connection is, without the
// objects that run it. TcpConnection.snapshot() produces one; TcpStack.restore() builds
// a working connection from one (the backup does this at takeover). Timers are not
// part of it: they are rebuilt from the state at restore time, as gVisor does.
//
// Everything here is JSON-like (numbers, booleans, strings, Buffers), so the
// replication layer can encode it field by field or assemble one from its replica.

import type { CcSnapshot } from './congestion.js';
import type { RttSnapshot } from './rtt.js';

export type TcpState =
  | 'LISTEN'
  | 'SYN-RECEIVED'
  | 'SYN-SENT'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT'
  | 'CLOSED';

export interface TcbSnapshot {
  localAddr: number;
  localPort: number;
  remoteAddr: number;
  remotePort: number;
  /** Connection state (RFC 9293 names). */
  state: TcpState;
  /** Initial send sequence number (our SYN). */
  iss: number;
  /** Initial receive sequence number (the peer's SYN). */
  irs: number;
  /** Oldest unacknowledged sequence number. */
  sndUna: number;
  /** Next sequence number to send (may sit below sndMax after a timeout). */
  sndNxt: number;
  /** Highest sequence number sent plus one. */
  sndMax: number;
  /** Peer's receive window in bytes, already scaled. */
  sndWnd: number;
  /** Segment sequence number used for the last window update. */
  sndWl1: number;
  /** Segment acknowledgment number used for the last window update. */
  sndWl2: number;
  /** Shift the peer applies to the windows it sends us (RFC 7323 Snd.Wind.Shift). */
  sndWndShift: number;
  /** Largest window the peer ever offered (sender SWS avoidance, RFC 5961 §5.2). */
  maxSndWnd: number;
  /** Next sequence number expected from the peer. */
  rcvNxt: number;
  /** Receive window we last advertised, bytes from rcvNxt to the advertised right edge. */
  rcvWnd: number;
  /** Shift we apply to the windows we send (RFC 7323 Rcv.Wind.Shift). */
  rcvWndShift: number;
  /** The peer's MSS option (what we may send, before option space). */
  sndMss: number;
  /** The MSS we advertised. */
  rcvMss: number;
  /** Both sides agreed on SACK (RFC 2018). */
  sackOk: boolean;
  /** Both sides agreed on timestamps (RFC 7323). */
  tsOk: boolean;
  /** TS.Recent: the peer's TSval we echo. */
  tsRecent: number;
  /** The last TSval we sent; a restored connection continues at or above it (rule 8). */
  tsLastSent: number;
  /** The last acknowledgment number we sent (Last.ACK.sent of RFC 7323 §4.3). */
  lastAckSent: number;
  /** Congestion control algorithm name. */
  ccName: 'cubic' | 'newreno';
  /** Congestion window and slow-start threshold, bytes (informative; `cc` rebuilds). */
  cwnd: number;
  ssthresh: number;
  /** Congestion control's own state; absent: start afresh with the initial window. */
  cc?: CcSnapshot;
  /** RFC 6298 estimator (srtt, rttvar, rto, backoff); absent: initial RTO. */
  rtt?: RttSnapshot;
  /** Send queue: the bytes from the first unacknowledged data byte on (sent or not),
   *  as one buffer or as the chunks that hold them in order. A replica hands over the
   *  chunks it received as they are: at takeover, gathering 10 KB per connection into
   *  one buffer cost more than everything else in the rebuild. Its `.length` counts
   *  bytes or chunks by form: queueBytes() counts bytes either way. */
  sendQueue: Buffer | readonly Buffer[];
  /** Receive queue: in-order bytes not yet consumed by the application (one buffer or
   *  chunks, as sendQueue). Its `.length` counts bytes or chunks by form: queueBytes(). */
  recvQueue: Buffer | readonly Buffer[];
  /** Out-of-order bytes held beyond rcvNxt. */
  ooo: Array<{ seq: number; data: Buffer }>;
  /** Sequence number of the peer's FIN once it was processed (everything before it
   *  arrived; rcvNxt = rcvFinSeq + 1). A snapshot assembled elsewhere may give rcvNxt =
   *  rcvFinSeq: restore() then counts the FIN itself. */
  rcvFinSeq?: number;
  /** A FIN that arrived out of order (with `ooo` data before it missing). */
  rcvFinOoo?: number;
  /** Sequence number of our FIN once the application closed. */
  finSeq?: number;
  /** Stream counters: bytes the app consumed / queued (stream positions, < 2^53). */
  bytesConsumed: number;
  bytesWritten: number;
  /** Application options that ride along. */
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveIdleMs: number;
}

/** The bytes a snapshot queue holds, whichever form it has (one buffer or chunks). */
export function queueBytes(q: Uint8Array | readonly Uint8Array[]): number {
  if (q instanceof Uint8Array) return q.length;
  let n = 0;
  for (const b of q) n += b.length;
  return n;
}
