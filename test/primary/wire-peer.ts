// A minimal TCP client speaking real frames over a Link (shared/memory-link.ts), so the
// whole primary path — IntactSocket, engine, VipHost, frames — runs end to end without
// root. It is deliberately simple: the memory link neither loses nor reorders, so there
// are no retransmissions, no options beyond MSS, and our receive window is always
// open (we consume at once). Each connection is a Duplex usable as Node's http client
// socket (createConnection).
import { Duplex } from 'node:stream';
import type { Link, RxFrame } from '../../shared/link.js';
import { ACK, FIN, RST, SYN, PSH, type TcpSegment } from '../../shared/tcp/segment.js';
import { ipv4ToU32 } from '../../shared/wire/addr.js';
import { ARP_REQUEST, arpReplyFrame, parseArp } from '../../shared/wire/arp.js';
import { fillTcpChecksum, IPPROTO_TCP } from '../../shared/wire/checksum.js';
import { emitEthernet, ETH_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, parseEthernet } from '../../shared/wire/ethernet.js';
import { emitIpv4, IPV4_HEADER_LEN, parseIpv4 } from '../../shared/wire/ipv4.js';
import { emitTcp, parseTcp, tcpHeaderLen } from '../../shared/wire/tcp.js';
import { ParseError } from '../../shared/wire/result.js';

const MSS = 1460;
const WINDOW = 65535;

export class WirePeer {
  readonly ip: number;
  readonly vip: number;
  private readonly conns = new Map<number, PeerConn>();
  private nextPort = 40000;
  private ipId = 1;
  /** Segments we received, for tests that look at the wire. */
  segmentsIn = 0;
  resetsIn = 0;

  constructor(
    readonly link: Link,
    opts: { ip: string; vip: string; vipMac: Buffer },
    private readonly vipMac = opts.vipMac,
  ) {
    this.ip = ipv4ToU32(opts.ip);
    this.vip = ipv4ToU32(opts.vip);
    link.onFrames((frames) => this.onFrames(frames));
  }

  connect(port: number): PeerConn {
    const c = new PeerConn(this, this.nextPort++, port);
    this.conns.set(c.localPort, c);
    c.start();
    return c;
  }

  send(seg: TcpSegment): void {
    const hl = tcpHeaderLen(seg);
    const hdr = Buffer.alloc(ETH_HEADER_LEN + IPV4_HEADER_LEN + hl);
    emitEthernet(hdr, 0, this.vipMac, this.link.mac, ETHERTYPE_IPV4);
    emitIpv4(hdr, ETH_HEADER_LEN, {
      id: this.ipId++,
      proto: IPPROTO_TCP,
      src: this.ip,
      dst: this.vip,
      totalLength: IPV4_HEADER_LEN + hl + seg.payload.length,
    });
    emitTcp(seg, hdr, ETH_HEADER_LEN + IPV4_HEADER_LEN);
    fillTcpChecksum(hdr, ETH_HEADER_LEN, seg.payload);
    this.link.send([{ data: seg.payload.length ? [hdr, seg.payload] : hdr }]);
  }

  private onFrames(frames: readonly RxFrame[]): void {
    for (const f of frames) {
      const eth = parseEthernet(f.data);
      if (eth instanceof ParseError) continue;
      if (eth.ethertype === ETHERTYPE_ARP) {
        const p = parseArp(eth.payload);
        if (!(p instanceof ParseError) && p.op === ARP_REQUEST && p.tpa === this.ip) {
          this.link.send([{ data: arpReplyFrame(this.link.mac, this.ip, p) }]);
        }
        continue;
      }
      const ip = parseIpv4(eth.payload);
      if (ip instanceof ParseError || ip.dst !== this.ip || ip.proto !== IPPROTO_TCP) continue;
      const seg = parseTcp(ip.payload);
      if (seg instanceof ParseError) continue;
      this.segmentsIn++;
      if (seg.flags & RST) this.resetsIn++;
      this.conns.get(seg.dstPort)?.input({ ...seg, payload: Buffer.from(seg.payload) });
    }
  }

  forget(port: number): void {
    this.conns.delete(port);
  }
}

export class PeerConn extends Duplex {
  state: 'SYN-SENT' | 'ESTABLISHED' | 'CLOSED' = 'SYN-SENT';
  private iss = 0x7fff_fff0; // near the 2^31 midpoint, and wrapping soon enough
  private sndUna = this.iss;
  private sndNxt = this.iss;
  private sndWnd = 0;
  private rcvNxt = 0;
  private readonly out: Buffer[] = [];
  private outBytes = 0;
  private finWanted = false;
  private finSent = false;
  private finalCb: ((err?: Error | null) => void) | undefined;
  private peerMss = 536;
  private readonly connectWaiters: (() => void)[] = [];

