// The VIP host: everything between a Link (raw Ethernet frames) and the TCP engine.
// Both roles run it: the primary from the start, the backup after takeover.
//
// One received batch = one pass: every frame is parsed and answered or handed to the
// stack (ARP and ICMP echo are answered here, TCP goes to stack.input), then the
// stack is polled once and everything that goes out — replies and TCP — leaves in one
// Link.send(). One real timer, armed at the earliest of stack.pollAt() and the next
// ARP retry, drives everything else (smoltcp's poll/poll_at). Bad frames are dropped
// and counted by reason; nothing here throws into the link's callback.
import type { Link, RxFrame, TxFrame } from '../shared/link.js';
import type { Datagram } from '../shared/tcp/segment.js';
import { logger } from '../shared/log.js';
import { IntactError } from '../shared/errors.js';
import { isMulticastMac, macEquals, macToString, toIpv4U32, u32ToIpv4 } from '../shared/wire/addr.js';
import { ARP_REQUEST, arpReplyFrame, arpRequestFrame, gratuitousArpFrame, parseArp } from '../shared/wire/arp.js';
import { emitEthernet, ETH_HEADER_LEN, ETH_SRC_OFFSET, ETHERTYPE_ARP, ETHERTYPE_IPV4, parseEthernet } from '../shared/wire/ethernet.js';
import { emitIcmpEchoReply, parseIcmpEchoRequest } from '../shared/wire/icmp.js';
import { emitIpv4, IPV4_HEADER_LEN, parseIpv4, type Ipv4Packet } from '../shared/wire/ipv4.js';
import { IPPROTO_ICMP, IPPROTO_TCP, verifyTcpChecksum } from '../shared/wire/checksum.js';
import { parseTcp } from '../shared/wire/tcp.js';
import { ParseError, type DropReason } from '../shared/wire/result.js';
import { buildTcpFrames, type BuiltFrame, type FrameContext } from './frames.js';
import { NeighborTable, type NeighborOptions } from './neighbors.js';

const log = logger('host');

/** What the host needs of the TCP engine (shared/tcp/stack.ts's TcpStack has it). */
export interface HostStack {
  input(d: Datagram, now: number): void;
  poll(now: number): Datagram[];
  pollAt(): number | undefined;
}

/** Injectable so tests drive time by hand (undici's fake-timer habit). */
export interface HostTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setImmediate(fn: () => void): unknown;
  clearImmediate(handle: unknown): void;
}

const realTimers: HostTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setImmediate: (fn) => setImmediate(fn),
  clearImmediate: (h) => clearImmediate(h as NodeJS.Immediate),
};

export interface HostOptions {
  link: Link;
  /** The service address we own (not configured in the kernel). */
  vip: string | number;
  stack: HostStack;
  /** Monotonic milliseconds; default performance.now(). */
  now?: () => number;
  /** Default true; false while a backup is passive (no ARP or ICMP answers). */
  answerArp?: boolean;
  timers?: HostTimers;
  /** Copy received TCP payloads out of the link's buffer before stack.input (default
   *  true: RxFrame.data may be reused by the link once the callback returns). */
  copyRx?: boolean;
  neighbors?: NeighborOptions;
}

export type HostDropReason =
  | DropReason
  /** ARP not about our VIP. */
  | 'arp-not-for-us'
  /** A request we would answer, but we are passive (answerArp false). */
  | 'passive'
  /** The neighbour's frame queue was full while its address resolved. */
  | 'arp-queue-full'
  /** The neighbour never answered our ARP requests. */
  | 'arp-timeout'
  /** Outgoing frame discarded because silence() was called. */
  | 'silenced'
  /** The link kept refusing frames (its socket buffer full) and the backlog of frames
   *  waiting to be sent again was full. */
  | 'tx-backlog-full'
  /** The stack threw on input (a bug there; logged at error). */
  | 'stack-error';

export interface HostStats {
  rxFrames: number;
  /** Frames the link accepted. */
  txFrames: number;
  /** Frames the link refused (Link.send returned fewer); each is kept and sent again
   *  on the next pass (txBacklog), so one frame refused twice counts twice. */
  txRefused: number;
  rxTcp: number;
  /** ICMP messages we originated (queueIcmp), not echo replies. */
  icmpOut: number;
  /** TCP segments as they will be on the wire (a GSO frame counts its pieces). */
  txTcp: number;
  arpReplies: number;
  arpRequests: number;
  gratuitousArps: number;
  icmpEchoes: number;
  neighborsLearned: number;
  vipConflicts: number;
  /** Times output was held because this process had not run for longer than the wake
   *  fence (fenceAfterFreeze). */
  wakeFences: number;
  drops: Partial<Record<HostDropReason, number>>;
}

