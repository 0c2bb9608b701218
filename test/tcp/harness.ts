// A packetdrill-like test context for the TCP engine (in the manner of gVisor's
// testing/context): one stack with a seeded random source and a forced ISS, a fake
// client that injects segments built by field at virtual times, and checks of the
// exact segments the stack emits.
//
//   const ctx = new Ctx(t);
//   ctx.send({ flags: 'S', seq: ctx.irs, win: 65535, mss: 1460 });
//   ctx.expect({ flags: 'SA', seq: ctx.iss, ack: ctx.irs + 1, mss: 1460 });
//   ctx.expectNone();
//
// Sequence numbers in specs are plain numbers; the defaults put both ISNs just below
// 2^32 so every test crosses the wrap. Times are virtual milliseconds.

import type { Test } from 'tap';
import { TcpStack, type StackOptions } from '../../shared/tcp/stack.js';
import type { TcpConnection } from '../../shared/tcp/connection.js';
import type { TcbSnapshot } from '../../shared/tcp/tcb.js';
import {
  ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, type Datagram, type SackBlock, type TcpOptions, type TcpSegment,
} from '../../shared/tcp/segment.js';

export const SERVER = 0xc0000201; // 192.0.2.1
export const CLIENT = 0xc000020a; // 192.0.2.10
export const SPORT = 80;
export const CPORT = 40000;

/** A seeded [0,1) source (mulberry32), so runs repeat exactly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function u32(n: number): number {
  return n >>> 0;
}

const FLAG_LETTERS: Array<[string, number]> = [
  ['S', SYN], ['F', FIN], ['R', RST], ['P', PSH], ['A', ACK], ['U', URG], ['E', ECE], ['C', CWR],
];

export function parseFlags(s: string): number {
  let f = 0;
  for (const ch of s) {
    const e = FLAG_LETTERS.find(([l]) => l === ch);
    if (e === undefined) throw new Error(`unknown flag letter ${ch}`);
    f |= e[1];
  }
  return f;
}

export function flagString(f: number): string {
  return FLAG_LETTERS.filter(([, b]) => f & b).map(([l]) => l).join('') || '.';
}

/** A segment by field. Numbers are reduced mod 2^32. */
export interface SegSpec {
  flags: string;
  seq?: number;
  ack?: number;
  win?: number;
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  sack?: Array<[number, number]>;
  /** [TSval, TSecr] */
  ts?: [number, number];
  /** Payload: bytes, a string, or a length (filled with a pattern). */
  data?: Buffer | string | number;
  /** Expectations only: the emitted segment carries exactly these options and no other
   *  (default when any option field is given). Set false to check only flags/numbers. */
  exactOptions?: boolean;
  gsoSize?: number;
  srcPort?: number;
  dstPort?: number;
}

export function payloadOf(d: Buffer | string | number | undefined): Buffer {
  if (d === undefined) return Buffer.alloc(0);
  if (typeof d === 'number') {
    const b = Buffer.allocUnsafe(d);
    for (let i = 0; i < d; i++) b[i] = (i * 7 + 3) & 0xff;
    return b;
  }
  return typeof d === 'string' ? Buffer.from(d) : d;
}

export function buildSegment(s: SegSpec, srcPort = CPORT, dstPort = SPORT): TcpSegment {
  const options: { -readonly [K in keyof TcpOptions]: TcpOptions[K] } = {};
  if (s.mss !== undefined) options.mss = s.mss;
  if (s.wscale !== undefined) options.wscale = s.wscale;
  if (s.sackOk) options.sackPermitted = true;
  if (s.sack !== undefined) options.sack = s.sack.map(([l, r]) => [u32(l), u32(r)] as SackBlock);
  if (s.ts !== undefined) options.ts = { val: u32(s.ts[0]), ecr: u32(s.ts[1]) };
  return {
    srcPort: s.srcPort ?? srcPort, dstPort: s.dstPort ?? dstPort,
    seq: u32(s.seq ?? 0), ack: u32(s.ack ?? 0), flags: parseFlags(s.flags), window: s.win ?? 65535,
    options, payload: payloadOf(s.data),
  };
}

export function describe(seg: TcpSegment): string {
  const o = seg.options;
  const parts = [`${flagString(seg.flags)} seq=${seg.seq} ack=${seg.ack} win=${seg.window} len=${seg.payload.length}`];
  if (o.mss !== undefined) parts.push(`mss=${o.mss}`);
  if (o.wscale !== undefined) parts.push(`ws=${o.wscale}`);
  if (o.sackPermitted) parts.push('sackOK');
  if (o.sack !== undefined) parts.push(`sack=${o.sack.map(([l, r]) => `${l}-${r}`).join(',')}`);
  if (o.ts !== undefined) parts.push(`ts=${o.ts.val}/${o.ts.ecr}`);
  if (seg.gsoSize !== undefined) parts.push(`gso=${seg.gsoSize}`);
  return parts.join(' ');
}

