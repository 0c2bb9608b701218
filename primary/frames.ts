// Datagram (from the TCP engine) -> Ethernet frames ready for Link.send(). Each frame
// is two pieces: one small Buffer with the Ethernet, IPv4 and TCP headers, and the
// payload as a view of the engine's own buffer (never copied). The destination MAC
// is left zero: the host fills it from the neighbour table, perhaps later.
//
// Sizes: a segment whose payload exceeds what one frame can carry (seg.gsoSize, or the
// MTU) is cut into pieces of `gsoSize` bytes. With a GSO link the kernel cuts: we only
// cap each super-frame at the IPv4 limit (65535 bytes of total length). Without one we
// cut here, the way tcp_gso_segment() does: sequence numbers advance by the piece
// size, FIN and PSH stay on the last piece, CWR (and SYN) on the first.
import type { LinkCapabilities, TxFrame } from '../shared/link.js';
import { CWR, FIN, PSH, SYN, type Datagram, type TcpSegment } from '../shared/tcp/segment.js';
import { emitEthernet, ETH_HEADER_LEN, ETHERTYPE_IPV4 } from '../shared/wire/ethernet.js';
import { emitIpv4, IPV4_HEADER_LEN } from '../shared/wire/ipv4.js';
import { emitTcp, tcpHeaderLen } from '../shared/wire/tcp.js';
import { fillTcpChecksum, fillTcpChecksumPartial, IPPROTO_TCP } from '../shared/wire/checksum.js';
import { ZERO_MAC } from '../shared/wire/addr.js';

const IPV4_MAX_TOTAL = 0xffff;
const IP_OFF = ETH_HEADER_LEN;
const TCP_OFF = ETH_HEADER_LEN + IPV4_HEADER_LEN;

export interface BuiltFrame {
  /** Ethernet + IPv4 + TCP header; bytes 0..5 (destination MAC) still to be filled. */
  readonly header: Buffer;
  readonly frame: TxFrame;
  /** TCP segments this frame becomes on the wire (more than one for a GSO frame). */
  readonly segments: number;
}

export interface FrameContext {
  readonly srcMac: Buffer;
  readonly caps: LinkCapabilities;
  /** Link MTU (IP packet size). */
  readonly mtu: number;
  /** Returns the next IPv4 identification and advances it by `count` (one per wire segment). */
  nextIpId(count: number): number;
}

/** The sub-segment of `seg` carrying payload bytes [off, off + len). */
export function sliceSegment(seg: TcpSegment, off: number, len: number): TcpSegment {
  const first = off === 0;
  const last = off + len >= seg.payload.length;
  let flags = seg.flags & ~(FIN | PSH | SYN | CWR);
  if (first) flags |= seg.flags & (SYN | CWR);
  if (last) flags |= seg.flags & (FIN | PSH);
  // The SYN occupies the first sequence number; payload starts after it.
  const seq = first ? seg.seq : (seg.seq + (seg.flags & SYN ? 1 : 0) + off) >>> 0;
  const { gsoSize: _drop, ...rest } = seg;
  return { ...rest, seq, flags, payload: seg.payload.subarray(off, off + len) };
}

function buildOne(d: Datagram, seg: TcpSegment, gsoSize: number | undefined, ctx: FrameContext): BuiltFrame {
  const hl = tcpHeaderLen(seg);
  const payload = seg.payload;
  const tcpLen = hl + payload.length;
  const segments = gsoSize ? Math.ceil(payload.length / gsoSize) : 1;
  const header = Buffer.allocUnsafe(TCP_OFF + hl);
  emitEthernet(header, 0, ZERO_MAC, ctx.srcMac, ETHERTYPE_IPV4);
  emitIpv4(header, IP_OFF, {
    id: ctx.nextIpId(segments),
    proto: IPPROTO_TCP,
    src: d.src,
    dst: d.dst,
    totalLength: IPV4_HEADER_LEN + tcpLen,
  });
  emitTcp(seg, header, TCP_OFF);
  const data: Buffer | Buffer[] = payload.length > 0 ? [header, payload] : header;
  let frame: TxFrame;
  if (gsoSize) {
    fillTcpChecksumPartial(header, IP_OFF, tcpLen);
    frame = { data, gsoSize, csumOffload: true };
  } else if (ctx.caps.csumOffload) {
    fillTcpChecksumPartial(header, IP_OFF, tcpLen);
    frame = { data, csumOffload: true };
  } else {
    fillTcpChecksum(header, IP_OFF, payload);
    frame = { data };
  }
  return { header, frame, segments };
}

/** Frames for one datagram, in sequence order. */
export function buildTcpFrames(d: Datagram, ctx: FrameContext): BuiltFrame[] {
  const seg = d.seg;
  const hl = tcpHeaderLen(seg);
  const perFrame = ctx.mtu - IPV4_HEADER_LEN - hl;
  const len = seg.payload.length;
  // A piece size larger than the MTU allows would leave the kernel with frames it
  // cannot send; the MTU wins.
  let piece = seg.gsoSize !== undefined ? Math.min(seg.gsoSize, perFrame) : perFrame;
  if (piece <= 0) piece = 1;
  if (len <= piece) return [buildOne(d, seg, undefined, ctx)];

  const out: BuiltFrame[] = [];
  if (ctx.caps.gso) {
    const maxChunk = Math.floor((IPV4_MAX_TOTAL - IPV4_HEADER_LEN - hl) / piece) * piece;
    for (let off = 0; off < len; off += maxChunk) {
      const n = Math.min(maxChunk, len - off);
      const sub = n === len ? seg : sliceSegment(seg, off, n);
      out.push(buildOne(d, sub, n > piece ? piece : undefined, ctx));
    }
    return out;
  }
  for (let off = 0; off < len; off += piece) {
    out.push(buildOne(d, sliceSegment(seg, off, Math.min(piece, len - off)), undefined, ctx));
  }
  return out;
}
