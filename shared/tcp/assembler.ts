// Receive-side reassembly: data that arrived beyond rcvNxt, held until the hole before
// it is filled, and the SACK blocks that describe it.
//
// RFC 9293 §3.10.7.4: "Segments with higher beginning sequence numbers that are not
// acceptable [yet] SHOULD be held for later processing." Held data lives as a sorted
// array of disjoint, non-adjacent ranges; each range keeps its bytes as a list of
// Buffer views over the segments that carried them, so nothing is copied and no work
// is done per byte. The number of ranges is the number of holes plus one: small.

import type { SackBlock } from './segment.js';
import { seqAdd, seqSub } from './seq.js';
import { IntactError } from '../errors.js';

interface Range {
  /** First sequence number held. */
  left: number;
  /** One past the last sequence number held. */
  right: number;
  /** The bytes [left, right), in order. */
  bufs: Buffer[];
  /** Insertion counter of the latest segment that fell in this range (RFC 2018 §4 order). */
  stamp: number;
  /** Merged into another range or taken: no longer held. */
  dead?: boolean;
}

/** RFC 2018 §3: at most 4 blocks fit in the option. */
const RECENT = 4;

export interface AssemblerOptions {
  /** Copy the bytes kept instead of holding views of the caller's buffers. Needed when
   *  the caller's buffer is reused after insert() returns (a link's receive ring). */
  copy?: boolean;
}

export class Assembler {
  /** Max bytes held beyond rcvNxt: data at or past rcvNxt + capacity is dropped. May be
   *  changed as the receive buffer drains or the window changes. */
  capacity: number;
  readonly #copy: boolean;
  #ranges: Range[] = [];
  #bytesHeld = 0;
  #stamp = 0;
  /** The ranges most recently inserted into, newest first, so sackBlocks() need not
   *  scan every range when there are many holes. May hold dead ranges. */
  #recent: Range[] = [];