export interface CtxOptions extends StackOptions {
  /** Our ISS (default 2^32 - 1000: data crosses the wrap). */
  forceIss?: number;
  seed?: number;
  /** The client's initial sequence number (default 2^32 - 500). */
  clientIsn?: number;
  port?: number;
  backlog?: number;
  synBacklog?: number;
  /** Do not listen (tests of the closed port). */
  noListen?: boolean;
}

export interface EstablishOptions {
  mss?: number;
  wscale?: number;
  sack?: boolean;
  /** Offer timestamps (the client's TSval starts at tsStart). */
  ts?: boolean;
  tsStart?: number;
  win?: number;
  /** Start time (default ctx.now). */
  at?: number;
  /** Client port (several connections in one context). */
  port?: number;
  /** The handshake's round trip: the final ACK comes this long after the SYN. */
  rtt?: number;
}

export class Ctx {
  readonly t: Test;
  readonly stack: TcpStack;
  readonly iss: number;
  readonly irs: number;
  now = 0;
  /** Emitted by the stack, not yet checked. */
  readonly out: Datagram[] = [];
  /** The accepted connection (set by onConnection). */
  conn: TcpConnection | undefined;
  readonly accepted: TcpConnection[] = [];
  readonly events: string[] = [];
  readonly received: Buffer[] = [];
  /** Client state, maintained by the fixtures: its next sequence number, its TSval. */
  cSeq: number;
  cTs = 0;
  listener: ReturnType<TcpStack['listen']> | undefined;

  constructor(t: Test, o: CtxOptions = {}) {
    this.t = t;
    this.iss = u32(o.forceIss ?? 2 ** 32 - 1000);
    this.irs = u32(o.clientIsn ?? 2 ** 32 - 500);
    this.cSeq = this.irs;
    const iss = this.iss;
    this.stack = new TcpStack({ random: seeded(o.seed ?? 1), iss: () => iss, ...o });
    if (!o.noListen) {
      this.listener = this.stack.listen(o.port ?? SPORT, { backlog: o.backlog, synBacklog: o.synBacklog });
      this.listener.onConnection = (c) => this.#accept(c);
    }
  }

