// shared/link.ts over the addon's PacketSocket: turns ring descriptors into RxFrames,
// flattens TxFrames into pieces plus virtio-net headers for one sendmmsg.
import { IntactError } from '../shared/errors.js';
import type { Link, LinkCapabilities, LinkStats, RxFrame, TxFrame, ChecksumStatus } from '../shared/link.js';
import { logger } from '../shared/log.js';
import { native } from './errors.js';
import type { BpfInstruction, InterfaceInfo, NativeBinding, NativeSocketStats, PacketSocket } from './index.js';

const log = logger('native');

// tp_status bits (linux/if_packet.h).
const TP_STATUS_CSUMNOTREADY = 0x8;
const TP_STATUS_CSUM_VALID = 0x80;
const TP_STATUS_GSO_TCP = 0x100;

// virtio_net_hdr (linux/virtio_net.h).
const VNET_F_NEEDS_CSUM = 1;
const VNET_GSO_TCPV4 = 1;
const VNET_GSO_ECN = 0x80;
const VNET_FIELDS = 6;

const ETH_HLEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const TCP_CWR = 0x80;

export interface OpenLinkOptions {
  /** Classic BPF program; the kernel drops what it rejects (native/bpf.ts builds them). */
  readonly filter?: readonly BpfInstruction[];
  /** Receive ring slots, ~64 KB each (default 256, rounded up to a multiple of 31). */
  readonly ringFrames?: number;
  /** Offer GSO and checksum offload on send (virtio-net header). Default true. */
  readonly gso?: boolean;
  /** Open the link inside this network namespace (name under /run/netns, or a path).
   *  The sockets stay there; the process does not. Needs CAP_SYS_ADMIN. */
  readonly netns?: string;
}

export interface NativeLinkStats extends LinkStats {
  /** Frames too big for a ring slot, dropped. */
  rxTruncated: number;
  /** Receive wake-ups; rxFrames / wakeups is the mean batch size. */
  wakeups: number;
  /** Socket errors while polling (ENETDOWN when the interface went down). */
  rxErrors: number;
}

function csumStatus(st: number): ChecksumStatus {
  if (st & TP_STATUS_CSUMNOTREADY) return 'partial';
  if (st & TP_STATUS_CSUM_VALID) return 'valid';
  return 'unknown';
}

function closedError(name: string): IntactError {
  return new IntactError('ERR_INTACT_LINK_CLOSED', `link ${name} is closed`);
}

function badFrame(why: string): IntactError {
  return new IntactError('ERR_INTACT_BAD_FRAME', `cannot offload this frame: ${why}`);
}

/** The frame's first bytes as one buffer, long enough for Ethernet+IPv4+TCP headers. */
function headBytes(data: Buffer | readonly Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  const first = data[0];
  if (first === undefined) throw badFrame('empty frame');
  if (first.length >= ETH_HLEN + 60 + 60 || data.length === 1) return first;
  return Buffer.concat(data as Buffer[]);
}

/** Writes the virtio-net header for one offloaded frame: the kernel finishes the
 *  checksum from csum_start and, with gsoSize, cuts the frame into MSS-sized segments. */
function fillVnet(vnet: Uint16Array, at: number, f: TxFrame): void {
  const b = headBytes(f.data);
  if (b.length < ETH_HLEN + 20 || b.readUInt16BE(12) !== ETHERTYPE_IPV4 || b[ETH_HLEN]! >> 4 !== 4) {
    throw badFrame('not an untagged IPv4 frame');
  }
  const ihl = (b[ETH_HLEN]! & 0x0f) * 4;
  const proto = b[ETH_HLEN + 9];
  const csumStart = ETH_HLEN + ihl;
  let csumOffset: number;
  let hdrLen: number;
  let gsoType = 0;
  if (proto === IPPROTO_TCP) {
    if (b.length < csumStart + 20) throw badFrame('TCP header cut short');
    csumOffset = 16;
    hdrLen = csumStart + (b[csumStart + 12]! >> 4) * 4;
    if (f.gsoSize !== undefined) {
      if (!(f.gsoSize > 0 && f.gsoSize <= 0xffff)) throw badFrame(`gsoSize ${f.gsoSize}`);
      gsoType = VNET_GSO_TCPV4 | (b[csumStart + 13]! & TCP_CWR ? VNET_GSO_ECN : 0);
    }
  } else if (proto === IPPROTO_UDP && f.gsoSize === undefined) {
    csumOffset = 6;
    hdrLen = csumStart + 8;
  } else {
    throw badFrame(`IP protocol ${proto} with ${f.gsoSize !== undefined ? 'gsoSize' : 'csumOffload'}`);
  }
  const o = at * VNET_FIELDS;
  vnet[o] = VNET_F_NEEDS_CSUM;
  vnet[o + 1] = gsoType;
  vnet[o + 2] = hdrLen;
  vnet[o + 3] = f.gsoSize ?? 0;
  vnet[o + 4] = csumStart;
  vnet[o + 5] = csumOffset;
}