const DROP_LOG_INTERVAL_MS = 1000;
/** Frames kept waiting, refused by the link or held by the wake fence. A primary with
 *  10,000 connections frozen past their retransmission timers wakes with a frame per
 *  connection; each frame dropped costs its connection a backed-off timeout, while one
 *  kept costs a reference (its payload is the send queue's own bytes). */
export const TX_BACKLOG_MAX = 65_536;

export class VipHost {
  readonly stats: HostStats = {
    rxFrames: 0,
    txFrames: 0,
    txRefused: 0,
    rxTcp: 0,
    icmpOut: 0,
    txTcp: 0,
    arpReplies: 0,
    arpRequests: 0,
    gratuitousArps: 0,
    icmpEchoes: 0,
    neighborsLearned: 0,
    vipConflicts: 0,
    wakeFences: 0,
    drops: {},
  };
  /** Answer ARP and ICMP echo for the VIP. announce() sets it. */
  answerArp: boolean;
  readonly vip: number;
  readonly neighbors: NeighborTable<BuiltFrame>;

  readonly #link: Link;
  readonly #stack: HostStack;
  readonly #now: () => number;
  readonly #timers: HostTimers;
  readonly #copyRx: boolean;
  readonly #frameCtx: FrameContext;
  readonly #conflictHandlers: ((mac: Buffer) => void)[] = [];
  readonly #neighborHandlers = new Set<(ip: number) => void>();
  /** Frames the link refused, oldest first: they go before anything new on the next
   *  pass, as a qdisc would have held them. */
  #txBacklog: TxFrame[] = [];
  /** ICMP frames that go right after the segments of the next pass (queueIcmp). */
  #afterSegments: TxFrame[] = [];
  readonly #dropLoggedAt = new Map<string, number>();
  #ipId = 0;
  #started = false;
  #closed = false;
  #silenced = false;
  #immediate: unknown;
  #timer: unknown;
  /** Deadline the pending timer is armed for; undefined when none is pending. */
  #armedAt: number | undefined;
  /** The wake fence (fenceAfterFreeze): the longest this process may go without running
   *  before its output is held, the last time it ran, and whether output is held now. */
  #fenceMs: number | undefined;
  #lastRan = 0;
  #fenced = false;
  #ticker: unknown;