  #accept(c: TcpConnection): void {
    this.conn = c;
    this.accepted.push(c);
    const ev = this.events;
    c.handler = {
      readable: () => {
        ev.push('readable');
      },
      writable: () => {
        ev.push('writable');
      },
      end: () => {
        ev.push('end');
      },
      closed: (err?: Error) => {
        ev.push(err === undefined ? 'closed' : `closed:${(err as NodeJS.ErrnoException).code}`);
      },
    };
  }

  /** The accepted connection; fails the test when there is none. */
  get c(): TcpConnection {
    if (this.conn === undefined) throw new Error('no accepted connection');
    return this.conn;
  }

  /** Move the virtual clock (never backwards) and collect what is due. */
  at(ms: number): this {
    if (ms < this.now) throw new Error(`time goes backwards: ${ms} < ${this.now}`);
    this.now = ms;
    this.collect();
    return this;
  }

  advance(ms: number): this {
    return this.at(this.now + ms);
  }

  /** Inject one segment from the client at `atMs` (default: now). */
  send(s: SegSpec, atMs?: number, src = CLIENT): this {
    if (atMs !== undefined) {
      if (atMs < this.now) throw new Error(`time goes backwards: ${atMs} < ${this.now}`);
      this.now = atMs;
    }
    this.stack.input({ src, dst: SERVER, seg: buildSegment(s) }, this.now);
    return this;
  }

  /** Inject a raw segment (garbage tests). */
  sendRaw(seg: TcpSegment, src = CLIENT, dst = SERVER): this {
    this.stack.input({ src, dst, seg }, this.now);
    return this;
  }

  collect(): void {
    for (const d of this.stack.poll(this.now)) this.out.push(d);
  }

  /** Run the stack's own clock until nothing is due before `until`, collecting output. */
  runUntil(until: number): void {
    for (let i = 0; i < 100000; i++) {
      const at = this.stack.pollAt();
      if (at === undefined || at > until) break;
      this.at(Math.max(at, this.now));
    }
    this.at(until);
  }

  /** The next emitted segment, checked against the spec: flags exactly, every number
   *  given, the payload when given, and the options exactly when any option is given. */
  expect(s: SegSpec, msg = ''): TcpSegment {
    this.collect();
    const d = this.out.shift();
    const where = msg ? `${msg}: ` : '';
    if (d === undefined) {
      this.t.fail(`${where}expected ${s.flags} segment, got nothing`);
      return buildSegment({ flags: '' });
    }
    const seg = d.seg;
    const got = describe(seg);
    const t = this.t;
    t.equal(flagString(seg.flags), flagString(parseFlags(s.flags)), `${where}flags (${got})`);
    t.equal(d.src, SERVER, `${where}src addr`);
    if (s.seq !== undefined) t.equal(seg.seq, u32(s.seq), `${where}seq (${got})`);
    if (s.ack !== undefined) t.equal(seg.ack, u32(s.ack), `${where}ack (${got})`);
    if (s.win !== undefined) t.equal(seg.window, s.win, `${where}win (${got})`);
    if (s.gsoSize !== undefined) t.equal(seg.gsoSize, s.gsoSize, `${where}gsoSize (${got})`);
    if (s.data !== undefined) {
      const want = payloadOf(s.data);
      if (typeof s.data === 'number') t.equal(seg.payload.length, want.length, `${where}payload length (${got})`);
      else t.same(seg.payload, want, `${where}payload (${got})`);
    }
    const anyOption = s.mss !== undefined || s.wscale !== undefined || s.sackOk !== undefined
      || s.sack !== undefined || s.ts !== undefined;
    if (s.exactOptions ?? anyOption) {
      const o = seg.options;
      t.same(
        {
          mss: o.mss, wscale: o.wscale, sackOk: o.sackPermitted === true,
          sack: o.sack?.map(([l, r]) => [l, r]), ts: o.ts === undefined ? undefined : [o.ts.val, o.ts.ecr],
        },
        {
          mss: s.mss, wscale: s.wscale, sackOk: s.sackOk === true,
          sack: s.sack?.map(([l, r]) => [u32(l), u32(r)]), ts: s.ts?.map(u32),
        },
        `${where}options (${got})`,
      );
    }
    return seg;
  }

  /** Nothing more was emitted. */
  expectNone(msg = 'no segment'): void {
    this.collect();
    this.t.same(this.out.map((d) => describe(d.seg)), [], msg);
    this.out.length = 0;
  }

  /** Drop everything emitted so far (fixtures). */
  drain(): Datagram[] {
    this.collect();
    return this.out.splice(0);
  }

  /** Our TSval at `now` on the accepted connection. */
  srvTs(now = this.now): number {
    return this.c.tsNow(now);
  }

  // ---- fixtures ----

  /** Complete a handshake with the given client options and return the connection.
   *  Afterwards cSeq = irs + 1 and the server's next sequence number is iss + 1. */
  established(o: EstablishOptions = {}): TcpConnection {
    const at = o.at ?? this.now;
    this.cTs = o.tsStart ?? 100;
    this.send({
      flags: 'S', seq: this.irs, win: o.win ?? 65535, mss: o.mss, wscale: o.wscale, sackOk: o.sack,
      ts: o.ts ? [this.cTs, 0] : undefined, srcPort: o.port,
    }, at);
    const synAck = this.drain().find((d) => d.seg.flags === (SYN | ACK));
    if (synAck === undefined) throw new Error('no SYN-ACK');
    this.cSeq = u32(this.irs + 1);
    this.send({
      flags: 'A', seq: this.cSeq, ack: this.iss + 1, win: o.win ?? 65535,
      ts: o.ts ? [this.cTs, synAck.seg.options.ts?.val ?? 0] : undefined, srcPort: o.port,
    }, at + (o.rtt ?? 0));
    this.drain();
    this.events.length = 0;
    return this.c;
  }

  /** Client data at cSeq (advances cSeq). */
  data(len: number | string | Buffer, o: { ack?: number; win?: number; flags?: string; at?: number } = {}): this {
    const payload = payloadOf(len);
    this.send({
      flags: o.flags ?? 'PA', seq: this.cSeq, ack: o.ack ?? this.c.sndMax, win: o.win ?? 65535, data: payload,
      ts: this.c.tsOk ? [this.cTs, this.c.tsLastSent] : undefined,
    }, o.at);
    this.cSeq = u32(this.cSeq + payload.length);
    return this;
  }

  /** A pure ACK from the client. */
  ack(ack: number, o: { win?: number; sack?: Array<[number, number]>; at?: number; seq?: number } = {}): this {
    return this.send({
      flags: 'A', seq: o.seq ?? this.cSeq, ack, win: o.win ?? 65535, sack: o.sack,
      ts: this.c.tsOk ? [this.cTs, this.c.tsLastSent] : undefined,
    }, o.at);
  }
}

/** A connection that saw only the client's SYN (SYN-RECEIVED) on one stack, `a`,
 *  snapshotted and restored on another, `b`, at time 5: what a takeover rebuilds from a
 *  replica that holds the OPEN alone. */
export function restoredHalfOpen(t: Test): { a: Ctx; b: Ctx; snap: TcbSnapshot; c: TcpConnection } {
  const a = new Ctx(t);
  a.send({ flags: 'S', seq: a.irs, mss: 1000, ts: [50, 0], sackOk: true, wscale: 7 }, 100);
  a.drain();
  const snap = [...a.stack.connections()][0]!.snapshot();
  const b = new Ctx(t);
  const c = b.stack.restore(structuredClone(snap), 5);
  return { a, b, snap, c };
}
