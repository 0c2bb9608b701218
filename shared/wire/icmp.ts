// ICMP echo (RFC 792): the one ICMP message intact answers, so `ping VIP` works as a
// liveness check of whoever holds the VIP. Everything else ICMP is dropped.
import { fold, internetChecksum, sum16 } from './checksum.js';
import { ParseError } from './result.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
const ICMP_HEADER_LEN = 8;

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
