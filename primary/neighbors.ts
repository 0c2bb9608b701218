// The neighbour table of a VIP host: IPv4 -> MAC, learned from ARP and from IPv4
// frames addressed to us, plus the frames waiting for an address to resolve (RFC 1122
// section 2.3.2.2: "SHOULD save (rather than discard) at least one packet"). Bounded
// everywhere: a flood of new source addresses evicts the oldest entries, a silent
// neighbour gets a few ARP requests and then its frames are dropped with a reason.
// Pure: time is a parameter, the caller (primary/host.ts) sends the requests.
import { macEquals } from '../shared/wire/addr.js';

export interface NeighborOptions {
  /** Learned entries kept; the oldest learned (or changed) is evicted first. */
  readonly maxEntries?: number;
  /** Frames queued per unresolved address. */
  readonly maxPendingPerIp?: number;
  /** Unresolved addresses with frames queued at once. */
  readonly maxPendingIps?: number;
  /** Time between ARP requests for an unresolved address. */
  readonly retryMs?: number;
  /** ARP requests sent before the queued frames are dropped. */
  readonly maxTries?: number;
}

interface Pending<T> {
  readonly items: T[];
  tries: number;
  nextAt: number;
}

export type EnqueueResult =
  /** First frame for this address: send an ARP request now. */
  | 'request'
  /** Queued behind an outstanding request. */
  | 'queued'
  /** Queue full: drop the frame. */
  | 'full';

export interface ExpireResult<T> {
  /** Addresses to send another ARP request for. */
  readonly retry: number[];
  /** Frames given up on (their neighbour never answered). */
  readonly dropped: T[];
}

export class NeighborTable<T> {
  readonly #entries = new Map<number, Buffer>();
  readonly #pending = new Map<number, Pending<T>>();
  readonly #maxEntries: number;
  readonly #maxPendingPerIp: number;
  readonly #maxPendingIps: number;
  readonly #retryMs: number;
  readonly #maxTries: number;

  constructor(o: NeighborOptions = {}) {
    this.#maxEntries = o.maxEntries ?? 4096;
    this.#maxPendingPerIp = o.maxPendingPerIp ?? 64;
    this.#maxPendingIps = o.maxPendingIps ?? 256;
    this.#retryMs = o.retryMs ?? 1000;
    this.#maxTries = o.maxTries ?? 3;
  }

  get size(): number {
    return this.#entries.size;
  }

  lookup(ip: number): Buffer | undefined {
    return this.#entries.get(ip);
  }

  /** Record ip -> the MAC at mac[off..off+6) (copied). Returns true when the entry is
   *  new or changed. */
  learn(ip: number, mac: Uint8Array, off = 0): boolean {
    const old = this.#entries.get(ip);
    // Called for every IPv4 frame: the common case (known, unchanged) must neither
    // allocate nor touch the Map, so eviction order is first-learned, not least-recently-seen.
    if (old && macEquals(mac, off, old)) return false;
    this.#entries.delete(ip);
    this.#entries.set(ip, Buffer.from(mac.subarray(off, off + 6)));
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return true;
  }

  /** Update only an entry we already have (the way Linux treats ARP not meant for it). */
  refresh(ip: number, mac: Uint8Array, off = 0): boolean {
    if (!this.#entries.has(ip)) return false;
    return this.learn(ip, mac, off);
  }

  forget(ip: number): void {
    this.#entries.delete(ip);
  }

  enqueue(ip: number, item: T, now: number): EnqueueResult {
    const p = this.#pending.get(ip);
    if (p) {
      if (p.items.length >= this.#maxPendingPerIp) return 'full';
      p.items.push(item);
      return 'queued';
    }
    if (this.#pending.size >= this.#maxPendingIps) return 'full';
    this.#pending.set(ip, { items: [item], tries: 1, nextAt: now + this.#retryMs });
    return 'request';
  }

  /** Ask for `ip` with nothing queued: a takeover kicks thousands of connections to a
   *  few clients, and waits for their addresses instead of queueing a frame per
   *  connection (the queue keeps maxPendingPerIp; the rest would be dropped). A request
   *  made this way is retried and given up like one with frames waiting. */
  resolve(ip: number, now: number): 'known' | EnqueueResult {
    if (this.#entries.has(ip)) return 'known';
    if (this.#pending.has(ip)) return 'queued';
    if (this.#pending.size >= this.#maxPendingIps) return 'full';
    this.#pending.set(ip, { items: [], tries: 1, nextAt: now + this.#retryMs });
    return 'request';
  }

  /** Take the frames that were waiting for `ip` (call after learn()). */
  takePending(ip: number): T[] {
    const p = this.#pending.get(ip);
    if (!p) return [];
    this.#pending.delete(ip);
    return p.items;
  }

  get pendingIps(): number {
    return this.#pending.size;
  }

  expire(now: number): ExpireResult<T> {
    const retry: number[] = [];
    const dropped: T[] = [];
    for (const [ip, p] of this.#pending) {
      if (now < p.nextAt) continue;
      if (p.tries >= this.#maxTries) {
        this.#pending.delete(ip);
        for (const it of p.items) dropped.push(it);
        continue;
      }
      p.tries++;
      p.nextAt = now + this.#retryMs;
      retry.push(ip);
    }
    return { retry, dropped };
  }

  /** When expire() next has work, or undefined when nothing waits. */
  nextDeadline(): number | undefined {
    let at: number | undefined;
    for (const p of this.#pending.values()) if (at === undefined || p.nextAt < at) at = p.nextAt;
    return at;
  }
}
