// Send-side SACK scoreboard, RFC 6675: which bytes in [sndUna, sndMax) the peer has
// reported holding, and the three questions loss recovery asks of it — IsLost(),
// the next hole to retransmit (NextSeg() rule 1), and SetPipe().
//
// SACKed data lives as a sorted array of disjoint, non-adjacent [left, right) ranges,
// so every operation costs O(ranges), never O(bytes). The peer controls what goes in,
// so blocks are checked against [sndUna, sndMax) and the number of ranges is capped.

import type { SackBlock } from './segment.js';
import { seqSub } from './seq.js';

/** RFC 6675 §2: "DupThresh: The number of duplicate acknowledgments required to
 *  trigger a retransmission ... set to 3." */
export const DUP_THRESH = 3;

/** A peer with more holes than this is either very unlucky or hostile; past it the
 *  highest ranges are forgotten (see update()). */
export const MAX_RANGES = 64;

interface Range {
  left: number;
  right: number;
}

/** Either the RFC's per-segment predicate or the sender's HighRxt (RFC 6675 §2: "the
 *  highest sequence number which has been retransmitted"), given as one past it:
 *  segments starting below it were retransmitted. The number form costs O(holes). */
export type Retransmitted = ((seq: number) => boolean) | number;

export class Scoreboard {
  #ranges: Range[] = [];
  #sackedBytes = 0;

  /** Bytes currently marked SACKed, all above the last sndUna given to update(). */
  get sackedBytes(): number {
    return this.#sackedBytes;
  }

  /** Forget everything below sndUna and add the peer's blocks. Returns how many bytes
   *  were newly SACKed (RFC 6675's DeliveredData counts them).
   *
   *  A block is ignored when it is empty or inverted, when it lies wholly at or below
   *  sndUna (RFC 2883 D-SACK, or just old news), or when it reaches beyond sndMax (the
   *  peer cannot hold data we never sent: Linux's tcp_is_sackblock_valid() drops such
   *  blocks too). A block that straddles sndUna keeps its part above.
   *
   *  Past MAX_RANGES ranges the highest are dropped rather than merged: merging would
   *  mark unsent-to-peer bytes as held and they would never be retransmitted, while
   *  forgetting a SACK costs at worst a needless retransmission (RFC 2018 §8 already
   *  requires senders to survive the receiver "reneging" on SACKed data). */
  update(sndUna: number, blocks: readonly SackBlock[], sndMax?: number): number {
    this.#discardBelow(sndUna);
    const limit = sndMax === undefined ? 2 ** 30 : seqSub(sndMax, sndUna);
    let newly = 0;
    for (const [l, r] of blocks) {
      const hi = seqSub(r, sndUna);
      let lo = seqSub(l, sndUna);
      if (hi <= lo || hi <= 0 || hi > limit) continue;
      if (lo < 0) lo = 0;
      newly += this.#add(sndUna, lo, hi);
    }
    const ranges = this.#ranges;
    while (ranges.length > MAX_RANGES) {
      const r = ranges.pop()!;
      this.#sackedBytes -= seqSub(r.right, r.left);
    }
    return newly;
  }

  isSacked(seq: number): boolean {
    const i = this.#firstEndingAfter(seq);
    const r = this.#ranges[i];
    return r !== undefined && seqSub(seq, r.left) >= 0;
  }

  /** One past the highest SACKed byte (the right edge of the highest block), or
   *  undefined when nothing is SACKed. */
  highestSacked(): number | undefined {
    const ranges = this.#ranges;
    return ranges.length === 0 ? undefined : ranges[ranges.length - 1]!.right;
  }

  /** RFC 6675 §4 IsLost(SeqNum): "returns true when either DupThresh discontiguous
   *  SACKed sequences have arrived above 'SeqNum' or more than (DupThresh - 1) * SMSS
   *  bytes with sequence numbers greater than 'SeqNum' have been SACKed." SACKed
   *  sequences are counted as MSS-sized segments, as Linux counts SACKed skbs. */
  isLost(seq: number, mss: number): boolean {
    const ranges = this.#ranges;
    let bytes = 0;
    let segs = 0;
    for (let i = ranges.length - 1; i >= 0; i--) {
      const r = ranges[i]!;
      const above = seqSub(r.right, seq) - 1; // bytes of r with numbers > seq
      if (above <= 0) break;
      const n = Math.min(above, seqSub(r.right, r.left));
      bytes += n;
      segs += Math.ceil(n / mss);
      if (segs >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) return true;
    }
    return false;
  }

  /** The first range at or after `from` that is not SACKed and lies below sndMax, as
   *  [left, right): what NextSeg() rule 1 retransmits from. Undefined when none. */
  nextHole(from: number, sndMax: number): [left: number, right: number] | undefined {
    const ranges = this.#ranges;
    let i = this.#firstEndingAfter(from);
    let left = from;
    const r = ranges[i];
    if (r !== undefined && seqSub(from, r.left) >= 0) {
      left = r.right;
      i++;
    }
    if (seqSub(left, sndMax) >= 0) return undefined;
    const next = ranges[i];
    const right = next !== undefined && seqSub(next.left, sndMax) < 0 ? next.left : sndMax;
    return [left, right];
  }

