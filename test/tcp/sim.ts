// An in-memory network for engine tests: two stacks (a server and a test-only active
// opener) joined by a seeded lossy, reordering, duplicating link on a virtual clock.
// GSO segments are cut into pieces as the kernel would (PSH and FIN on the last one).

import { TcpStack, type StackOptions } from '../../shared/tcp/stack.js';
import type { TcpConnection } from '../../shared/tcp/connection.js';
import { FIN, PSH, type Datagram, type TcpSegment } from '../../shared/tcp/segment.js';
import { seeded } from './harness.js';

export interface LinkOptions {
  /** Probability a segment is lost. */
  loss: number;
  /** Probability a segment is delivered twice. */
  dup: number;
  /** One-way delay in ms, plus up to `jitter` ms (reordering). */
  delay: number;
  jitter: number;
  seed: number;
  /** Probability a whole emitted datagram (a GSO super-segment: every piece of it) is
   *  lost, as nftables in a bridge drops a whole GSO skb. Default 0. */
  frameLoss?: number;
}

interface InFlight {
  at: number;
  order: number;
  to: TcpStack;
  d: Datagram;
}

/** Cut a GSO super-segment into the segments the kernel would put on the wire. */
export function splitGso(seg: TcpSegment): TcpSegment[] {
  if (seg.gsoSize === undefined || seg.payload.length <= seg.gsoSize) return [seg];
  const out: TcpSegment[] = [];
  const n = seg.gsoSize;
  for (let off = 0; off < seg.payload.length; off += n) {
    const last = off + n >= seg.payload.length;
    const { gsoSize: _g, ...rest } = seg;
    out.push({
      ...rest,
      seq: (seg.seq + off) >>> 0,
      flags: last ? seg.flags : seg.flags & ~(PSH | FIN),
      payload: seg.payload.subarray(off, Math.min(off + n, seg.payload.length)),
    });
  }
  return out;
}

export class Sim {
  now = 0;
  readonly rand: () => number;
  readonly queue: InFlight[] = [];
  #order = 0;
  delivered = 0;
  lost = 0;

  constructor(public a: TcpStack, public b: TcpStack, readonly link: LinkOptions) {
    this.rand = seeded(link.seed);
  }

  /** Put `next` where `old` was (a takeover): segments in flight go to the new one. */
  replace(old: TcpStack, next: TcpStack): void {
    if (this.a === old) this.a = next;
    else if (this.b === old) this.b = next;
    for (const q of this.queue) if (q.to === old) q.to = next;
  }

  static stacks(common: StackOptions, seed: number): [TcpStack, TcpStack] {
    return [
      new TcpStack({ ...common, random: seeded(seed * 2 + 1) }),
      new TcpStack({ ...common, random: seeded(seed * 2 + 2) }),
    ];
  }

  #transmit(from: TcpStack, out: Datagram[]): void {
    const to = from === this.a ? this.b : this.a;
    for (const d of out) {
      if (this.link.frameLoss !== undefined && this.rand() < this.link.frameLoss) {
        this.lost++;
        continue;
      }
      for (const seg of splitGso(d.seg)) {
        if (this.rand() < this.link.loss) {
          this.lost++;
          continue;
        }
        const copies = this.rand() < this.link.dup ? 2 : 1;
        for (let i = 0; i < copies; i++) {
          const at = this.now + this.link.delay + this.rand() * this.link.jitter;
          this.queue.push({ at, order: this.#order++, to, d: { src: d.src, dst: d.dst, seg } });
        }
      }
    }
  }

  /** Run until `done()` or the virtual deadline; returns whether done. */
  run(done: () => boolean, until: number, tick?: (now: number) => void, appWake?: () => number | undefined): boolean {
    for (let steps = 0; steps < 2_000_000; steps++) {
      this.#transmit(this.a, this.a.poll(this.now));
      this.#transmit(this.b, this.b.poll(this.now));
      tick?.(this.now);
      if (done()) return true;
      let next = Infinity;
      for (const q of this.queue) if (q.at < next) next = q.at;
      const w = appWake?.();
      if (w !== undefined && w < next) next = Math.max(w, this.now);
      for (const s of [this.a, this.b]) {
        const p = s.pollAt();
        if (p !== undefined && p < next) next = Math.max(p, this.now);
      }
      if (next === Infinity || next > until) return done();
      this.now = Math.max(this.now, next);
      this.queue.sort((x, y) => x.at - y.at || x.order - y.order);
      while (this.queue.length > 0 && this.queue[0]!.at <= this.now) {
        const q = this.queue.shift()!;
        this.delivered++;
        q.to.input(q.d, this.now);
      }
    }
    return done();
  }
}

/** An application end: writes `stream` as room allows, reads with pauses, closes when done. */
export class Endpoint {
  sent = 0;
  readonly got: Buffer[] = [];
  ended = false;
  closed = false;
  error: string | undefined;
  paused = false;

  constructor(public c: TcpConnection, readonly stream: Buffer, readonly rand: () => number, readonly maxWrite: number) {
    this.bind(c);
    this.write();
  }

  /** Continue on another connection object (a restored one). */
  bind(c: TcpConnection): void {
    this.c = c;
    c.handler = {
      readable: () => this.read(),
      writable: () => this.write(),
      end: () => {
        this.ended = true;
      },
      closed: (err) => {
        this.paused = false;
        this.read();
        this.closed = true;
        if (err) this.error = (err as NodeJS.ErrnoException).code;
      },
    };
  }

  write(): void {
    const c = this.c;
    if (c.state !== 'ESTABLISHED' && c.state !== 'CLOSE-WAIT') return;
    while (this.sent < this.stream.length) {
      const len = Math.min(this.stream.length - this.sent, 1 + Math.floor(this.rand() * this.maxWrite));
      const n = c.send(this.stream.subarray(this.sent, this.sent + len));
      this.sent += n;
      if (n < len) return;
    }
    c.close();
  }

  read(): void {
    if (this.paused) return;
    for (;;) {
      const b = this.c.recv(1 + Math.floor(this.rand() * 5000));
      if (b === undefined) break;
      this.got.push(Buffer.from(b));
    }
  }

  /** Sometimes stop reading for a while (the peer then sees its window close); time
   *  bounded, so a paused reader always comes back. */
  resumeAt: number | undefined;

  tick(now: number): void {
    if (this.paused && this.resumeAt !== undefined && now >= this.resumeAt) {
      this.paused = false;
      this.resumeAt = undefined;
    } else if (!this.paused && this.rand() < 0.002) {
      this.paused = true;
      this.resumeAt = now + 1 + Math.floor(this.rand() * 300);
    }
    this.read();
  }

  received(): Buffer {
    return Buffer.concat(this.got);
  }
}
