// Option negotiation at connection setup (RFC 9293 §3.7.1 MSS, RFC 7323 window scale
// and timestamps, RFC 2018 SACK-permitted), and the option space each segment costs.

import type { TcpOptions } from './segment.js';

/** RFC 9293 §3.7.1: "If an MSS Option is not received at connection setup, TCP
 *  implementations MUST assume a default send MSS of 536". */
export const DEFAULT_MSS = 536;
/** RFC 7323 §2.3: "the shift.cnt value ... MUST be limited to 14". */
export const MAX_WSCALE = 14;
/** Bytes a timestamps option takes as Linux lays it out (NOP, NOP, kind, len, 8). */
export const TS_OPTION_BYTES = 12;

export interface LocalOptions {
  mss: number;
  rcvBuf: number;
  timestamps: boolean;
  sack: boolean;
  windowScaling: boolean;
}

export interface Negotiated {
  /** The peer's MSS (what we may send before option space). */
  sndMss: number;
  sndWndShift: number;
  rcvWndShift: number;
  sackOk: boolean;
  tsOk: boolean;
}

/** The smallest shift that lets the 16-bit window field cover the whole buffer. */
export function wscaleFor(rcvBuf: number): number {
  let s = 0;
  while (s < MAX_WSCALE && rcvBuf >> s > 0xffff) s++;
  return s;
}

/** What a SYN from the peer (its options) and our settings agree on. Each option is
 *  used only when the peer offered it and we allow it. */
export function negotiate(peer: TcpOptions, local: LocalOptions): Negotiated {
  const ws = local.windowScaling && peer.wscale !== undefined;
  return {
    sndMss: peer.mss !== undefined && peer.mss > 0 ? peer.mss : DEFAULT_MSS,
    sndWndShift: ws ? Math.min(peer.wscale!, MAX_WSCALE) : 0,
    rcvWndShift: ws ? wscaleFor(local.rcvBuf) : 0,
    sackOk: local.sack && peer.sackPermitted === true,
    tsOk: local.timestamps && peer.ts !== undefined,
  };
}

/** Option bytes of a segment carrying these options (SACK laid out as NOP, NOP, kind,
 *  len, blocks), so payload + options stays within the MSS on every segment. */
export function optionBytes(tsOk: boolean, sackBlocks: number): number {
  return (tsOk ? TS_OPTION_BYTES : 0) + (sackBlocks > 0 ? 4 + 8 * sackBlocks : 0);
}
