// The "server" of the kick experiment (kick.ts): a TCP responder built from raw frames
// on an AF_PACKET link, so that every segment it sends or withholds is chosen here and
// nowhere else. For each planned connection it completes the handshake (SACK, timestamps
// and window scale negotiated as the kernel client offers them), answers a few warm-up
// requests so the client's kernel has an RTT estimate, then plays a primary that died:
// it drops the client's next request (never acknowledges a byte of it), stays silent for
// the outage, sends one kick variant, and times the client's first resend of the dropped
// bytes. Then it behaves again (accepts, SACKs what it holds out of order, replies) so
// the client's application finishes and the next connection starts clean.
//
// Rules it keeps whatever the variant (DESIGN step 5): it never acknowledges a byte it
// does not hold, and every SACK block it sends covers bytes it holds.
import type { Link, RxFrame } from '../../shared/link.js';
import { parseEthernet, emitEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER_LEN } from '../../shared/wire/ethernet.js';
import { parseArp, arpReplyFrame, ARP_REQUEST } from '../../shared/wire/arp.js';
import { parseIpv4, emitIpv4, IPV4_HEADER_LEN } from '../../shared/wire/ipv4.js';
import { emitIcmpUnreachable, ICMP_CODE_FRAG_NEEDED, ICMP_CODE_HOST_UNREACH } from '../../shared/wire/icmp.js';
import { parseTcp, emitTcp, tcpHeaderLen } from '../../shared/wire/tcp.js';
import { fillTcpChecksum, IPPROTO_ICMP, IPPROTO_TCP } from '../../shared/wire/checksum.js';
import { isParseError } from '../../shared/wire/result.js';
import { ACK, FIN, PSH, RST, SYN, type SackBlock, type TcpSegment } from '../../shared/tcp/segment.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from '../../shared/tcp/seq.js';

/** What the responder sends when the outage ends. Each names the mechanism it probes. */
export const VARIANTS = [
  /** Nothing: the client's own timers (TLP, then RTO with backoff). */
  'none',
  /** One pure ACK at the last acknowledged point: what intact's kick sends today. */
  'ack',
  /** Three identical duplicate ACKs (the classic fast-retransmit trigger without SACK). */
  'dupack3',
  /** Three duplicate ACKs echoing the client's latest TSval, our TSval advancing. */
  'dupack3-tsecr',
  /** Three ACKs each opening the window a little: window updates, not duplicates. */
  'window-update',
  /** A zero-window ACK, then one opening the window again. */
  'zero-window',
  /** Our last reply segment again: the client holds it and answers with a D-SACK. */
  'old-data',
  /** An ACK one below our send point (a keepalive-style probe): the client must ACK. */
  'probe',
  /** ICMP host unreachable quoting the client's snd_una: RFC 6069 RTO backoff revert. */
  'icmp-unreach',
  /** ICMP fragmentation needed, next-hop MTU 8 below the link's: PMTU's fast retransmit. */
  'icmp-frag',
  /** Both: fragmentation needed first (it retransmits at once what it can), then the
   *  host-unreachable messages (they shorten the timer for what is left). */
  'icmp-frag+unreach',
] as const;
export type KickVariant = (typeof VARIANTS)[number];

export interface ConnPlan {
  index: number;
  run: number;
  variant: KickVariant;
  outageMs: number;
  /** Size of the request that is dropped. */
  request: number;
}

export type Counters = Record<string, number>;

/** A client segment seen after the drop, relative to the dropped range. */
export interface SegmentSeen {
  /** Milliseconds since the first dropped segment. */
  atMs: number;
  /** Sequence number minus the first dropped byte. */
  seqOff: number;
  len: number;
  flags: number;
}

export interface ConnRecord {
  plan: ConnPlan;
  ok: boolean;
  error: string | null;
  clientPort: number;
  /** Negotiated as the client offered them. */
  sackOk: boolean;
  tsOk: boolean;
  clientWscale: number;
  /** First dropped segment -> kick sent (the outage as it happened). */
  outageActualMs: number;
  /** Kick sent -> first client segment carrying dropped bytes arrived. */
  kickToResendMs: number;
  resend: SegmentSeen | null;
  /** Client segments carrying dropped bytes during the outage (its own timers firing). */
  outageSegments: SegmentSeen[];
  /** Client segments between the kick and the resend (ACKs it answered with, ...). */
  beforeResend: SegmentSeen[];
  /** Segments with dropped bytes that were sent before the kick but reached the
   *  responder after it (counted with the outage's, not taken for the resend). */
  lateArrivals: number;
  counters: { syn?: Counters; drop?: Counters; kick?: Counters; resend?: Counters; end?: Counters };
}