  /** RFC 6675 §4 SetPipe(): "for each segment S1 in the scoreboard that has not been
   *  SACKed: (a) If IsLost (S1) returns false: Pipe is incremented by the number of
   *  octets in S1. (b) If S1 has been retransmitted: Pipe is incremented by the number
   *  of octets in S1." Segments are cut every MSS from the start of each hole.
   *
   *  Within one hole IsLost() is the same for every segment (the SACKed bytes above
   *  them are the same), so (a) costs O(holes); (b) costs one call per segment when
   *  `retransmitted` is a predicate, O(holes) when it is HighRxt. */
  pipe(sndUna: number, sndMax: number, retransmitted: Retransmitted, mss: number): number {
    const ranges = this.#ranges;
    const flight = seqSub(sndMax, sndUna);
    if (flight <= 0) return 0;
    // SACKed bytes and segments above the current hole, walking holes from the top.
    let bytesAbove = 0;
    let segsAbove = 0;
    let pipe = 0;
    // Ranges at or above sndMax cannot exist (update() refuses them), ranges below
    // sndUna are ignored.
    let holeRight = sndMax;
    for (let i = ranges.length; i >= 0; i--) {
      const r = i > 0 ? ranges[i - 1] : undefined;
      let holeLeft = r === undefined ? sndUna : r.right;
      if (seqSub(holeLeft, sndUna) < 0) holeLeft = sndUna;
      const len = seqSub(holeRight, holeLeft);
      if (len > 0) {
        // Every segment in this hole sees the same SACKed bytes above it.
        const lost = segsAbove >= DUP_THRESH || bytesAbove > (DUP_THRESH - 1) * mss;
        if (!lost) pipe += len;
        pipe += this.#retransmittedBytes(holeLeft, holeRight, retransmitted, mss);
      }
      if (r === undefined || seqSub(r.left, sndUna) <= 0) break;
      const n = seqSub(r.right, r.left);
      bytesAbove += n;
      segsAbove += Math.ceil(n / mss);
      holeRight = r.left;
    }
    return pipe;
  }

  /** RFC 2018 §8: "After a retransmit timeout the data sender SHOULD turn off all of
   *  the SACKed bits", which is what the caller does with this. */
  clear(): void {
    this.#ranges = [];
    this.#sackedBytes = 0;
  }

  /** SACKed ranges in sequence order (tests, diagnostics). */
  ranges(): Array<[left: number, right: number]> {
    return this.#ranges.map((r) => [r.left, r.right]);
  }

  #retransmittedBytes(left: number, right: number, rx: Retransmitted, mss: number): number {
    if (typeof rx === 'number') {
      // Segments start at left, left + mss, ...; those starting below HighRxt count.
      const below = seqSub(rx, left);
      if (below <= 0) return 0;
      const len = seqSub(right, left);
      return Math.min(Math.ceil(below / mss) * mss, len);
    }
    let bytes = 0;
    const len = seqSub(right, left);
    for (let off = 0; off < len; off += mss) {
      if (rx((left + off) >>> 0)) bytes += Math.min(mss, len - off);
    }
    return bytes;
  }

  /** Index of the first range whose right edge is after seq (the range that would hold
   *  seq, or the next one above it). */
  #firstEndingAfter(seq: number): number {
    const ranges = this.#ranges;
    let a = 0;
    let b = ranges.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (seqSub(ranges[m]!.right, seq) <= 0) a = m + 1;
      else b = m;
    }
    return a;
  }

  /** Mark [base + lo, base + hi) SACKed, merging with touching ranges; returns the
   *  bytes that were not marked before. */
  #add(base: number, lo: number, hi: number): number {
    const ranges = this.#ranges;
    let a = 0;
    let b = ranges.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (seqSub(ranges[m]!.right, base) < lo) a = m + 1;
      else b = m;
    }
    const i = a;
    let j = i;
    let covered = 0;
    let newLo = lo;
    let newHi = hi;
    while (j < ranges.length) {
      const r = ranges[j]!;
      const rl = seqSub(r.left, base);
      if (rl > hi) break;
      const rr = seqSub(r.right, base);
      covered += Math.max(0, Math.min(rr, hi) - Math.max(rl, lo));
      if (rl < newLo) newLo = rl;
      if (rr > newHi) newHi = rr;
      j++;
    }
    const added = hi - lo - covered;
    const merged: Range = { left: (base + newLo) >>> 0, right: (base + newHi) >>> 0 };
    ranges.splice(i, j - i, merged);
    this.#sackedBytes += added;
    return added;
  }

  #discardBelow(sndUna: number): void {
    const ranges = this.#ranges;
    let drop = 0;
    while (drop < ranges.length && seqSub(ranges[drop]!.right, sndUna) <= 0) {
      this.#sackedBytes -= seqSub(ranges[drop]!.right, ranges[drop]!.left);
      drop++;
    }
    if (drop > 0) ranges.splice(0, drop);
    const r = ranges[0];
    if (r !== undefined && seqSub(sndUna, r.left) > 0) {
      this.#sackedBytes -= seqSub(sndUna, r.left);
      r.left = sndUna;
    }
  }
}