  constructor(o: HostOptions) {
    this.#link = o.link;
    this.#stack = o.stack;
    this.vip = toIpv4U32(o.vip);
    this.#now = o.now ?? (() => performance.now());
    this.answerArp = o.answerArp ?? true;
    this.#timers = o.timers ?? realTimers;
    this.#copyRx = o.copyRx ?? true;
    this.neighbors = new NeighborTable<BuiltFrame>(o.neighbors);
    // Start the IP ID somewhere unpredictable: a restarted host must not reuse the
    // IDs of its previous life toward the same peer (RFC 6864 only asks uniqueness
    // within the MSL among atomic datagrams; this is cheap insurance).
    this.#ipId = Math.floor(Math.random() * 0x10000);
    this.#frameCtx = {
      srcMac: o.link.mac,
      caps: o.link.caps,
      mtu: o.link.mtu,
      nextIpId: (count) => {
        const id = this.#ipId;
        this.#ipId = (this.#ipId + count) & 0xffff;
        return id;
      },
    };
  }

  get silenced(): boolean {
    return this.#silenced;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#link.onFrames((frames) => this.#onFrames(frames));
    this.#lastRan = this.#now();
    this.#armTicker();
    this.#armTimer(this.#now());
    log.info({ vip: u32ToIpv4(this.vip), link: this.#link.name, caps: this.#link.caps }, 'host started');
  }

  /** Stop timers and ignore further frames. The link belongs to the caller and stays open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelImmediate();
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    if (this.#ticker !== undefined) this.#timers.clearTimeout(this.#ticker);
    this.#timer = undefined;
    this.#ticker = undefined;
    this.#armedAt = undefined;
  }

  /** The wake fence of a primary that a backup may replace (rule 6). A process frozen
   *  for longer than the backup's dead time (SIGSTOP, a paused VM, a swap storm) may have
   *  been declared dead and taken over while it slept. When it wakes, the backup's
   *  "takeover" (replication link) and gratuitous ARP (service LAN) wait in its receive
   *  queues, but the event loop runs its expired timers first: a retransmission timer
   *  would put a segment on the wire behind the backup's, with an older TSval (the
   *  client counts a PAWS drop) or an older ACK. Measured: lab-pause, 1 run in ~10.
   *
   *  So when the host finds that the process has not run for more than `maxGapMs`, it
   *  holds every outgoing frame (kept in order, as for a refused send) until two check
   *  phases have passed: the first may still belong to the loop iteration the freeze
   *  interrupted, the second follows a poll phase that began after the wake, in which
   *  the replication link (read whole) and the ring's first batch were taken in. If the
   *  backup took over, one of them silenced us by then and the held frames are dropped;
   *  otherwise they leave a loop iteration late. A main thread that was merely busy
   *  (heartbeats come from their own thread, so the backup saw no silence) pays the
   *  same iteration. A timer every maxGapMs/2 measures the gap even when idle. */
  fenceAfterFreeze(maxGapMs: number): void {
    if (!(maxGapMs > 0)) throw new IntactError('ERR_INTACT_CONFIG', `wake fence must be a positive number of ms, not ${maxGapMs}`);
    this.#fenceMs = maxGapMs;
    this.#lastRan = this.#now();
    this.#armTicker();
  }

  /** Output is held by the wake fence right now. */
  get fenced(): boolean {
    return this.#fenced;
  }

  /** The stack's wake(): poll soon, at most once per tick however often it is called. */
  schedule(): void {
    if (this.#closed || this.#immediate !== undefined) return;
    this.#immediate = this.#timers.setImmediate(() => {
      this.#immediate = undefined;
      this.#pass(this.#now(), []);
    });
  }

  /** Frames waiting to be sent again after the link refused them (back-pressure). */
  get txBacklog(): number {
    return this.#txBacklog.length;
  }

  /** Is `ip`'s MAC known? If not, ask for it (an ARP request now, retried and given up
   *  like one for queued frames) and return false; onNeighbor handlers hear when it is
   *  learned. A takeover's kick waits for this instead of queueing a frame per
   *  connection behind one unresolved address. */
  resolve(ip: number): boolean {
    if (this.#closed) return false;
    const now = this.#now();
    const r = this.neighbors.resolve(ip, now);
    if (r === 'known') return true;
    if (r === 'request') {
      const out: TxFrame[] = [];
      this.#arpRequest(ip, out);
      this.#send(out, now);
      this.#armTimer(now);
    }
    return false;
  }

  /** Called with each neighbour address learned (new, or at a new MAC), after the frames
   *  that waited for it were sent. Returns the function that removes the handler. */
  onNeighbor(handler: (ip: number) => void): () => void {
    this.#neighborHandlers.add(handler);
    return () => this.#neighborHandlers.delete(handler);
  }

  /** An ICMP message from the VIP to `ip`, sent in the next pass after the TCP segments
   *  the stack has to send then (the takeover's kick: the client must see our ACK
   *  before the ICMP that makes it resend). False, and nothing sent, while `ip`'s MAC is
   *  unknown or the VIP is not ours to speak for. */
  queueIcmp(ip: number, icmp: Buffer): boolean {
    const mac = this.neighbors.lookup(ip);
    if (this.#closed || !this.answerArp || mac === undefined) return false;
    this.#afterSegments.push(this.#icmpFrame(mac, ip, icmp));
    this.stats.icmpOut++;
    this.schedule();
    return true;
  }

  /** Called with the MAC of another host that claims our VIP (rule 6). */
  onVipConflict(handler: (mac: Buffer) => void): void {
    this.#conflictHandlers.push(handler);
  }

  /** Stop all transmission at once and for good: another host speaks for the VIP. */
  silence(): void {
    if (this.#silenced) return;
    this.#silenced = true;
    this.answerArp = false;
    log.warn({ vip: u32ToIpv4(this.vip) }, 'silenced: no frame leaves this host any more');
  }

  /** Claim the VIP: gratuitous ARP requests, `count` of them `spacingMs` apart, then one
   *  more `lateMs` after the first (Linux neighbours ignore updates within locktime, 1 s
   *  by default, of the last one: the late one lands after it). Also turns on answerArp:
   *  the clients' kernels will probe the new MAC about 5 s later. */
  async announce(opts: { count?: number; spacingMs?: number; lateMs?: number } = {}): Promise<void> {
    const count = opts.count ?? 3;
    const spacing = opts.spacingMs ?? 100;
    const late = opts.lateMs ?? 1100;
    if (this.#silenced) throw new IntactError('ERR_INTACT_SILENCED', 'cannot announce the VIP after silence()');
    this.answerArp = true;
    const frame = gratuitousArpFrame(this.#link.mac, this.vip);
    let elapsed = 0;
    for (let i = 0; i < count; i++) {
      if (i > 0) {
        await this.#sleep(spacing);
        elapsed += spacing;
      }
      if (this.#closed || this.#silenced) return;
      this.#send([{ data: frame }]);
      this.stats.gratuitousArps++;
    }
    if (late > 0) {
      await this.#sleep(Math.max(0, late - elapsed));
      if (this.#closed || this.#silenced) return;
      this.#send([{ data: frame }]);
      this.stats.gratuitousArps++;
    }
    log.info({ vip: u32ToIpv4(this.vip), sent: this.stats.gratuitousArps }, 'VIP announced');
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#timers.setTimeout(resolve, ms));
  }

  #onFrames(frames: readonly RxFrame[]): void {
    if (this.#closed) return;
    const now = this.#now();
    this.#awake(now);
    this.stats.rxFrames += frames.length;
    const out: TxFrame[] = [];
    for (const f of frames) this.#receive(f, now, out);
    this.#pass(now, out);
  }

  #receive(f: RxFrame, now: number, out: TxFrame[]): void {
    const eth = parseEthernet(f.data);
    if (eth instanceof ParseError) return this.#drop(eth.reason, now, eth.detail);
    const b = f.data;
    if (!macEquals(b, 0, this.#link.mac) && !isMulticastMac(b, 0)) return this.#drop('not-our-mac', now);
    if (eth.ethertype === ETHERTYPE_ARP) return this.#receiveArp(eth.payload, now, out);
    if (eth.ethertype === ETHERTYPE_IPV4) return this.#receiveIpv4(f, eth.payload, now, out);
    this.#drop('unknown-ethertype', now, `0x${eth.ethertype.toString(16)}`);
  }

  #receiveArp(bytes: Buffer, now: number, out: TxFrame[]): void {
    const p = parseArp(bytes);
    if (p instanceof ParseError) return this.#drop(p.reason, now, p.detail);
    if (p.spa === this.vip && !p.sha.equals(this.#link.mac)) this.#conflict(p.sha);
    // Like Linux's arp_process(): create an entry only from ARP about us; otherwise
    // just keep existing entries fresh. 0.0.0.0 is an RFC 5227 probe, not an address.
    if (p.spa !== 0 && p.spa !== this.vip) {
      if (p.tpa === this.vip) this.#learn(p.spa, p.sha, 0, out);
      else this.neighbors.refresh(p.spa, p.sha);
    }
    if (p.tpa !== this.vip) return this.#drop('arp-not-for-us', now);
    if (p.op !== ARP_REQUEST || p.spa === this.vip) return; // replies to us, or an announcement
    if (!this.answerArp) return this.#drop('passive', now);
    out.push({ data: arpReplyFrame(this.#link.mac, this.vip, p) });
    this.stats.arpReplies++;
  }

  #conflict(mac: Buffer): void {
    this.stats.vipConflicts++;
    log.warn({ vip: u32ToIpv4(this.vip), mac: macToString(mac) }, 'another host claims our VIP');
    for (const h of this.#conflictHandlers) {
      try {
        h(mac);
      } catch (e) {
        log.error({ err: e }, 'VIP conflict handler threw');
      }
    }
  }

  #learn(ip: number, mac: Buffer, off: number, out: TxFrame[]): void {
    if (!this.neighbors.learn(ip, mac, off)) return;
    this.stats.neighborsLearned++;
    const learned = this.neighbors.lookup(ip)!;
    for (const bf of this.neighbors.takePending(ip)) {
      bf.header.set(learned, 0);
      out.push(bf.frame);
      this.stats.txTcp += bf.segments;
    }
    for (const h of this.#neighborHandlers) {
      try {
        h(ip);
      } catch (e) {
        log.error({ err: e }, 'neighbour handler threw');
      }
    }
  }

  #receiveIpv4(f: RxFrame, bytes: Buffer, now: number, out: TxFrame[]): void {
    const ip = parseIpv4(bytes, { gso: f.gso });
    if (ip instanceof ParseError) return this.#drop(ip.reason, now, ip.detail);
    if (ip.dst !== this.vip) return this.#drop('not-for-us', now);
    const b = f.data;
    if (!isMulticastMac(b, ETH_SRC_OFFSET) && ip.src !== 0 && ip.src !== 0xffffffff) this.#learn(ip.src, b, ETH_SRC_OFFSET, out);
    if (ip.proto === IPPROTO_TCP) return this.#receiveTcp(f, ip, now);
    if (ip.proto === IPPROTO_ICMP) return this.#receiveIcmp(f, ip, b.subarray(ETH_SRC_OFFSET, ETH_SRC_OFFSET + 6), now, out);
    this.#drop('unknown-protocol', now, `proto ${ip.proto}`);
  }

  #receiveTcp(f: RxFrame, ip: Ipv4Packet, now: number): void {
    // 'partial' means a local kernel never filled it in; 'valid' that it checked it.
    if (f.csum === 'unknown' && !verifyTcpChecksum(ip.src, ip.dst, ip.payload)) {
      return this.#drop('bad-checksum', now);
    }
    let seg = parseTcp(ip.payload);
    if (seg instanceof ParseError) return this.#drop(seg.reason, now, seg.detail);
    if (this.#copyRx && seg.payload.length > 0) seg = { ...seg, payload: Buffer.from(seg.payload) };
    this.stats.rxTcp++;
    try {
      this.#stack.input({ src: ip.src, dst: ip.dst, seg }, now);
    } catch (e) {
      log.error({ err: e }, 'stack.input threw');
      this.#drop('stack-error', now);
    }
  }

  #receiveIcmp(f: RxFrame, ip: Ipv4Packet, srcMac: Buffer, now: number, out: TxFrame[]): void {
    const req = parseIcmpEchoRequest(ip.payload, f.csum === 'unknown');
    if (req instanceof ParseError) return this.#drop(req.reason, now, req.detail);
    if (!this.answerArp) return this.#drop('passive', now);
    out.push(this.#icmpFrame(srcMac, ip.src, emitIcmpEchoReply(req)));
    this.stats.icmpEchoes++;
  }

  /** An ICMP message from the VIP to `dst` at `dstMac`: Ethernet and IPv4 headers, then
   *  the message as it is. */
  #icmpFrame(dstMac: Uint8Array, dst: number, icmp: Buffer): TxFrame {
    const hdr = Buffer.allocUnsafe(ETH_HEADER_LEN + IPV4_HEADER_LEN);
    emitEthernet(hdr, 0, dstMac, this.#link.mac, ETHERTYPE_IPV4);
    emitIpv4(hdr, ETH_HEADER_LEN, {
      id: this.#frameCtx.nextIpId(1), proto: IPPROTO_ICMP, src: this.vip, dst, totalLength: IPV4_HEADER_LEN + icmp.length,
    });
    return { data: [hdr, icmp] };
  }

  /** Poll the stack once, frame its output, add it to `out`, send, re-arm the timer. */
  #pass(now: number, out: TxFrame[]): void {
    if (this.#closed) return;
    this.#awake(now);
    // This pass polls anyway; a poll already scheduled for this tick would find nothing.
    this.#cancelImmediate();
    let datagrams: Datagram[] = [];
    try {
      datagrams = this.#stack.poll(now);
    } catch (e) {
      log.error({ err: e }, 'stack.poll threw');
    }
    for (const d of datagrams) this.#frame(d, now, out);
    if (this.#afterSegments.length > 0) {
      for (const f of this.#afterSegments) out.push(f);
      this.#afterSegments = [];
    }
    const { retry, dropped } = this.neighbors.expire(now);
    for (const ip of retry) this.#arpRequest(ip, out);
    for (let i = 0; i < dropped.length; i++) this.#drop('arp-timeout', now);
    if (out.length > 0 || this.#txBacklog.length > 0) this.#send(out, now);
    this.#armTimer(now);
  }

  #frame(d: Datagram, now: number, out: TxFrame[]): void {
    const built = buildTcpFrames(d, this.#frameCtx);
    const mac = this.neighbors.lookup(d.dst);
    for (const bf of built) {
      if (mac) {
        bf.header.set(mac, 0);
        out.push(bf.frame);
        this.stats.txTcp += bf.segments;
        continue;
      }
      const r = this.neighbors.enqueue(d.dst, bf, now);
      if (r === 'request') this.#arpRequest(d.dst, out);
      else if (r === 'full') this.#drop('arp-queue-full', now, u32ToIpv4(d.dst));
    }
  }

  #arpRequest(ip: number, out: TxFrame[]): void {
    out.push({ data: arpRequestFrame(this.#link.mac, this.vip, ip) });
    this.stats.arpRequests++;
  }

  #send(frames: TxFrame[], now = this.#now()): void {
    if (this.#silenced) {
      const n = frames.length + this.#txBacklog.length;
      this.#txBacklog = [];
      this.stats.drops.silenced = (this.stats.drops.silenced ?? 0) + n;
      return;
    }
    this.#awake(now);
    // Held, not sent: #unfence's pass sends them if nobody silenced us meanwhile.
    if (this.#fenced) return this.#keep(frames, 0, now);
    const all = this.#txBacklog.length === 0 ? frames : this.#txBacklog.concat(frames);
    this.#txBacklog = [];
    if (all.length === 0) return;
    const n = this.#link.send(all);
    this.stats.txFrames += n;
    if (n >= all.length) return;
    // Refused (the socket's send buffer is full): a frame lost here would cost its
    // connection a retransmission timeout, so it waits for the next pass, a
    // millisecond away (#armTimer), in order and bounded.
    this.stats.txRefused += all.length - n;
    this.#keep(all, n, now);
  }

  /** `frames` from index `from` on join the backlog, in order, up to TX_BACKLOG_MAX;
   *  the rest are dropped and counted. */
  #keep(frames: readonly TxFrame[], from: number, now: number): void {
    const keep = Math.min(frames.length - from, TX_BACKLOG_MAX - this.#txBacklog.length);
    for (let i = from; i < from + keep; i++) this.#txBacklog.push(frames[i]!);
    for (let i = from + keep; i < frames.length; i++) this.#drop('tx-backlog-full', now);
  }

  #armTimer(now: number): void {
    if (this.#closed) return;
    const a = this.#stack.pollAt();
    // While fenced, the backlog waits for #unfence, not for a timer.
    const b = this.#txBacklog.length > 0 && !this.#fenced ? now : this.neighbors.nextDeadline();
    const at = a === undefined ? b : b === undefined ? a : Math.min(a, b);
    if (at === this.#armedAt) return;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = at;
    if (at === undefined) return;
    // Round up: a timer that fires before the deadline would find nothing to do. At
    // least 1 ms (what Node does anyway): a stack whose pollAt() stays in the past
    // must cost one pass per millisecond, not a busy loop.
    const delay = Math.max(1, Math.ceil(at - now));
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#armedAt = undefined;
      this.#pass(this.#now(), []);
    }, delay);
  }

  /** Every way into the host from the event loop passes here: a gap since the last one
   *  longer than the fence means the process was frozen (fenceAfterFreeze). */
  #awake(now: number): void {
    const max = this.#fenceMs;
    if (max === undefined) return;
    const gap = now - this.#lastRan;
    if (now > this.#lastRan) this.#lastRan = now;
    if (gap <= max || this.#fenced || this.#silenced || this.#closed) return;
    this.#fenced = true;
    this.stats.wakeFences++;
    // A busy event loop (GC, a long app callback) may fence now and then: one line a
    // second at most, with the count.
    const logged = this.#dropLoggedAt.get('wake-fence');
    if (logged === undefined || now - logged >= DROP_LOG_INTERVAL_MS) {
      this.#dropLoggedAt.set('wake-fence', now);
      log.warn({ gapMs: Math.round(gap), fenceMs: max, fences: this.stats.wakeFences }, 'this process did not run for longer than the wake fence: output held until the backup and the LAN have been heard from');
    }
    this.#timers.setImmediate(() => this.#timers.setImmediate(() => this.#unfence()));
  }

  #unfence(): void {
    this.#fenced = false;
    if (this.#closed) return;
    this.#pass(this.#now(), []);
  }

  #armTicker(): void {
    if (this.#fenceMs === undefined || !this.#started || this.#closed) return;
    if (this.#ticker !== undefined) this.#timers.clearTimeout(this.#ticker);
    this.#ticker = this.#timers.setTimeout(() => {
      this.#ticker = undefined;
      this.#awake(this.#now());
      this.#armTicker();
    }, this.#fenceMs / 2);
  }

  #cancelImmediate(): void {
    if (this.#immediate === undefined) return;
    this.#timers.clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  #drop(reason: HostDropReason, now: number, detail?: string): void {
    const n = (this.stats.drops[reason] ?? 0) + 1;
    this.stats.drops[reason] = n;
    const last = this.#dropLoggedAt.get(reason);
    if (last === undefined || now - last >= DROP_LOG_INTERVAL_MS) {
      this.#dropLoggedAt.set(reason, now);
      log.debug({ reason, count: n, detail }, 'frame dropped');
    }
  }
}

