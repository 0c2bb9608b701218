// TCP header view (RFC 9293 section 3.1) and its options: MSS (RFC 9293), window scale
// and timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018). Bytes in,
// TcpSegment (shared/tcp/segment.ts) out, and back. The engine never sees bytes.
//
// Option parsing follows Linux's tcp_parse_options(): EOL ends the list, NOP is one
// byte, every other kind has a length byte; a known kind with the wrong length is
// skipped like an unknown one. Unlike Linux (which stops silently), a length of 0 or
// 1 or a length running past the header makes the whole segment a ParseError: such a
// header was not built by an honest stack, and the counter should say so.
import type { SackBlock, TcpOptions, TcpSegment, TcpTimestamps } from '../tcp/segment.js';
import { URG } from '../tcp/segment.js';
import { ParseError } from './result.js';

export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
/** Offset of the checksum field inside the TCP header. */
export const TCP_CHECKSUM_OFFSET = 16;

const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WSCALE = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
const OPT_TIMESTAMPS = 8;

interface MutableOptions {
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  sack?: SackBlock[];
  ts?: TcpTimestamps;
}

function parseOptions(b: Buffer, start: number, end: number): TcpOptions | ParseError {
  const o: MutableOptions = {};
  let i = start;
  while (i < end) {
    const kind = b[i]!;
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i += 1;
      continue;
    }
    if (i + 1 >= end) return new ParseError('bad-option', `kind ${kind} has no length byte`);
    const len = b[i + 1]!;
    if (len < 2) return new ParseError('bad-option', `kind ${kind} length ${len}`);
    if (i + len > end) return new ParseError('bad-option', `kind ${kind} length ${len} runs past the header`);
    switch (kind) {
      case OPT_MSS:
        if (len === 4) o.mss = b.readUInt16BE(i + 2);
        break;
      case OPT_WSCALE:
        if (len === 3) o.wscale = b[i + 2]!;
        break;
      case OPT_SACK_PERMITTED:
        if (len === 2) o.sackPermitted = true;
        break;
      case OPT_SACK:
        if (len >= 10 && (len - 2) % 8 === 0) {
          const blocks: SackBlock[] = [];
          for (let j = i + 2; j < i + len; j += 8) blocks.push([b.readUInt32BE(j), b.readUInt32BE(j + 4)]);
          o.sack = blocks;
        }
        break;
      case OPT_TIMESTAMPS:
        if (len === 10) o.ts = { val: b.readUInt32BE(i + 2), ecr: b.readUInt32BE(i + 6) };
        break;
      default:
        break;
    }
    i += len;
  }
  return o;
}

/** Parse a TCP segment (header + payload, exactly the IP payload). The payload is a
 *  view into `b`, not a copy. Never throws. */
export function parseTcp(b: Buffer): TcpSegment | ParseError {
  if (b.length < TCP_HEADER_LEN) return new ParseError('short-tcp', `${b.length} bytes`);
  const dataOffset = (b[12]! >> 4) * 4;
  if (dataOffset < TCP_HEADER_LEN || dataOffset > b.length) {
    return new ParseError('bad-data-offset', `data offset ${dataOffset}, segment ${b.length}`);
  }
  const options = parseOptions(b, TCP_HEADER_LEN, dataOffset);
  if (options instanceof ParseError) return options;
  const flags = b[13]!;
  const seg: {
    -readonly [K in keyof TcpSegment]: TcpSegment[K];
  } = {
    srcPort: b.readUInt16BE(0),
    dstPort: b.readUInt16BE(2),
    seq: b.readUInt32BE(4),
    ack: b.readUInt32BE(8),
    flags,
    window: b.readUInt16BE(14),
    options,
    payload: b.subarray(dataOffset),
  };
  if (flags & URG) seg.urgent = b.readUInt16BE(18);
  return seg;
}

/** Number of SACK blocks that fit beside the other options (40 bytes of options). */
function sackRoom(used: number): number {
  return Math.max(0, Math.floor((TCP_MAX_HEADER_LEN - TCP_HEADER_LEN - used - 4) / 8));
}