  constructor(
    private readonly peer: WirePeer,
    readonly localPort: number,
    readonly remotePort: number,
  ) {
    super({ allowHalfOpen: true });
  }

  start(): void {
    this.emitSeg(SYN, this.sndNxt, Buffer.alloc(0), { mss: MSS });
    this.sndNxt = (this.sndNxt + 1) >>> 0;
  }

  connected(): Promise<void> {
    if (this.state === 'ESTABLISHED') return Promise.resolve();
    return new Promise((r) => this.connectWaiters.push(r));
  }

  // net.Socket methods http's client calls.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.out.push(chunk);
    this.outBytes += chunk.length;
    this.flush();
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finWanted = true;
    this.finalCb = cb;
    this.flush();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    if (this.state === 'ESTABLISHED' && err) this.emitSeg(RST | ACK, this.sndNxt, Buffer.alloc(0));
    this.state = 'CLOSED';
    this.peer.forget(this.localPort);
    cb(err);
  }

  input(seg: TcpSegment): void {
    if (seg.flags & RST) {
      this.state = 'CLOSED';
      this.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      return;
    }
    if (this.state === 'SYN-SENT') {
      if ((seg.flags & (SYN | ACK)) !== (SYN | ACK) || seg.ack !== this.sndNxt) return;
      this.rcvNxt = (seg.seq + 1) >>> 0;
      this.sndUna = seg.ack;
      this.sndWnd = seg.window;
      this.peerMss = seg.options.mss ?? 536;
      this.state = 'ESTABLISHED';
      this.ack();
      for (const w of this.connectWaiters.splice(0)) w();
      this.flush();
      return;
    }
    if (this.state !== 'ESTABLISHED') return;
    if (seg.flags & ACK) {
      if (((seg.ack - this.sndUna) | 0) > 0 && ((seg.ack - this.sndNxt) | 0) <= 0) this.sndUna = seg.ack;
      this.sndWnd = seg.window;
    }
    let advanced = false;
    if (seg.payload.length > 0 || seg.flags & FIN) {
      if (seg.seq === this.rcvNxt) {
        if (seg.payload.length > 0) {
          this.rcvNxt = (this.rcvNxt + seg.payload.length) >>> 0;
          this.push(seg.payload);
        }
        if (seg.flags & FIN) {
          this.rcvNxt = (this.rcvNxt + 1) >>> 0;
          this.push(null);
        }
        advanced = true;
      }
      // Anything else is a duplicate or out of order: the ACK below says where we are.
      this.ack();
    }
    void advanced;
    this.flush();
    if (this.finSent && this.sndUna === this.sndNxt && this.finalCb) {
      const cb = this.finalCb;
      this.finalCb = undefined;
      cb();
    }
  }

  private flush(): void {
    if (this.state !== 'ESTABLISHED') return;
    const mss = Math.min(MSS, this.peerMss);
    while (this.outBytes > 0) {
      const inFlight = (this.sndNxt - this.sndUna) >>> 0;
      const room = this.sndWnd - inFlight;
      if (room <= 0) return;
      const n = Math.min(mss, room, this.outBytes);
      const payload = this.takeOut(n);
      this.emitSeg(ACK | PSH, this.sndNxt, payload);
      this.sndNxt = (this.sndNxt + n) >>> 0;
    }
    if (this.finWanted && !this.finSent) {
      this.finSent = true;
      this.emitSeg(FIN | ACK, this.sndNxt, Buffer.alloc(0));
      this.sndNxt = (this.sndNxt + 1) >>> 0;
    }
  }

  private takeOut(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const b = this.out[0]!;
      if (b.length <= need) {
        parts.push(b);
        this.out.shift();
        need -= b.length;
      } else {
        parts.push(b.subarray(0, need));
        this.out[0] = b.subarray(need);
        need = 0;
      }
    }
    this.outBytes -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private ack(): void {
    this.emitSeg(ACK, this.sndNxt, Buffer.alloc(0));
  }

  private emitSeg(flags: number, seq: number, payload: Buffer, options: { mss?: number } = {}): void {
    this.peer.send({
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq,
      ack: flags & SYN && !(flags & ACK) ? 0 : this.rcvNxt,
      flags,
      window: WINDOW,
      options,
      payload,
    });
  }
}
