// Wrap-aware arithmetic on 32-bit sequence numbers.
//
// RFC 9293 §3.4: "the sequence number space is finite, though very large. This space
// ranges from 0 to 2^32 - 1. Since the space is finite, all arithmetic dealing with
// sequence numbers must be performed modulo 2^32." Comparisons follow RFC 1982 serial
// number arithmetic: a < b when the signed 32-bit distance b - a is positive. As in
// smoltcp's TcpSeqNumber and gVisor's seqnum, the distance is taken with `| 0`, so no
// branch and no BigInt are needed on the per-segment path.
//
// All values are plain numbers holding unsigned 32-bit integers (what `>>> 0` yields).

/** a + n modulo 2^32; n may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance a - b as a 32-bit integer, in [-2^31, 2^31). Two numbers exactly
 *  2^31 apart are left undefined by RFC 1982 ("the comparison is undefined"); here, as
 *  with Linux's before(), each then reads as less than the other. Windows never span
 *  2^31 (RFC 7323 caps them at 2^30), so a connection never asks that question. */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}

export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b;
}

/** lo <= x < hi in sequence space. An empty range (lo == hi) holds nothing. Measured as
 *  unsigned offsets from lo, so it stays right for windows up to 2^32 - 1 wide, wider
 *  than the signed comparisons allow (a scaled window may reach 2^30). */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return ((x - lo) >>> 0) < ((hi - lo) >>> 0);
}

/** lo <= x <= hi in sequence space (RFC 9293's "SND.UNA < SEG.ACK =< SND.NXT" style
 *  checks use both forms). */
export function seqInRangeInclusive(x: number, lo: number, hi: number): boolean {
  return ((x - lo) >>> 0) <= ((hi - lo) >>> 0);
}