/**
 * A Link over AF_PACKET. Receive frames are views into the kernel's ring, valid only
 * during the onFrames callback. On send, a GSO frame passes the kernel whole only while
 * it is shorter than the device's gso_max_size (65,536 bytes from the Ethernet header
 * on: 44 x 1448-byte segments fit); a longer one is segmented in software on the spot,
 * still correct but at a tenth of the speed (measured by native/bench.ts).
 */
export class NativeLink implements Link {
  readonly name: string;
  readonly ifindex: number;
  readonly mac: Buffer;
  readonly mtu: number;
  readonly caps: LinkCapabilities;
  /** Receive ring slots actually allocated. */
  readonly ringFrames: number;

  #sock: PacketSocket | null;
  readonly #ring: Buffer;
  readonly #desc: Uint32Array;
  #handler: ((frames: readonly RxFrame[]) => void) | undefined;
  #counts = new Uint32Array(64);
  #vnet = new Uint16Array(64 * VNET_FIELDS);
  #last: NativeSocketStats | undefined;

  /** Opens the sockets; errors are IntactErrors (ERR_INTACT_NO_SUCH_INTERFACE, ...). */
  static open(b: NativeBinding, ifname: string, options: OpenLinkOptions = {}): NativeLink {
    const info = native(() => b.interfaceInfo(ifname, options.netns));
    const sock = native(
      () =>
        new b.PacketSocket(info.ifindex, {
          filter: options.filter,
          ringFrames: options.ringFrames,
          vnetHdr: options.gso ?? true,
          netns: options.netns,
        }),
    );
    return new NativeLink(info, sock);
  }

  constructor(info: InterfaceInfo, sock: PacketSocket) {
    this.name = info.name;
    this.ifindex = info.ifindex;
    this.mac = info.mac;
    this.mtu = info.mtu;
    this.caps = { gso: sock.vnetHdr, csumOffload: sock.vnetHdr };
    this.ringFrames = sock.ringFrames;
    this.#sock = sock;
    this.#ring = Buffer.from(sock.ring);
    this.#desc = sock.desc;
    log.debug({ ifname: this.name, ifindex: this.ifindex, ringFrames: sock.ringFrames, vnet: sock.vnetHdr }, 'link open');
  }

  onFrames(handler: (frames: readonly RxFrame[]) => void): void {
    const sock = this.#sock;
    if (!sock) throw closedError(this.name);
    const first = this.#handler === undefined;
    this.#handler = handler;
    if (first) native(() => sock.start(this.#onBatch));
  }

  // Arrow function: handed to the addon once, called once per wake-up.
  readonly #onBatch = (count: number): void => {
    const handler = this.#handler;
    if (!handler) return;
    const d = this.#desc;
    const ring = this.#ring;
    const frames = new Array<RxFrame>(count);
    for (let i = 0, j = 0; i < count; i++, j += 3) {
      const off = d[j]!;
      const st = d[j + 2]!;
      frames[i] = { data: ring.subarray(off, off + d[j + 1]!), csum: csumStatus(st), gso: (st & TP_STATUS_GSO_TCP) !== 0 };
    }
    try {
      handler(frames);
    } catch (err) {
      // The addon must get control back to return the slots; rethrow outside it.
      process.nextTick(() => {
        throw err;
      });
    }
  };

  send(frames: readonly TxFrame[]): number {
    const sock = this.#sock;
    if (!sock) throw closedError(this.name);
    const n = frames.length;
    if (n === 0) return 0;
    if (this.#counts.length < n) {
      this.#counts = new Uint32Array(n);
      this.#vnet = new Uint16Array(n * VNET_FIELDS);
    }
    const counts = this.#counts.subarray(0, n);
    let vnet: Uint16Array | undefined;
    const pieces: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const f = frames[i]!;
      const d = f.data;
      if (Buffer.isBuffer(d)) {
        pieces.push(d);
        counts[i] = 1;
      } else {
        for (const p of d as readonly Buffer[]) pieces.push(p);
        counts[i] = d.length;
      }
      if (f.gsoSize !== undefined || f.csumOffload) {
        if (!this.caps.gso) throw badFrame(`link ${this.name} has no offloads (caps false)`);
        if (!vnet) {
          vnet = this.#vnet.subarray(0, n * VNET_FIELDS);
          vnet.fill(0);
        }
        fillVnet(vnet, i, f);
      }
    }
    return native(() => sock.send(pieces, counts, vnet));
  }

  discardPending(): number {
    const sock = this.#sock;
    if (!sock) throw closedError(this.name);
    return native(() => sock.discard());
  }

  stats(): NativeLinkStats {
    const s = this.#sock ? this.#sock.stats() : this.#last;
    if (!s) throw closedError(this.name);
    return { ...s };
  }

  close(): void {
    const sock = this.#sock;
    if (!sock) return;
    this.#last = sock.stats();
    sock.close();
    this.#sock = null;
    this.#handler = undefined;
    log.debug({ ifname: this.name, stats: this.#last }, 'link closed');
  }
}
