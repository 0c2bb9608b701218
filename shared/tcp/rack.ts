// Time-based loss detection, RACK-TLP (RFC 8985), beside RFC 6675's IsLost(). A sent
// range is deemed lost when something sent after it has been delivered (cumulatively
// ACKed or SACKed) and it has had a round trip plus a reordering window to arrive.
// RFC 6675 alone learns of a lost retransmission, or of a whole lost window, only from
// the RTO (at least 200 ms): with GSO frames a lossy link drops whole bursts, the
// retransmissions of one burst are themselves a burst, and every lost one stalled the
// sender for an RTO. With GSO one entry stands for a whole frame, so the log holds a
// few entries per window.
//
// Ordering is by a transmission counter, not the clock: many segments leave in one
// poll at the same millisecond, and "sent after" must still be exact.

import type { Scoreboard } from './scoreboard.js';
import { seqGt, seqLe, seqSub } from './seq.js';

/** Past this many ranges in flight the oldest are forgotten; their loss falls back to
 *  RFC 6675 and the RTO. */
export const MAX_RTX_ENTRIES = 1024;

interface RtxEntry {
  left: number;
  right: number;
  /** Transmission order (higher: sent later). */
  order: number;
  sentAt: number;
  /** sndMax just after it was sent: SACKed bytes beyond it were first sent later. */
  sndMaxAt: number;
  lost: boolean;
}

export class RtxLog {
  #entries: RtxEntry[] = [];
  #order = 0;
  /** Highest order among delivered ranges (RACK.xmit_ts as an order). */
  #deliveredOrder = 0;

  get size(): number {
    return this.#entries.length;
  }

  /** [left, right) was (re)transmitted at `now`, sndMax being `sndMax` after it (with
   *  `lost`: the part of a lost one that the window did not let out again yet). */
  record(left: number, right: number, now: number, sndMax: number, lost = false): void {
    this.#cut(left, right);
    const e = this.#entries;
    e.push({ left, right, order: ++this.#order, sentAt: now, sndMaxAt: sndMax, lost });
    if (e.length > MAX_RTX_ENTRIES) e.splice(0, e.length - MAX_RTX_ENTRIES);
  }

  /** Forget delivered ranges (below sndUna, or wholly SACKed), remembering the
   *  latest-sent of them; then mark lost every range that something sent later
   *  overtook, once `now` is past its send time plus `rttMs` + `reoWndMs` (RFC 8985
   *  §6.2 RACK_detect_loss). Returns the earliest time a range still waiting on that
   *  window may be declared lost (the RACK reordering timer), or undefined. */
  update(sndUna: number, sb: Scoreboard | undefined, now: number, rttMs: number, reoWndMs: number): number | undefined {
    const entries = this.#entries;
    let keep = 0;
    for (const e of entries) {
      if (seqLe(e.right, sndUna) || (sb !== undefined && sb.nextHole(seqGt(e.left, sndUna) ? e.left : sndUna, e.right) === undefined)) {
        if (e.order > this.#deliveredOrder) this.#deliveredOrder = e.order;
        continue;
      }
      entries[keep++] = e;
    }
    entries.length = keep;
    const highest = sb?.highestSacked();
    let timer: number | undefined;
    for (const e of entries) {
      if (e.lost) continue;
      const overtaken = e.order < this.#deliveredOrder || (highest !== undefined && seqGt(highest, e.sndMaxAt));
      if (!overtaken) continue;
      const deadline = e.sentAt + rttMs + reoWndMs;
      if (now >= deadline) e.lost = true;
      else if (timer === undefined || deadline < timer) timer = deadline;
    }
    return timer;
  }

  /** Bytes marked lost and not yet sent again (RFC 8985 takes lost segments out of
   *  the pipe). Counted over the whole range: an overestimate only
   *  while part of it is SACKed. */
  lostBytes(): number {
    let n = 0;
    for (const e of this.#entries) if (e.lost) n += seqSub(e.right, e.left);
    return n;
  }

  /** Any range marked lost? */
  hasLost(): boolean {
    for (const e of this.#entries) if (e.lost) return true;
    return false;
  }

  /** The lowest range marked lost, removed from the log (the caller resends
   *  what of it is still unSACKed and records that afresh). */
  takeLost(): [left: number, right: number] | undefined {
    const entries = this.#entries;
    let best = -1;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.lost && (best < 0 || seqGt(entries[best]!.left, e.left))) best = i;
    }
    if (best < 0) return undefined;
    const e = entries[best]!;
    entries.splice(best, 1);
    return [e.left, e.right];
  }

  /** Older entries lose the part [left, right) sent again: only the latest send of a
   *  byte is timed, and a range is resent once per loss, not once per entry. */
  #cut(left: number, right: number): void {
    const entries = this.#entries;
    const out: RtxEntry[] = [];
    for (const e of entries) {
      if (seqLe(e.right, left) || seqLe(right, e.left)) {
        out.push(e);
        continue;
      }
      if (seqGt(left, e.left)) out.push({ ...e, right: left });
      if (seqGt(e.right, right)) out.push({ ...e, left: right });
    }
    this.#entries = out;
  }

  clear(): void {
    this.#entries = [];
    this.#deliveredOrder = 0;
  }
}
