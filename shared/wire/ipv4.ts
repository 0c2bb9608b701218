// IPv4 header view (RFC 791). Options are skipped via IHL, never interpreted.
// Fragments are refused (reason 'fragment'): intact sets DF on everything it sends and
// a TCP peer on the same LAN never fragments; reassembly would be a memory hazard.
// Total length is trusted only when it fits in the frame (the rest is Ethernet
// padding); a GSO super-segment may carry 0 there (BIG TCP, > 64 KB), in which case
// the frame length is the packet length.
import { fold, internetChecksum, sum16 } from './checksum.js';
import { ParseError } from './result.js';

export const IPV4_HEADER_LEN = 20;
export const IPV4_DF = 0x4000;
const MF = 0x2000;
const OFFSET_MASK = 0x1fff;

export interface Ipv4Packet {
  readonly headerLen: number;
  readonly tos: number;
  /** Length of the packet as used: header + payload. */
  readonly totalLength: number;
  readonly id: number;
  readonly dontFragment: boolean;
  readonly ttl: number;
  readonly proto: number;
  readonly checksum: number;
  readonly src: number;
  readonly dst: number;
  /** View of the transport bytes, trimmed to the total length (no Ethernet padding). */
  readonly payload: Buffer;
}

export interface Ipv4ParseOptions {
  /** The frame is a GSO super-segment (RxFrame.gso). */
  readonly gso?: boolean;
  /** Verify the header checksum (default true; the kernel never offloads it for us). */
  readonly verifyChecksum?: boolean;
}

export function parseIpv4(b: Buffer, o: Ipv4ParseOptions = {}): Ipv4Packet | ParseError {
  if (b.length < IPV4_HEADER_LEN) return new ParseError('short-frame', `ipv4 ${b.length} bytes`);
  const vihl = b[0]!;
  if (vihl >> 4 !== 4) return new ParseError('bad-ip-version', `version ${vihl >> 4}`);
  const headerLen = (vihl & 0x0f) * 4;
  if (headerLen < IPV4_HEADER_LEN || headerLen > b.length) return new ParseError('bad-ihl', `ihl ${vihl & 0x0f}`);
  let totalLength = b.readUInt16BE(2);
  if (totalLength === 0 && o.gso) totalLength = b.length;
  if (totalLength < headerLen || totalLength > b.length) {
    return new ParseError('bad-ip-length', `total length ${totalLength}, have ${b.length}`);
  }
  if (o.verifyChecksum !== false && fold(sum16(b, 0, headerLen)) !== 0xffff) {
    return new ParseError('bad-ip-checksum');
  }
  const frag = b.readUInt16BE(6);
  if (frag & (MF | OFFSET_MASK)) return new ParseError('fragment');
  return {
    headerLen,
    tos: b[1]!,
    totalLength,
    id: b.readUInt16BE(4),
    dontFragment: (frag & IPV4_DF) !== 0,
    ttl: b[8]!,
    proto: b[9]!,
    checksum: b.readUInt16BE(10),
    src: b.readUInt32BE(12),
    dst: b.readUInt32BE(16),
    payload: b.subarray(headerLen, totalLength),
  };
}

export interface Ipv4Header {
  readonly id: number;
  readonly ttl?: number;
  readonly tos?: number;
  readonly proto: number;
  readonly src: number;
  readonly dst: number;
  /** Header + payload; must be <= 65535. */
  readonly totalLength: number;
  /** Default true: intact never fragments. */
  readonly dontFragment?: boolean;
}

/** Write a 20-byte IPv4 header (no options) with its checksum at out[off..]. */
export function emitIpv4(out: Buffer, off: number, h: Ipv4Header): void {
  out[off] = 0x45;
  out[off + 1] = h.tos ?? 0;
  out.writeUInt16BE(h.totalLength, off + 2);
  out.writeUInt16BE(h.id & 0xffff, off + 4);
  out.writeUInt16BE(h.dontFragment === false ? 0 : IPV4_DF, off + 6);
  out[off + 8] = h.ttl ?? 64;
  out[off + 9] = h.proto;
  out.writeUInt16BE(0, off + 10);
  out.writeUInt32BE(h.src >>> 0, off + 12);
  out.writeUInt32BE(h.dst >>> 0, off + 16);
  out.writeUInt16BE(internetChecksum(out, off, off + IPV4_HEADER_LEN), off + 10);
}
