// The replication link of the simulation: a MirrorChannel (primary/replication/
// mirror.ts) whose messages travel through the real codec, in order, with a delay, to
// the backup's ReplicaStore, and whose CONFIRMs come back to the mirror with a delay
// too. Deliveries and confirmations are events on the simulation's agenda; when the
// primary dies, what it had sent is still in flight and may arrive, or be lost with it
// (a prefix of it arrives: the link is a byte stream).

import type { MirrorChannel } from '../../../primary/replication/mirror.js';
import { encode, decodeBody, DecodeError } from '../../../shared/replication/codec.js';
import type { Message } from '../../../shared/replication/messages.js';
import type { ReplicaStore } from '../../../backup-daemon/store.js';
import type { Agenda, SimEvent } from './queue.js';

export interface ChannelTiming {
  /** One-way delay of a message, ms, plus up to `jitter` (order is kept). */
  delay: number;
  jitter: number;
}

export interface ChannelHooks {
  /** This event counts as one of the primary's steps (a kill may follow it). */
  count(kind: 'apply' | 'confirm'): void;
  now(): number;
  rand(): number;
  /** The primary is gone: confirmations have nobody to reach. */
  primaryAlive(): boolean;
  violation(what: string): void;
}

export class SimChannel implements MirrorChannel {
  #next = 1;
  #lastAt = 0;
  #confirm: Array<(upTo: number) => void> = [];
  readonly inFlight: SimEvent[] = [];
  dead = false;
  sent = 0;

  constructor(readonly agenda: Agenda, readonly store: ReplicaStore, readonly timing: ChannelTiming, readonly h: ChannelHooks) {}

  send(m: Message): number {
    const n = this.#next++;
    // A dead primary's deferred work (the mirror's coalesced updates) sends nothing.
    if (this.dead) return n;
    this.sent++;
    const frame = encode(m);
    const at = Math.max(this.#lastAt, this.h.now() + this.timing.delay + this.h.rand() * this.timing.jitter);
    this.#lastAt = at;
    const ev = this.agenda.schedule(at, () => this.#deliver(n, frame, ev));
    this.inFlight.push(ev);
    return n;
  }

  on(_event: 'confirm', fn: (upTo: number) => void): this {
    this.#confirm.push(fn);
    return this;
  }

  /** The primary died: only the first `keep` messages still in flight arrive. */
  cut(keep: number): void {
    this.dead = true;
    for (let i = keep; i < this.inFlight.length; i++) this.inFlight[i]!.cancelled = true;
  }

  #deliver(n: number, frame: Buffer, ev: SimEvent): void {
    this.inFlight.splice(this.inFlight.indexOf(ev), 1);
    this.h.count('apply');
    const m = decodeBody(frame[4]!, frame.subarray(5));
    if (m instanceof DecodeError) {
      this.h.violation(`codec: ${m.reason}`);
      return;
    }
    const err = this.store.apply(m);
    if (err) {
      this.h.violation(`store refused message ${n}: ${err.reason}`);
      return;
    }
    if (this.store.applied !== n) this.h.violation(`store applied ${this.store.applied} messages, this is number ${n}`);
    this.agenda.schedule(this.h.now() + this.timing.delay, () => {
      if (!this.h.primaryAlive()) return;
      this.h.count('confirm');
      for (const fn of this.#confirm) fn(n);
    });
  }
}
