// ICMP (RFC 792). Echo is the one ICMP message intact answers, so `ping VIP` works as a
// liveness check of whoever holds the VIP; everything else ICMP it receives is dropped.
// It sends one other: "fragmentation needed" (RFC 1191) at takeover, the only message
// measured to make a Linux client resend at once the segments the dead primary never
// acknowledged (`intact scenario kick`; backup-daemon/takeover.ts).
import { fold, internetChecksum, IPPROTO_TCP, sum16 } from './checksum.js';
import { emitIpv4, IPV4_HEADER_LEN } from './ipv4.js';
import { ParseError } from './result.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_CODE_HOST_UNREACH = 1;
export const ICMP_CODE_FRAG_NEEDED = 4;
const ICMP_HEADER_LEN = 8;
/** The quoted TCP header: ports and sequence number are what the receiver checks. */
const QUOTED_TCP_LEN = 20;

export interface IcmpEcho {
  readonly type: number;
  readonly id: number;
  readonly seq: number;
  /** View of the echo data. */
  readonly data: Buffer;
}

/** Parse an ICMP echo request; other messages are refused with 'icmp-not-echo'. */
export function parseIcmpEchoRequest(b: Buffer, verifyChecksum = true): IcmpEcho | ParseError {
  if (b.length < ICMP_HEADER_LEN) return new ParseError('short-icmp');
  if (verifyChecksum && fold(sum16(b)) !== 0xffff) return new ParseError('bad-icmp-checksum');
  if (b[0] !== ICMP_ECHO_REQUEST || b[1] !== 0) return new ParseError('icmp-not-echo', `type ${b[0]} code ${b[1]}`);
  return { type: b[0], id: b.readUInt16BE(4), seq: b.readUInt16BE(6), data: b.subarray(ICMP_HEADER_LEN) };
}

/** Bytes of an echo reply to `req` (ICMP header + the same data, copied). */
export function emitIcmpEchoReply(req: IcmpEcho): Buffer {
  const out = Buffer.allocUnsafe(ICMP_HEADER_LEN + req.data.length);
  out[0] = ICMP_ECHO_REPLY;
  out[1] = 0;
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(req.id, 4);
  out.writeUInt16BE(req.seq, 6);
  out.set(req.data, ICMP_HEADER_LEN);
  out.writeUInt16BE(internetChecksum(out), 2);
  return out;
}

/** The datagram a destination-unreachable message is about: a client's TCP segment to
 *  us, as the client sent it (its source, our address; its port, ours; its sequence). */
export interface QuotedTcp {
  readonly src: number;
  readonly dst: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** The client's sequence number; Linux acts only if it is in [snd_una, snd_nxt]. */
  readonly seq: number;
  /** The segment's acknowledgment number (Linux does not read it; default 0). */
  readonly ack?: number;
  /** Total length of the datagram as quoted. */
  readonly totalLength: number;
}

/** Bytes of an ICMP destination-unreachable message (type 3) with `code` and, for
 *  "fragmentation needed", the RFC 1191 next-hop MTU; it quotes the IPv4 header and the
 *  first 20 bytes of TCP (RFC 792 asks for 8: Linux reads ports and sequence there). */
export function emitIcmpUnreachable(code: number, q: QuotedTcp, nextHopMtu = 0): Buffer {
  const out = Buffer.alloc(ICMP_HEADER_LEN + IPV4_HEADER_LEN + QUOTED_TCP_LEN);
  out[0] = ICMP_DEST_UNREACH;
  out[1] = code;
  out.writeUInt16BE(nextHopMtu & 0xffff, 6);
  emitIpv4(out, ICMP_HEADER_LEN, { id: 0, proto: IPPROTO_TCP, src: q.src, dst: q.dst, totalLength: q.totalLength });
  const tcp = ICMP_HEADER_LEN + IPV4_HEADER_LEN;
  out.writeUInt16BE(q.srcPort, tcp);
  out.writeUInt16BE(q.dstPort, tcp + 2);
  out.writeUInt32BE(q.seq >>> 0, tcp + 4);
  out.writeUInt32BE((q.ack ?? 0) >>> 0, tcp + 8);
  out[tcp + 12] = 5 << 4;
  out[tcp + 13] = 0x18; // ACK | PSH: a data segment
  out.writeUInt16BE(0xffff, tcp + 14);
  out.writeUInt16BE(internetChecksum(out), 2);
  return out;
}

/** "Fragmentation needed" (code 4): the quoted datagram exceeded `nextHopMtu`. */
export function emitIcmpFragNeeded(q: QuotedTcp, nextHopMtu: number): Buffer {
  return emitIcmpUnreachable(ICMP_CODE_FRAG_NEEDED, q, nextHopMtu);
}
