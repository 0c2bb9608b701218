// Test doubles for primary/host.ts: a Link that records what is sent, timers driven by
// hand, and a stack whose output the test scripts. (shared/memory-link.ts pairs two
// hosts; here one side is the test itself, byte for byte.)
import type { ChecksumStatus, Link, LinkCapabilities, LinkStats, RxFrame, TxFrame } from '../../shared/link.js';
import type { Datagram } from '../../shared/tcp/segment.js';
import type { HostStack, HostTimers } from '../../primary/host.js';

export class FakeLink implements Link {
  readonly name = 'fake0';
  readonly ifindex = 1;
  readonly mtu: number;
  readonly caps: LinkCapabilities;
  /** One entry per send() call. */
  readonly sends: TxFrame[][] = [];
  #handler: ((frames: readonly RxFrame[]) => void) | undefined;

  constructor(readonly mac: Buffer, caps: Partial<LinkCapabilities> = {}, mtu = 1500) {
    this.caps = { gso: false, csumOffload: false, ...caps };
    this.mtu = mtu;
  }

  onFrames(handler: (frames: readonly RxFrame[]) => void): void {
    this.#handler = handler;
  }

  /** Deliver one batch, as one wake-up of the native link would. */
  deliver(frames: readonly (Buffer | RxFrame)[], csum: ChecksumStatus = 'unknown'): void {
    if (!this.#handler) throw new Error('host did not call onFrames');
    this.#handler(frames.map((f) => (Buffer.isBuffer(f) ? { data: f, csum, gso: false } : f)));
  }

  send(frames: readonly TxFrame[]): number {
    this.sends.push([...frames]);
    return frames.length;
  }

  /** Every frame sent so far, flattened. */
  get sent(): TxFrame[] {
    return this.sends.flat();
  }

  stats(): LinkStats {
    return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txErrors: 0 };
  }

  /** Frames waiting unread: the test delivers them itself, so none. */
  discardPending(): number {
    return 0;
  }

  close(): void {}
}

/** The bytes of a TxFrame, pieces joined. */
export function bytes(f: TxFrame): Buffer {
  return Buffer.isBuffer(f.data) ? f.data : Buffer.concat(f.data as readonly Buffer[]);
}

interface Timeout {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

export class FakeTimers implements HostTimers {
  now = 1000;
  setTimeoutCalls = 0;
  #next = 1;
  #timeouts: Timeout[] = [];
  #immediates: { id: number; fn: () => void }[] = [];

  readonly clock = (): number => this.now;

  setTimeout(fn: () => void, ms: number): unknown {
    this.setTimeoutCalls++;
    const t = { id: this.#next++, at: this.now + ms, fn };
    this.#timeouts.push(t);
    return t.id;
  }

  clearTimeout(h: unknown): void {
    this.#timeouts = this.#timeouts.filter((t) => t.id !== h);
  }

  setImmediate(fn: () => void): unknown {
    const i = { id: this.#next++, fn };
    this.#immediates.push(i);
    return i.id;
  }

  clearImmediate(h: unknown): void {
    this.#immediates = this.#immediates.filter((i) => i.id !== h);
  }

  get pendingTimeouts(): number {
    return this.#timeouts.length;
  }

  get pendingImmediates(): number {
    return this.#immediates.length;
  }

  runImmediates(): void {
    const due = this.#immediates;
    this.#immediates = [];
    for (const i of due) i.fn();
  }

  /** Move the clock forward, firing due timeouts in deadline order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.#timeouts.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#timeouts = this.#timeouts.filter((t) => t !== due);
      this.now = Math.max(this.now, due.at);
      due.fn();
    }
    this.now = end;
  }

  /** Let promise continuations (announce()'s awaits) run. */
  async flush(): Promise<void> {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

export class FakeStack implements HostStack {
  readonly inputs: { d: Datagram; now: number }[] = [];
  readonly polls: number[] = [];
  /** Datagrams the next poll() returns. */
  out: Datagram[] = [];
  deadline: number | undefined;

  input(d: Datagram, now: number): void {
    this.inputs.push({ d, now });
  }

  poll(now: number): Datagram[] {
    this.polls.push(now);
    const o = this.out;
    this.out = [];
    return o;
  }

  pollAt(): number | undefined {
    return this.deadline;
  }
}

import { VipHost, type HostOptions } from '../../primary/host.js';

export const VIP_MAC = Buffer.from('eae290fdb35e', 'hex');
export const VIP = 0xc0000264; // 192.0.2.100, the server of test/wire/captures.ts

export function makeHost(caps: Partial<LinkCapabilities> = {}, o: Partial<HostOptions> = {}) {
  const link = new FakeLink(VIP_MAC, caps);
  const timers = new FakeTimers();
  const stack = new FakeStack();
  const host = new VipHost({ link, vip: VIP, stack, now: timers.clock, timers, ...o });
  host.start();
  return { link, timers, stack, host };
}