export interface ResponderOptions {
  link: Link;
  vip: number;
  port: number;
  plans: readonly ConnPlan[];
  warmup: number;
  warmupRequest: number;
  reply: number;
  /** Give up waiting for a resend after this long (the run fails; the client is let finish). */
  resendCapMs: number;
  /** A whole connection may take this long before it is reset and recorded as failed. */
  connectionCapMs: number;
  /** The link MTU, for the icmp-frag variant's next-hop MTU. */
  mtu: number;
  /** The client namespace's counters, read synchronously (kick.ts reads /proc/<pid>/net). */
  counters(): Counters;
  /** Awaited before the SYN-ACK of each connection.
   *  Must not take long: the client's first RTT sample is its SYN's, and a late SYN-ACK
   *  would raise its RTO for the whole connection. */
  beforeAccept?(plan: ConnPlan): Promise<void>;
  /** Once the resend has been seen: undo a side effect of the kick on the client (a
   *  learnt PMTU). The reply to the dropped request waits for it, so the client's next
   *  connection starts after it. */
  afterResend?(plan: ConnPlan): Promise<void>;
  /** Told when a connection has finished, well or not. */
  onRecord?(r: ConnRecord): void;
}

type Phase = 'accepting' | 'syn-rcvd' | 'warmup' | 'armed' | 'outage' | 'await' | 'recover' | 'replied' | 'closing' | 'done';

/** Our window field after the handshake: << 7 = 128 KB, never the limit here. */
const WINDOW = 1024;
const WSCALE = 7;
const MSS = 1460;
const REPLY_BYTE = 0x6b;
/** ICMP host-unreachable messages in the icmp-unreach kick: each reverts one RTO doubling. */
const ICMP_UNREACH_COUNT = 4;
/** The client kernel's count of retransmitted segments (nstat's name). */
const RETRANS_SEGS = 'TcpRetransSegs';

interface Conn {
  plan: ConnPlan;
  rec: ConnRecord;
  phase: Phase;
  port: number;
  mac: Buffer;
  ip: number;
  iss: number;
  irs: number;
  rcvNxt: number;
  sndNxt: number;
  /** TSval of the last segment we accepted in order: what a backup would hold. */
  tsRecent: number;
  /** TSval of the newest client segment seen, dropped ones included. */
  tsLatest: number;
  /** Out-of-order ranges held, newest first (what SACK blocks report). */
  ooo: Array<[number, number]>;
  /** Where each request ends: the warm-ups, then the dropped one. */
  ends: number[];
  repliesSent: number;
  dropStart: number;
  dropEnd: number;
  lastReply: { seq: number; payload: Buffer } | null;
  /** The reply to the dropped request waits for this (afterResend). */
  replyGate: Promise<void> | null;
  replyDeferred: boolean;
  tDrop: number;
  tKick: number;
  timers: NodeJS.Timeout[];
}

export class KickResponder {
  readonly #o: ResponderOptions;
  readonly #conns = new Map<number, Conn>();
  readonly #records: ConnRecord[] = [];
  #next = 0;
  #ipId = 1;
  readonly #tsBase = (Math.random() * 0x7fffffff) >>> 0;
  #lastTsVal = 0;
  #resolve!: (r: ConnRecord[]) => void;
  /** Resolves with every connection's record once the last planned one is over. */
  readonly done: Promise<ConnRecord[]>;
  /** Frames that were not for us or could not be read, by reason (never thrown). */
  readonly ignored: Record<string, number> = {};

  constructor(o: ResponderOptions) {
    this.#o = o;
    this.done = new Promise((r) => (this.#resolve = r));
  }

  start(): void {
    this.#o.link.onFrames((frames) => {
      for (const f of frames) this.#onFrame(f);
    });
  }

  records(): readonly ConnRecord[] {
    return this.#records;
  }

