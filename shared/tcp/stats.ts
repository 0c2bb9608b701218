// Counters of one stack. Plain numbers, so reading them costs nothing and a runtime can
// export them as metrics. Every dropped segment is counted under its reason.

export type DropReason =
  | 'badFlags'          // impossible flag combinations (SYN+FIN, SYN+RST, no flags)
  | 'badPort'           // port 0
  | 'noListener'        // nothing at that address: answered with RST
  | 'afterClose'        // a late ACK/FIN of a connection we closed gracefully: silence, not RST
  | 'listenNotSyn'      // a non-SYN segment to a listener
  | 'synQueueFull'      // half-open limit of a listener reached
  | 'acceptQueueFull'   // backlog of established, unaccepted connections reached
  | 'maxConnections'    // the stack-wide connection limit reached
  | 'outOfWindow'       // sequence number not acceptable (answered with an ACK)
  | 'paws'              // RFC 7323 PAWS: TSval older than TS.Recent
  | 'rstOutOfWindow'    // RST outside the window
  | 'rstChallenged'     // RST inside the window but not at rcvNxt
  | 'synChallenged'     // SYN on a synchronized connection
  | 'ackUnacceptable'   // ACK of unsent data or far below sndUna (RFC 5961 §5.2)
  | 'noAck'             // ACK bit off in a synchronized state
  | 'badAckInSynRcvd'   // handshake ACK that acknowledges the wrong thing (answered with RST)
  | 'dataAfterFin'      // data beyond the peer's FIN
  | 'challengeAckLimit' // a challenge ACK suppressed by the rate limit
  | 'internalError';    // a bug: the segment was dropped instead of crashing the process

export class StackStats {
  segsIn = 0;
  segsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  retransSegs = 0;
  rstOut = 0;
  rstIn = 0;
  challengeAcks = 0;
  pawsDrops = 0;
  activeOpens = 0;
  passiveOpens = 0;
  established = 0;
  resets = 0;
  timeouts = 0;
  fastRetransmits = 0;
  rtoFires = 0;
  /** RFC 8985: tail loss probes sent, and ranges found lost by RACK's timing. */
  tlpProbes = 0;
  rackLost = 0;
  zeroWindowProbes = 0;
  keepaliveProbes = 0;
  /** Probes after a takeover's kick that the peer did not answer in time (timers.ts). */
  kickProbes = 0;
  /** Output replay: ACKs that told a rebuilt connection the client held more than it
   *  had sent, and connections reset because the regenerated output ended short of that
   *  (the app was not deterministic). */
  replayCatchUps = 0;
  replayDiverged = 0;
  dropped: Record<DropReason, number> = {
    badFlags: 0, badPort: 0, noListener: 0, afterClose: 0, listenNotSyn: 0, synQueueFull: 0, acceptQueueFull: 0,
    maxConnections: 0, outOfWindow: 0, paws: 0, rstOutOfWindow: 0, rstChallenged: 0, synChallenged: 0,
    ackUnacceptable: 0, noAck: 0, badAckInSynRcvd: 0, dataAfterFin: 0, challengeAckLimit: 0, internalError: 0,
  };
}
