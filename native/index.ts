// The native packet addon: everything it exposes, declared once, and the public entry
// points (openLink, interfaceInfo, checksum). C++ sources live in native/src/; the
// addon only moves frames and sums bytes: every protocol decision is made in TypeScript.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { IntactError } from '../shared/errors.js';
import { native } from './errors.js';
import { NativeLink, type OpenLinkOptions } from './link.js';

export { IntactSyscallError } from './errors.js';
export { NativeLink, type OpenLinkOptions, type NativeLinkStats } from './link.js';
export * as bpf from './bpf.js';

/** One classic BPF instruction (struct sock_filter). */
export interface BpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

export interface InterfaceInfo {
  readonly name: string;
  readonly ifindex: number;
  /** 6 bytes. */
  readonly mac: Buffer;
  /** IP MTU, without the Ethernet header. */
  readonly mtu: number;
  /** ARPHRD_* hardware type: 1 is Ethernet, 772 loopback. */
  readonly hwType: number;
}

/** Counters kept by one PacketSocket. Numbers, not bigints: 2^53 frames is far away. */
export interface NativeSocketStats {
  rxFrames: number;
  rxBytes: number;
  /** Frames the kernel dropped because the ring was full (PACKET_STATISTICS). */
  rxDropped: number;
  /** Frames larger than a ring slot, dropped rather than delivered cut short. */
  rxTruncated: number;
  txFrames: number;
  txBytes: number;
  /** Frames the kernel refused (ENOBUFS, EMSGSIZE, EINVAL, ENETDOWN...), dropped. */
  txErrors: number;
  /** Receive wake-ups; rxFrames / wakeups is the mean batch. */
  wakeups: number;
  /** Socket errors seen while polling (ENETDOWN when the interface went down). */
  rxErrors: number;
}

export interface PacketSocketOptions {
  /** Classic BPF program run by the kernel on every frame (see native/bpf.ts). */
  readonly filter?: readonly BpfInstruction[];
  /** Receive ring slots (~64 KB each); rounded up to whole 2 MiB blocks of 31. */
  readonly ringFrames?: number;
  /** Put a virtio-net header before every sent frame (GSO, checksum offload). Default true. */
  readonly vnetHdr?: boolean;
  /** Network namespace to open the sockets in: a name under /run/netns or a path. */
  readonly netns?: string;
}

/** Two AF_PACKET sockets bound to one interface: a receive ring and a sender. */
export interface PacketSocket {
  /** The receive ring, mapped from the kernel. Frames are views into it. */
  readonly ring: ArrayBuffer;
  /** Per delivered frame: [offset in ring, length, tp_status], `maxBatch` entries. */
  readonly desc: Uint32Array;
  /** True when the send socket took PACKET_VNET_HDR: GSO and checksum offload work. */
  readonly vnetHdr: boolean;
  readonly frameSize: number;
  readonly ringFrames: number;
  /** Frames delivered per wake-up at most, so the event loop is never starved. */
  readonly maxBatch: number;
  /** Starts polling; `onBatch(count)` runs once per wake-up with `desc` filled. The
   *  slots are handed back to the kernel when it returns. Calling again replaces it. */
  start(onBatch: (count: number) => void): void;
  /**
   * Sends frames with one sendmmsg per 1024. `counts[i]` pieces of `pieces` make frame
   * i; `vnet` holds 6 numbers per frame (flags, gso_type, hdr_len, gso_size, csum_start,
   * csum_offset) or is omitted for plain frames. Returns how many frames were consumed
   * (sent, or refused and counted in txErrors); fewer than asked when the socket
   * buffer is full (EAGAIN).
   */
  send(pieces: readonly Uint8Array[], counts: Uint32Array, vnet?: Uint16Array): number;
  stats(): NativeSocketStats;
  /** Hands every frame waiting in the ring back to the kernel unread (at most one
   *  ring's worth); returns how many. Not from inside onBatch. */
  discard(): number;
  /** Stops polling and closes both sockets. Idempotent. */
  close(): void;
}

export interface NativeBinding {
  PacketSocket: new (ifindex: number, options?: PacketSocketOptions) => PacketSocket;
  /** ioctl SIOCGIFINDEX / SIOCGIFHWADDR / SIOCGIFMTU, in `netns` if given. */
  interfaceInfo(name: string, netns?: string): InterfaceInfo;
  /** The Internet checksum (RFC 1071) to store in a header: ~(sum of buf + initial). */
  checksum(buf: Uint8Array, initial?: number): number;
  /** Folded one's-complement sum of buf plus initial, not complemented, for chaining
   *  over even-length pieces. */
  onesSum(buf: Uint8Array, initial?: number): number;
  /** Fills the IPv4 header checksum and the TCP/UDP checksum of an Ethernet frame in
   *  place. False (untouched) when the frame is not IPv4. */
  fillChecksums(frame: Uint8Array): boolean;
  /** SCHED_RR at `priority` (1..99) for the calling thread; false when not permitted. */
  setRealtime(priority: number): boolean;
  setNormal(): void;
  /** sched_yield() for the calling thread. */
  yield(): void;
}

/** The repository root, from src (native/) or built (dist/native/) code alike. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'binding.gyp'))) {
    const up = dirname(dir);
    if (up === dir) throw new IntactError('ERR_INTACT_NATIVE_NOT_BUILT', 'cannot find binding.gyp above ' + import.meta.url);
    dir = up;
  }
  return dir;
}

let loaded: NativeBinding | undefined;

/** The addon, loaded on first use so code that never touches the wire needs no build. */
export function binding(): NativeBinding {
  if (loaded) return loaded;
  try {
    loaded = createRequire(import.meta.url)('node-gyp-build')(packageRoot()) as NativeBinding;
  } catch (e) {
    if (e instanceof IntactError) throw e;
    throw new IntactError('ERR_INTACT_NATIVE_NOT_BUILT', 'the native addon is not built: run `npx node-gyp rebuild`', { cause: e });
  }
  return loaded;
}

/** Opens a Link on a named interface (needs CAP_NET_RAW). */
export function openLink(ifname: string, options: OpenLinkOptions = {}): NativeLink {
  return NativeLink.open(binding(), ifname, options);
}

export function interfaceInfo(name: string, netns?: string): InterfaceInfo {
  const b = binding();
  return native(() => b.interfaceInfo(name, netns));
}

/** The Internet checksum of `buf` (RFC 1071), `initial` being a partial sum to add. */
export function checksum(buf: Uint8Array, initial = 0): number {
  return binding().checksum(buf, initial);
}

export function onesSum(buf: Uint8Array, initial = 0): number {
  return binding().onesSum(buf, initial);
}

export function fillChecksums(frame: Uint8Array): boolean {
  return binding().fillChecksums(frame);
}

/** Makes the calling thread real-time (SCHED_RR) so it runs on time on a saturated
 *  machine; false when not permitted or the addon is not built (the caller carries on
 *  at normal priority). */
export function setThreadRealtime(priority = 10): boolean {
  try {
    return binding().setRealtime(priority);
  } catch {
    return false;
  }
}

/** Back to normal scheduling for the calling thread (after setThreadRealtime). */
export function setThreadNormal(): void {
  try {
    binding().setNormal();
  } catch {
    // not built: it was never raised either
  }
}

/** A function that yields the CPU to any other runnable thread on it (sched_yield), or
 *  undefined when the addon is not built (a poller then spins without yielding). */
export function cpuYield(): (() => void) | undefined {
  try {
    const b = binding();
    return typeof b.yield === 'function' ? () => b.yield() : undefined;
  } catch {
    return undefined;
  }
}