  #ignore(reason: string): void {
    this.ignored[reason] = (this.ignored[reason] ?? 0) + 1;
  }

  // ------------------------------------------------------------ time and frames

  /** Our TSval: a millisecond clock that never goes backwards (DESIGN rule 8). */
  #tsVal(advance = false): number {
    const clock = (this.#tsBase + Math.floor(performance.now())) >>> 0;
    let v = seqGt(clock, this.#lastTsVal) ? clock : this.#lastTsVal;
    if (advance) v = seqAdd(this.#lastTsVal, 1);
    this.#lastTsVal = seqMax(v, this.#lastTsVal);
    return v;
  }

  #ipFrame(c: Conn, proto: number, l4: Buffer): Buffer {
    const out = Buffer.alloc(ETH_HEADER_LEN + IPV4_HEADER_LEN + l4.length);
    emitEthernet(out, 0, c.mac, this.#o.link.mac, ETHERTYPE_IPV4);
    emitIpv4(out, ETH_HEADER_LEN, { id: this.#ipId++, proto, src: this.#o.vip, dst: c.ip, totalLength: IPV4_HEADER_LEN + l4.length });
    l4.copy(out, ETH_HEADER_LEN + IPV4_HEADER_LEN);
    return out;
  }

  #tcpFrame(c: Conn, f: { seq: number; flags: number; window?: number; ecr?: number; tsAdvance?: boolean; sack?: readonly SackBlock[]; payload?: Buffer; syn?: boolean }): Buffer {
    const payload = f.payload ?? Buffer.alloc(0);
    const seg: TcpSegment = {
      srcPort: this.#o.port,
      dstPort: c.port,
      seq: f.seq >>> 0,
      ack: c.rcvNxt,
      flags: f.flags,
      window: f.window ?? WINDOW,
      options: f.syn
        ? { mss: MSS, sackPermitted: c.rec.sackOk, wscale: WSCALE, ...(c.rec.tsOk ? { ts: { val: this.#tsVal(), ecr: c.tsRecent } } : {}) }
        : {
          ...(c.rec.tsOk ? { ts: { val: this.#tsVal(f.tsAdvance), ecr: f.ecr ?? c.tsRecent } } : {}),
          ...(f.sack && f.sack.length > 0 ? { sack: f.sack } : {}),
        },
      payload,
    };
    const hl = tcpHeaderLen(seg);
    const out = Buffer.alloc(ETH_HEADER_LEN + IPV4_HEADER_LEN + hl + payload.length);
    emitEthernet(out, 0, c.mac, this.#o.link.mac, ETHERTYPE_IPV4);
    emitIpv4(out, ETH_HEADER_LEN, { id: this.#ipId++, proto: IPPROTO_TCP, src: this.#o.vip, dst: c.ip, totalLength: IPV4_HEADER_LEN + hl + payload.length });
    emitTcp(seg, out, ETH_HEADER_LEN + IPV4_HEADER_LEN);
    payload.copy(out, ETH_HEADER_LEN + IPV4_HEADER_LEN + hl);
    fillTcpChecksum(out.subarray(0, ETH_HEADER_LEN + IPV4_HEADER_LEN + hl), ETH_HEADER_LEN, payload);
    return out;
  }

  /** An ICMP destination-unreachable about the client's segment at `seq` (its snd_una):
   *  the quoted datagram is what a router would have dropped, client -> VIP. */
  #icmpFrame(c: Conn, code: number, seq: number, nextHopMtu = 0): Buffer {
    const quoted = { src: c.ip, dst: this.#o.vip, srcPort: c.port, dstPort: this.#o.port, seq, ack: c.sndNxt, totalLength: this.#o.mtu };
    return this.#ipFrame(c, IPPROTO_ICMP, emitIcmpUnreachable(code, quoted, nextHopMtu));
  }

  #send(frames: Buffer[]): void {
    if (frames.length === 0) return;
    const n = this.#o.link.send(frames.map((data) => ({ data })));
    if (n !== frames.length) this.#ignore('send-short');
  }

  #ack(c: Conn): void {
    const sack: SackBlock[] = c.ooo.slice(0, 3).map(([l, r]) => [l, r] as const);
    this.#send([this.#tcpFrame(c, { seq: c.sndNxt, flags: ACK, sack })]);
  }

  // ------------------------------------------------------------ receive

  #onFrame(f: RxFrame): void {
    const eth = parseEthernet(f.data);
    if (isParseError(eth)) return this.#ignore(`ethernet:${eth.reason}`);
    if (eth.ethertype === ETHERTYPE_ARP) {
      const arp = parseArp(eth.payload);
      if (isParseError(arp)) return this.#ignore(`arp:${arp.reason}`);
      if (arp.op === ARP_REQUEST && arp.tpa === this.#o.vip) this.#send([arpReplyFrame(this.#o.link.mac, this.#o.vip, arp)]);
      return;
    }
    if (eth.ethertype !== ETHERTYPE_IPV4) return this.#ignore('not-ipv4');
    // A veth peer leaves checksums partial (DESIGN): the kernel vouches for them.
    const ip = parseIpv4(eth.payload, { gso: f.gso });
    if (isParseError(ip)) return this.#ignore(`ipv4:${ip.reason}`);
    if (ip.dst !== this.#o.vip || ip.proto !== IPPROTO_TCP) return this.#ignore('not-for-us');
    const seg = parseTcp(ip.payload);
    if (isParseError(seg)) return this.#ignore(`tcp:${seg.reason}`);
    if (seg.dstPort !== this.#o.port) return this.#ignore('other-port');
    const c = this.#conns.get(seg.srcPort);
    if (seg.flags & SYN && !(seg.flags & ACK)) {
      if (c && c.phase === 'syn-rcvd') this.#send([this.#synAck(c)]);
      else if (!c || c.phase === 'done') this.#onSyn(seg, Buffer.from(eth.src), ip.src);
      return;
    }
    if (!c || c.phase === 'accepting' || c.phase === 'done') return this.#ignore('no-connection');
    this.#onSegment(c, seg);
  }

  #onSyn(seg: TcpSegment, mac: Buffer, ip: number): void {
    const plan = this.#o.plans[this.#next];
    if (!plan) return this.#ignore('syn-beyond-plan');
    this.#next++;
    const rec: ConnRecord = {
      plan, ok: false, error: null, clientPort: seg.srcPort,
      sackOk: seg.options.sackPermitted === true, tsOk: seg.options.ts !== undefined, clientWscale: seg.options.wscale ?? -1,
      outageActualMs: NaN, kickToResendMs: NaN, resend: null, outageSegments: [], beforeResend: [], lateArrivals: 0, counters: {},
    };
    const irs = seg.seq;
    const base = seqAdd(irs, 1);
    const ends: number[] = [];
    for (let k = 1; k <= this.#o.warmup; k++) ends.push(seqAdd(base, k * this.#o.warmupRequest));
    const dropStart = seqAdd(base, this.#o.warmup * this.#o.warmupRequest);
    const dropEnd = seqAdd(dropStart, plan.request);
    ends.push(dropEnd);
    const c: Conn = {
      plan, rec, phase: 'accepting', port: seg.srcPort, mac, ip,
      iss: (Math.random() * 0x100000000) >>> 0, irs, rcvNxt: base, sndNxt: 0,
      tsRecent: seg.options.ts?.val ?? 0, tsLatest: seg.options.ts?.val ?? 0,
      ooo: [], ends, repliesSent: 0, dropStart, dropEnd, lastReply: null, replyGate: null, replyDeferred: false, tDrop: NaN, tKick: NaN, timers: [],
    };
    c.sndNxt = seqAdd(c.iss, 1);
    this.#conns.set(seg.srcPort, c);
    const accept = async () => {
      await this.#o.beforeAccept?.(plan);
      rec.counters.syn = this.#readCounters();
      if (!rec.sackOk || !rec.tsOk || rec.clientWscale < 0) {
        // The experiment is about a client as Linux offers itself (SACK, timestamps, window
        // scale; our windows assume the scale): anything else is a setup fault.
        this.#fail(c, `client offered no ${[rec.sackOk ? '' : 'SACK', rec.tsOk ? '' : 'timestamps', rec.clientWscale < 0 ? 'window scale' : ''].filter(Boolean).join(', ')}`);
      }
      c.phase = 'syn-rcvd';
      this.#send([this.#synAck(c)]);
      c.timers.push(setTimeout(() => this.#reset(c, `connection not over after ${this.#o.connectionCapMs} ms (phase ${c.phase})`), this.#o.connectionCapMs));
    };
    accept().catch((e: Error) => this.#fail(c, `before accept: ${e.message}`));
  }

  #synAck(c: Conn): Buffer {
    return this.#tcpFrame(c, { seq: c.iss, flags: SYN | ACK, window: 0xffff, syn: true });
  }

  #readCounters(): Counters | undefined {
    try {
      return this.#o.counters();
    } catch {
      this.#ignore('counters-unreadable');
      return undefined;
    }
  }

  #onSegment(c: Conn, seg: TcpSegment): void {
    if (seg.flags & RST) {
      this.#fail(c, `client reset the connection in phase ${c.phase}`);
      this.#finish(c);
      return;
    }
    const ts = seg.options.ts;
    if (ts && seqGt(ts.val, c.tsLatest)) c.tsLatest = ts.val;
    if (c.phase === 'syn-rcvd') {
      if (!(seg.flags & ACK) || seg.ack !== c.sndNxt) return this.#ignore('bad-handshake-ack');
      c.phase = 'warmup';
      if (seg.payload.length === 0) return;
    }
    if (c.phase === 'closing') {
      if (seg.flags & ACK && seg.ack === c.sndNxt) {
        c.rec.ok = c.rec.error === null;
        this.#finish(c);
      }
      return;
    }
    const len = seg.payload.length;
    const end = seqAdd(seg.seq, len);
    const carriesDropped = len > 0 && seqLt(seg.seq, c.dropEnd) && seqGt(end, c.dropStart);
    const now = performance.now();
    const seen = (): SegmentSeen => ({ atMs: now - c.tDrop, seqOff: seqSub(seg.seq, c.dropStart), len, flags: seg.flags });
    switch (c.phase) {
      case 'armed':
        if (!carriesDropped) break;
        // The primary "dies" here: this request and everything after it goes unanswered.
        c.tDrop = now;
        c.rec.counters.drop = this.#readCounters();
        c.rec.outageSegments.push(seen());
        c.phase = 'outage';
        c.timers.push(setTimeout(() => this.#kick(c), c.plan.outageMs));
        return;
      case 'outage':
        if (carriesDropped) c.rec.outageSegments.push(seen());
        return;
      case 'await': {
        if (!carriesDropped) {
          c.rec.beforeResend.push(seen());
          return;
        }
        // Every resend is a retransmission, counted by the client's kernel before it
        // leaves. None counted since the kick: this one left before it and reached us
        // late (this process was not scheduled; its frames waited in the ring).
        const counters = this.#readCounters();
        const kick = c.rec.counters.kick;
        if (counters && kick && (counters[RETRANS_SEGS] ?? 0) === (kick[RETRANS_SEGS] ?? 0)) {
          c.rec.outageSegments.push(seen());
          c.rec.lateArrivals++;
          return;
        }
        c.rec.counters.resend = counters;
        c.rec.kickToResendMs = now - c.tKick;
        c.rec.resend = seen();
        c.phase = 'recover';
        if (this.#o.afterResend) {
          c.replyGate = this.#o.afterResend(c.plan).catch((e: Error) => this.#fail(c, `after the resend: ${e.message}`));
        }
        break;
      }
      default:
        break;
    }
    if (len > 0) this.#receive(c, seg.seq, end, ts?.val);
    if (seg.flags & FIN && seqAdd(seg.seq, len) === c.rcvNxt) this.#onFin(c);
  }

  /** Accepts [seq, end): in order it advances rcv_nxt, beyond it is held and SACKed. */
  #receive(c: Conn, seq: number, end: number, tsVal: number | undefined): void {
    if (seqLe(end, c.rcvNxt)) {
      this.#ack(c);
      return;
    }
    if (seqLe(seq, c.rcvNxt)) {
      c.rcvNxt = end;
      if (tsVal !== undefined) c.tsRecent = tsVal;
      for (let merged = true; merged;) {
        merged = false;
        for (let i = 0; i < c.ooo.length; i++) {
          const [l, r] = c.ooo[i]!;
          if (seqLe(l, c.rcvNxt)) {
            c.rcvNxt = seqMax(c.rcvNxt, r);
            c.ooo.splice(i, 1);
            merged = true;
            break;
          }
        }
      }
    } else {
      let l = seq;
      let r = end;
      c.ooo = c.ooo.filter(([a, b]) => {
        if (seqGt(a, r) || seqLt(b, l)) return true;
        l = seqLt(a, l) ? a : l;
        r = seqGt(b, r) ? b : r;
        return false;
      });
      c.ooo.unshift([l, r]);
    }
    let replied = false;
    while (c.repliesSent < c.ends.length && seqGe(c.rcvNxt, c.ends[c.repliesSent]!)) {
      if (c.repliesSent === this.#o.warmup && c.replyGate) {
        if (!c.replyDeferred) {
          c.replyDeferred = true;
          void c.replyGate.then(() => {
            if (c.phase === 'recover') this.#reply(c);
          });
        }
        break;
      }
      this.#reply(c);
      replied = true;
    }
    if (!replied) this.#ack(c);
  }

  #reply(c: Conn): void {
    const payload = Buffer.alloc(this.#o.reply, REPLY_BYTE);
    c.lastReply = { seq: c.sndNxt, payload };
    this.#send([this.#tcpFrame(c, { seq: c.sndNxt, flags: ACK | PSH, payload })]);
    c.sndNxt = seqAdd(c.sndNxt, payload.length);
    c.repliesSent++;
    if (c.repliesSent === this.#o.warmup) c.phase = 'armed';
    else if (c.repliesSent === c.ends.length) c.phase = 'replied';
  }

  #onFin(c: Conn): void {
    if (c.phase !== 'replied') this.#fail(c, `client closed in phase ${c.phase}`);
    c.rec.counters.end = this.#readCounters();
    c.rcvNxt = seqAdd(c.rcvNxt, 1);
    this.#send([this.#tcpFrame(c, { seq: c.sndNxt, flags: FIN | ACK })]);
    c.sndNxt = seqAdd(c.sndNxt, 1);
    c.phase = 'closing';
  }

  // ------------------------------------------------------------ the kick

  #kick(c: Conn): void {
    if (c.phase !== 'outage') return;
    c.rec.counters.kick = this.#readCounters();
    const frames = this.#kickFrames(c);
    this.#send(frames);
    c.tKick = performance.now();
    c.rec.outageActualMs = c.tKick - c.tDrop;
    c.phase = 'await';
    c.timers.push(setTimeout(() => {
      if (c.phase !== 'await') return;
      this.#fail(c, `no resend within ${this.#o.resendCapMs} ms of the kick`);
      c.phase = 'recover';
    }, this.#o.resendCapMs));
  }

  #kickFrames(c: Conn): Buffer[] {
    const ack = (o: { window?: number; ecr?: number; tsAdvance?: boolean } = {}) => this.#tcpFrame(c, { seq: c.sndNxt, flags: ACK, ...o });
    switch (c.plan.variant) {
      case 'none':
        return [];
      case 'ack':
        return [ack()];
      case 'dupack3': {
        const a = ack();
        return [a, a, a];
      }
      case 'dupack3-tsecr':
        return [1, 2, 3].map(() => ack({ ecr: c.tsLatest, tsAdvance: true }));
      case 'window-update':
        return [1, 2, 3].map((k) => ack({ window: WINDOW + k }));
      case 'zero-window':
        return [ack({ window: 0 }), ack()];
      case 'old-data': {
        const r = c.lastReply!;
        return [this.#tcpFrame(c, { seq: r.seq, flags: ACK | PSH, payload: r.payload })];
      }
      case 'probe':
        return [this.#tcpFrame(c, { seq: seqAdd(c.sndNxt, -1), flags: ACK })];
      case 'icmp-unreach':
        return Array.from({ length: ICMP_UNREACH_COUNT }, () => this.#icmpFrame(c, ICMP_CODE_HOST_UNREACH, c.rcvNxt));
      case 'icmp-frag':
        return [this.#icmpFrame(c, ICMP_CODE_FRAG_NEEDED, c.rcvNxt, this.#o.mtu - 8)];
      case 'icmp-frag+unreach':
        return [
          this.#icmpFrame(c, ICMP_CODE_FRAG_NEEDED, c.rcvNxt, this.#o.mtu - 8),
          ...Array.from({ length: ICMP_UNREACH_COUNT }, () => this.#icmpFrame(c, ICMP_CODE_HOST_UNREACH, c.rcvNxt)),
        ];
    }
  }

  // ------------------------------------------------------------ the end of a connection

  #fail(c: Conn, why: string): void {
    if (c.rec.error === null) c.rec.error = why;
    c.rec.ok = false;
  }

  #reset(c: Conn, why: string): void {
    if (c.phase === 'done') return;
    this.#fail(c, why);
    this.#send([this.#tcpFrame(c, { seq: c.sndNxt, flags: RST | ACK })]);
    this.#finish(c);
  }

  #finish(c: Conn): void {
    if (c.phase === 'done') return;
    c.phase = 'done';
    for (const t of c.timers) clearTimeout(t);
    c.rec.counters.end ??= this.#readCounters();
    this.#records.push(c.rec);
    this.#o.onRecord?.(c.rec);
    if (this.#records.length === this.#o.plans.length) this.#resolve([...this.#records].sort((a, b) => a.plan.index - b.plan.index));
  }

  /** Stops every timer (the client gave up or the scenario ends early). */
  close(): void {
    for (const c of this.#conns.values()) for (const t of c.timers) clearTimeout(t);
  }
}
