// The TCP segment as the engine sees it: a plain value, already parsed and checked.
// shared/wire/tcp.ts turns bytes into this and back; the engine never touches bytes
// of a header, so it is tested with segments built by field.

/** Header flag bits, as they stand in the 13th and 14th header octets. */
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export interface TcpTimestamps {
  /** TSval: the sender's clock. */
  readonly val: number;
  /** TSecr: the latest TSval the sender received from its peer. */
  readonly ecr: number;
}

/** A SACK block [left, right): sequence numbers of bytes held, right edge exclusive. */
export type SackBlock = readonly [left: number, right: number];

export interface TcpOptions {
  /** Maximum segment size the sender will accept (SYN only). */
  readonly mss?: number;
  /** Window scale shift count the sender will apply to its windows (SYN only). */
  readonly wscale?: number;
  /** SACK-permitted (SYN only). */
  readonly sackPermitted?: boolean;
  /** SACK blocks, at most 4 (3 with timestamps). */
  readonly sack?: readonly SackBlock[];
  readonly ts?: TcpTimestamps;
}

export interface TcpSegment {
  readonly srcPort: number;
  readonly dstPort: number;
  /** Sequence number, unsigned 32 bits. */
  readonly seq: number;
  /** Acknowledgment number, unsigned 32 bits (meaningful when ACK is set). */
  readonly ack: number;
  /** Flag bits: FIN | SYN | RST | PSH | ACK | URG | ECE | CWR. */
  readonly flags: number;
  /** The window field as it stands on the wire (16 bits, before scaling). */
  readonly window: number;
  readonly urgent?: number;
  readonly options: TcpOptions;
  /** Payload; may be longer than the MSS when it came from a GSO super-segment. */
  readonly payload: Buffer;
  /** Outgoing only: the payload is longer than one MSS and the link is to split it into
   *  pieces of this many bytes (TxFrame.gsoSize). Absent: send as one segment. */
  readonly gsoSize?: number;
}

/** Sequence space a segment occupies: payload plus one for SYN and one for FIN. */
export function segLen(s: TcpSegment): number {
  return s.payload.length + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0);
}

/** Addresses travel with a segment: IPv4 addresses as unsigned 32-bit numbers. */
export interface Datagram {
  readonly src: number;
  readonly dst: number;
  readonly seg: TcpSegment;
}
