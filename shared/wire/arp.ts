// ARP for IPv4 over Ethernet (RFC 826): the only ARP intact speaks. Parse refuses
// other hardware/protocol types. Gratuitous ARP (RFC 5227 section 3, "ARP
// Announcement") is a request whose sender and target IP are both the address being
// claimed; Linux updates an existing neighbour entry from it at once (DESIGN.md).
import { ETH_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet } from './ethernet.js';
import { BROADCAST_MAC, ZERO_MAC } from './addr.js';
import { ParseError } from './result.js';

export const ARP_LEN = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
/** An Ethernet frame carrying ARP: 14 + 28. Not padded to 60: the driver pads short
 *  frames, as it does for the kernel's own ARP (arp_create builds 42 bytes). */
export const ARP_FRAME_LEN = ETH_HEADER_LEN + ARP_LEN;

export interface ArpPacket {
  readonly op: number;
  /** Sender hardware address (a copy: ARP packets are few and their MACs are kept). */
  readonly sha: Buffer;
  readonly spa: number;
  readonly tha: Buffer;
  readonly tpa: number;
}

/** Parse the ARP payload of an Ethernet frame (the bytes after the Ethernet header). */
export function parseArp(b: Buffer): ArpPacket | ParseError {
  if (b.length < ARP_LEN) return new ParseError('bad-arp', 'short');
  if (b.readUInt16BE(0) !== 1 || b.readUInt16BE(2) !== ETHERTYPE_IPV4 || b[4] !== 6 || b[5] !== 4) {
    return new ParseError('bad-arp', 'not Ethernet/IPv4');
  }
  const op = b.readUInt16BE(6);
  if (op !== ARP_REQUEST && op !== ARP_REPLY) return new ParseError('bad-arp', `op ${op}`);
  return {
    op,
    sha: Buffer.from(b.subarray(8, 14)),
    spa: b.readUInt32BE(14),
    tha: Buffer.from(b.subarray(18, 24)),
    tpa: b.readUInt32BE(24),
  };
}

/** Write the 28 ARP bytes at out[off..]. */
export function emitArp(out: Buffer, off: number, p: ArpPacket): void {
  out.writeUInt16BE(1, off);
  out.writeUInt16BE(ETHERTYPE_IPV4, off + 2);
  out[off + 4] = 6;
  out[off + 5] = 4;
  out.writeUInt16BE(p.op, off + 6);
  out.set(p.sha.subarray(0, 6), off + 8);
  out.writeUInt32BE(p.spa >>> 0, off + 14);
  out.set(p.tha.subarray(0, 6), off + 18);
  out.writeUInt32BE(p.tpa >>> 0, off + 24);
}

/** A whole Ethernet frame carrying `p`, sent to `dst`. */
export function arpFrame(dst: Uint8Array, src: Uint8Array, p: ArpPacket): Buffer {
  const out = Buffer.alloc(ARP_FRAME_LEN);
  emitEthernet(out, 0, dst, src, ETHERTYPE_ARP);
  emitArp(out, ETH_HEADER_LEN, p);
  return out;
}

/** Broadcast "who has `tpa`? tell `spa`". */
export function arpRequestFrame(mac: Buffer, spa: number, tpa: number): Buffer {
  return arpFrame(BROADCAST_MAC, mac, { op: ARP_REQUEST, sha: mac, spa, tha: ZERO_MAC, tpa });
}

/** Unicast reply to a request: "`ip` is at `mac`". */
export function arpReplyFrame(mac: Buffer, ip: number, req: ArpPacket): Buffer {
  return arpFrame(req.sha, mac, { op: ARP_REPLY, sha: mac, spa: ip, tha: req.sha, tpa: req.spa });
}

/** Gratuitous ARP request for `ip` (sender IP = target IP, target MAC zero, as the
 *  kernel's own arp_notify sends it), broadcast. */
export function gratuitousArpFrame(mac: Buffer, ip: number): Buffer {
  return arpFrame(BROADCAST_MAC, mac, { op: ARP_REQUEST, sha: mac, spa: ip, tha: ZERO_MAC, tpa: ip });
}

/** Sender IP equals target IP: an announcement (request) or gratuitous reply. */
export function isGratuitous(p: ArpPacket): boolean {
  return p.spa === p.tpa && p.spa !== 0;
}