function fixedOptionsLen(o: TcpOptions): number {
  let n = 0;
  if (o.mss !== undefined) n += 4;
  if (o.ts !== undefined) n += 12; // NOP NOP TS, or SACK-permitted TS
  else if (o.sackPermitted) n += 4; // NOP NOP SACK-permitted
  if (o.wscale !== undefined) n += 4; // NOP WS
  return n;
}

function sackBlocksEmitted(o: TcpOptions): number {
  const n = o.sack?.length ?? 0;
  return Math.min(n, sackRoom(fixedOptionsLen(o)));
}

/** Header length emitTcp() will write for `seg` (20..60, a multiple of 4). SACK blocks
 *  beyond the 40 bytes of option space are left out (RFC 2018: 3 fit with timestamps). */
export function tcpHeaderLen(seg: TcpSegment): number {
  const o = seg.options;
  const blocks = sackBlocksEmitted(o);
  return TCP_HEADER_LEN + fixedOptionsLen(o) + (blocks > 0 ? 4 + 8 * blocks : 0);
}

/** Write the header and options of `seg` at out[off..]; the checksum field is left 0
 *  (shared/wire/checksum.ts fills it, full or partial). The payload is not written:
 *  it travels as its own piece. Returns the header length. Option layout is Linux's,
 *  so captures read the same as a kernel's: MSS, SACK-permitted+TS, NOP+WS; then
 *  NOP NOP TS and NOP NOP SACK on established segments. */
export function emitTcp(seg: TcpSegment, out: Buffer, off = 0): number {
  const o = seg.options;
  const hl = tcpHeaderLen(seg);
  out.writeUInt16BE(seg.srcPort, off);
  out.writeUInt16BE(seg.dstPort, off + 2);
  out.writeUInt32BE(seg.seq >>> 0, off + 4);
  out.writeUInt32BE(seg.ack >>> 0, off + 8);
  out[off + 12] = (hl / 4) << 4;
  out[off + 13] = seg.flags & 0xff;
  out.writeUInt16BE(seg.window & 0xffff, off + 14);
  out.writeUInt16BE(0, off + 16);
  out.writeUInt16BE((seg.urgent ?? 0) & 0xffff, off + 18);
  let i = off + TCP_HEADER_LEN;
  if (o.mss !== undefined) {
    out[i] = OPT_MSS;
    out[i + 1] = 4;
    out.writeUInt16BE(o.mss & 0xffff, i + 2);
    i += 4;
  }
  if (o.ts !== undefined) {
    if (o.sackPermitted) {
      out[i] = OPT_SACK_PERMITTED;
      out[i + 1] = 2;
    } else {
      out[i] = OPT_NOP;
      out[i + 1] = OPT_NOP;
    }
    out[i + 2] = OPT_TIMESTAMPS;
    out[i + 3] = 10;
    out.writeUInt32BE(o.ts.val >>> 0, i + 4);
    out.writeUInt32BE(o.ts.ecr >>> 0, i + 8);
    i += 12;
  } else if (o.sackPermitted) {
    out[i] = OPT_NOP;
    out[i + 1] = OPT_NOP;
    out[i + 2] = OPT_SACK_PERMITTED;
    out[i + 3] = 2;
    i += 4;
  }
  if (o.wscale !== undefined) {
    out[i] = OPT_NOP;
    out[i + 1] = OPT_WSCALE;
    out[i + 2] = 3;
    out[i + 3] = o.wscale & 0xff;
    i += 4;
  }
  const blocks = sackBlocksEmitted(o);
  if (blocks > 0) {
    out[i] = OPT_NOP;
    out[i + 1] = OPT_NOP;
    out[i + 2] = OPT_SACK;
    out[i + 3] = 2 + 8 * blocks;
    i += 4;
    for (let k = 0; k < blocks; k++) {
      const [l, r] = o.sack![k]!;
      out.writeUInt32BE(l >>> 0, i);
      out.writeUInt32BE(r >>> 0, i + 4);
      i += 8;
    }
  }
  return hl;
}
