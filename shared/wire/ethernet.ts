// Ethernet II frames: destination, source, EtherType; then the payload. 802.1Q/802.1ad
// tagged frames are refused: intact serves an untagged LAN (the kernel strips tags of
// a VLAN interface before AF_PACKET sees them, so a tag here is somebody else's frame).
import { ParseError } from './result.js';

export const ETH_HEADER_LEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;

const DST = 0;
const SRC = 6;
const TYPE = 12;

/** A checked view of a frame: MAC views are made on first use only (Buffer.subarray
 *  costs ~30 ns in Node 20 and the receive path rarely needs them). */
export class EthernetFrame {
  constructor(
    /** The whole frame. */
    readonly bytes: Buffer,
    readonly ethertype: number,
    /** View of the bytes after the header. */
    readonly payload: Buffer,
  ) {}

  /** View of the destination MAC inside the frame (not copied). */
  get dst(): Buffer {
    return this.bytes.subarray(DST, DST + 6);
  }

  /** View of the source MAC inside the frame (not copied). */
  get src(): Buffer {
    return this.bytes.subarray(SRC, SRC + 6);
  }
}

export const ETH_DST_OFFSET = DST;
export const ETH_SRC_OFFSET = SRC;

export function parseEthernet(b: Buffer): EthernetFrame | ParseError {
  if (b.length < ETH_HEADER_LEN) return new ParseError('short-frame', `${b.length} bytes`);
  const ethertype = b.readUInt16BE(TYPE);
  if (ethertype === ETHERTYPE_VLAN || ethertype === ETHERTYPE_QINQ) return new ParseError('vlan');
  return new EthernetFrame(b, ethertype, b.subarray(ETH_HEADER_LEN));
}

/** Write an Ethernet header at out[off..off+14). */
export function emitEthernet(out: Buffer, off: number, dst: Uint8Array, src: Uint8Array, ethertype: number): void {
  out.set(dst.subarray(0, 6), off + DST);
  out.set(src.subarray(0, 6), off + SRC);
  out.writeUInt16BE(ethertype, off + TYPE);
}
