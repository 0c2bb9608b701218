// Addresses as the rest of intact holds them: IPv4 as an unsigned 32-bit number (so a
// Map key and a comparison are cheap), MAC as a 6-byte Buffer.
import { IntactError } from '../errors.js';

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** "192.0.2.1" -> 0xc0000201. Throws ERR_INTACT_BAD_ADDRESS: it parses config, not wire. */
export function ipv4ToU32(s: string): number {
  const m = IPV4_RE.exec(s);
  if (!m) throw new IntactError('ERR_INTACT_BAD_ADDRESS', `not an IPv4 address: ${s}`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) throw new IntactError('ERR_INTACT_BAD_ADDRESS', `not an IPv4 address: ${s}`);
    n = n * 256 + o;
  }
  return n;
}

export function u32ToIpv4(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Accepts either form, as HostOptions.vip does. */
export function toIpv4U32(a: string | number): number {
  if (typeof a === 'number') {
    if (!Number.isInteger(a) || a < 0 || a > 0xffffffff) {
      throw new IntactError('ERR_INTACT_BAD_ADDRESS', `not an IPv4 address: ${a}`);
    }
    return a >>> 0;
  }
  return ipv4ToU32(a);
}

const MAC_RE = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i;

/** "02:00:00:00:00:01" -> 6-byte Buffer. */
export function macFromString(s: string): Buffer {
  const m = MAC_RE.exec(s);
  if (!m) throw new IntactError('ERR_INTACT_BAD_ADDRESS', `not a MAC address: ${s}`);
  return Buffer.from(m.slice(1, 7).map((h) => parseInt(h, 16)));
}

export function macToString(b: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push((b[i] ?? 0).toString(16).padStart(2, '0'));
  return parts.join(':');
}

export const BROADCAST_MAC: Buffer = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const ZERO_MAC: Buffer = Buffer.alloc(6);

export function isBroadcastMac(b: Uint8Array, off = 0): boolean {
  return (b[off]! & b[off + 1]! & b[off + 2]! & b[off + 3]! & b[off + 4]! & b[off + 5]!) === 0xff;
}

/** The group bit: broadcast and multicast frames have it set. */
export function isMulticastMac(b: Uint8Array, off = 0): boolean {
  return (b[off]! & 1) === 1;
}

export function macEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff = 0): boolean {
  for (let i = 0; i < 6; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}