  constructor(capacity: number, o: AssemblerOptions = {}) {
    // Offsets from rcvNxt are compared as signed 32-bit distances, so the window must
    // stay below 2^31; RFC 7323 §2.3 caps a scaled window at 2^30 anyway.
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > 2 ** 30) {
      throw new IntactError('ERR_INTACT_INVALID_ARG', `Assembler: capacity must be an integer in [0, 2^30], got ${capacity}`);
    }
    this.capacity = capacity;
    this.#copy = o.copy ?? false;
  }

  get bytesHeld(): number {
    return this.#bytesHeld;
  }

  get isEmpty(): boolean {
    return this.#ranges.length === 0;
  }

  /** Hold the part of `data` (which starts at `seq`) that lies in [rcvNxt,
   *  rcvNxt + capacity). Bytes already held win over the new ones: RFC 9293 leaves
   *  overlaps to the receiver, and keeping the first copy means a held byte (perhaps
   *  already mirrored to the backup) never changes. Returns how many bytes were newly
   *  held. */
  insert(seq: number, data: Buffer, rcvNxt: number): number {
    this.#discardBelow(rcvNxt);
    const s = seqSub(seq, rcvNxt);
    const lo = Math.max(s, 0);
    const hi = Math.min(s + data.length, this.capacity);
    if (lo >= hi) return 0;
    const stamp = ++this.#stamp;
    const ranges = this.#ranges;
    // First range that ends at or after lo (touching counts: adjacent ranges merge).
    let a = 0;
    let b = ranges.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (seqSub(ranges[m]!.right, rcvNxt) < lo) a = m + 1;
      else b = m;
    }
    const i = a;
    let j = i - 1;
    while (j + 1 < ranges.length && seqSub(ranges[j + 1]!.left, rcvNxt) <= hi) j++;

    if (j < i) {
      const r: Range = {
        left: seqAdd(rcvNxt, lo), right: seqAdd(rcvNxt, hi), bufs: [this.#piece(data, lo - s, hi - s)], stamp,
      };
      ranges.splice(i, 0, r);
      this.#touch(r);
      this.#bytesHeld += hi - lo;
      return hi - lo;
    }

    let added = 0;
    const first = ranges[i]!;
    const firstLeft = seqSub(first.left, rcvNxt);
    if (i === j) {
      // The common case (a segment extends or repeats one range): edit it in place.
      if (lo < firstLeft) {
        first.bufs.unshift(this.#piece(data, lo - s, firstLeft - s));
        first.left = seqAdd(rcvNxt, lo);
        added += firstLeft - lo;
      }
      const firstRight = seqSub(first.right, rcvNxt);
      if (hi > firstRight) {
        first.bufs.push(this.#piece(data, firstRight - s, hi - s));
        first.right = seqAdd(rcvNxt, hi);
        added += hi - firstRight;
      }
      first.stamp = stamp;
      this.#touch(first);
      this.#bytesHeld += added;
      return added;
    }

    // The segment bridges holes between ranges i..j: fill each hole from it.
    const bufs: Buffer[] = [];
    if (lo < firstLeft) {
      bufs.push(this.#piece(data, lo - s, firstLeft - s));
      added += firstLeft - lo;
    }
    for (let k = i; k <= j; k++) {
      const r = ranges[k]!;
      for (const buf of r.bufs) bufs.push(buf);
      if (k < j) {
        const gapLo = seqSub(r.right, rcvNxt);
        const gapHi = seqSub(ranges[k + 1]!.left, rcvNxt);
        bufs.push(this.#piece(data, gapLo - s, gapHi - s));
        added += gapHi - gapLo;
      }
    }
    const last = ranges[j]!;
    const lastRight = seqSub(last.right, rcvNxt);
    let right = last.right;
    if (hi > lastRight) {
      bufs.push(this.#piece(data, lastRight - s, hi - s));
      added += hi - lastRight;
      right = seqAdd(rcvNxt, hi);
    }
    const left = lo < firstLeft ? seqAdd(rcvNxt, lo) : first.left;
    for (let k = i; k <= j; k++) ranges[k]!.dead = true;
    const merged: Range = { left, right, bufs, stamp };
    ranges.splice(i, j - i + 1, merged);
    this.#touch(merged);
    this.#bytesHeld += added;
    return added;
  }

  /** The bytes that now start exactly at rcvNxt, in order, removed from the assembler;
   *  undefined when a hole is still in front. Anything below rcvNxt is discarded. */
  take(rcvNxt: number): Buffer[] | undefined {
    this.#discardBelow(rcvNxt);
    const r = this.#ranges[0];
    if (r === undefined || r.left !== rcvNxt) return undefined;
    this.#ranges.shift();
    r.dead = true;
    this.#bytesHeld -= seqSub(r.right, r.left);
    return r.bufs;
  }

  /** Held ranges as SACK blocks, at most `max`. RFC 2018 §4: "The first SACK block ...
   *  MUST specify the contiguous block of data containing the segment which triggered
   *  this ACK"; the others follow in order of most recent arrival, so "the most
   *  recently received segments" are reported first and the peer sees every block in
   *  several ACKs. (Whether the triggering segment advanced the ACK, so that it must not
   *  be reported, is the caller's to know: take() has removed such data already.) */
  sackBlocks(max: number): SackBlock[] {
    const ranges = this.#ranges;
    const n = Math.min(max, ranges.length);
    if (n <= 0) return [];
    const out: SackBlock[] = [];
    // The live entries of the recency list are the newest live ranges, in order: a
    // range touched later would stand before them, one pushed out is older.
    let below = Infinity;
    for (const r of this.#recent) {
      if (out.length === n) break;
      if (r.dead) continue;
      out.push([r.left, r.right]);
      below = r.stamp;
    }
    if (out.length < n) {
      // Rare (recent ranges were taken or merged away): select by stamp among the
      // ranges older than the last one reported, O(ranges * max).
      while (out.length < n) {
        let best: Range | undefined;
        for (const r of ranges) {
          if (r.stamp < below && (best === undefined || r.stamp > best.stamp)) best = r;
        }
        if (best === undefined) break;
        out.push([best.left, best.right]);
        below = best.stamp;
      }
    }
    return out;
  }

  /** Everything held, in sequence order, one entry per buffer (for snapshots). */
  chunks(): Array<[seq: number, data: Buffer]> {
    const out: Array<[number, Buffer]> = [];
    for (const r of this.#ranges) {
      let seq = r.left;
      for (const buf of r.bufs) {
        out.push([seq, buf]);
        seq = seqAdd(seq, buf.length);
      }
    }
    return out;
  }

  /** Held ranges as [left, right) pairs in sequence order (for tests and diagnostics). */
  ranges(): Array<[left: number, right: number]> {
    return this.#ranges.map((r) => [r.left, r.right]);
  }

  clear(): void {
    for (const r of this.#ranges) r.dead = true;
    this.#ranges = [];
    this.#recent = [];
    this.#bytesHeld = 0;
  }

  /** Move r to the front of the recency list, dropping dead and duplicate entries. */
  #touch(r: Range): void {
    const old = this.#recent;
    const next: Range[] = [r];
    for (let k = 0; k < old.length && next.length < RECENT; k++) {
      const o = old[k]!;
      if (o !== r && !o.dead) next.push(o);
    }
    this.#recent = next;
  }

  #piece(data: Buffer, from: number, to: number): Buffer {
    const view = data.subarray(from, to);
    return this.#copy ? Buffer.from(view) : view;
  }

  #discardBelow(rcvNxt: number): void {
    const ranges = this.#ranges;
    let drop = 0;
    while (drop < ranges.length && seqSub(ranges[drop]!.right, rcvNxt) <= 0) {
      this.#bytesHeld -= seqSub(ranges[drop]!.right, ranges[drop]!.left);
      ranges[drop]!.dead = true;
      drop++;
    }
    if (drop > 0) ranges.splice(0, drop);
    const r = ranges[0];
    if (r === undefined) return;
    let cut = seqSub(rcvNxt, r.left);
    if (cut <= 0) return;
    this.#bytesHeld -= cut;
    r.left = rcvNxt;
    let n = 0;
    while (r.bufs[n]!.length <= cut) cut -= r.bufs[n++]!.length;
    if (n > 0) r.bufs.splice(0, n);
    if (cut > 0) r.bufs[0] = r.bufs[0]!.subarray(cut);
  }
}
