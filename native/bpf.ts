// Classic BPF programs for the receive socket, so the kernel drops what is not ours
// before it costs a ring slot or a wake-up. A tiny assembler with labels keeps the
// jump offsets right; arpOrIpv4To() is the filter the primary runs.
import { IntactError } from '../shared/errors.js';
import type { BpfInstruction } from './index.js';

// Opcode pieces (linux/filter.h).
const LD = 0x00, LDX = 0x01, JMP = 0x05, RET = 0x06;
const W = 0x00, H = 0x08, B = 0x10;
const ABS = 0x20, IND = 0x40, MSH = 0xa0;
const JEQ = 0x10, JSET = 0x40;
const K = 0x00;

/** Snap length on accept: whole GSO super-segments, never cut. */
const ACCEPT_ALL = 0x40000;

type Target = string | number; // a label, or 0 for "next instruction"

interface Pending {
  code: number;
  k: number;
  jt: Target;
  jf: Target;
  label?: string;
}

/** Builds a program; jumps name labels placed later in the program. */
export class BpfAssembler {
  readonly #ins: Pending[] = [];
  #label: string | undefined;

  label(name: string): this {
    this.#label = name;
    return this;
  }
  #push(code: number, k: number, jt: Target = 0, jf: Target = 0): this {
    const p: Pending = { code, k: k >>> 0, jt, jf };
    if (this.#label !== undefined) p.label = this.#label;
    this.#label = undefined;
    this.#ins.push(p);
    return this;
  }
  /** A = 32-bit word at offset. */
  ldw(off: number): this { return this.#push(LD | W | ABS, off); }
  /** A = 16-bit half word at offset. */
  ldh(off: number): this { return this.#push(LD | H | ABS, off); }
  ldb(off: number): this { return this.#push(LD | B | ABS, off); }
  /** A = 16-bit half word at X + offset. */
  ldhInd(off: number): this { return this.#push(LD | H | IND, off); }
  /** X = 4 * (byte at offset & 0xf): the IPv4 header length. */
  ldxIpHeaderLen(off: number): this { return this.#push(LDX | B | MSH, off); }
  jeq(k: number, jt: Target, jf: Target): this { return this.#push(JMP | JEQ | K, k, jt, jf); }
  jset(k: number, jt: Target, jf: Target): this { return this.#push(JMP | JSET | K, k, jt, jf); }
  ret(k: number): this { return this.#push(RET | K, k); }

  build(): BpfInstruction[] {
    const at = new Map<string, number>();
    this.#ins.forEach((p, i) => p.label !== undefined && at.set(p.label, i));
    return this.#ins.map((p, i) => {
      const rel = (t: Target): number => {
        if (typeof t === 'number') return t;
        const to = at.get(t);
        if (to === undefined || to <= i) throw new IntactError('ERR_INTACT_BPF', `bad jump target ${t}`);
        const off = to - i - 1;
        if (off > 255) throw new IntactError('ERR_INTACT_BPF', `jump to ${t} too far`);
        return off;
      };
      return { code: p.code, jt: rel(p.jt), jf: rel(p.jf), k: p.k };
    });
  }
}

/** Dotted quad to an unsigned 32-bit number. */
export function ipv4ToNumber(addr: string | number): number {
  if (typeof addr === 'number') return addr >>> 0;
  const parts = addr.split('.');
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  if (bytes.length !== 4 || bytes.some((b) => !(b >= 0 && b <= 255))) {
    throw new IntactError('ERR_INTACT_BAD_ADDRESS', `not an IPv4 address: '${addr}'`);
  }
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

export interface Ipv4FilterOptions {
  /** Only TCP or UDP (as `proto` says) to this destination port; ARP still passes. */
  readonly port?: number;
  /** With `port`: which transport; default both. */
  readonly proto?: 'tcp' | 'udp';
}

/**
 * "ARP, or IPv4 whose destination is `addr`" (optionally: and TCP/UDP to `port`).
 * Assumes untagged Ethernet, as AF_PACKET sees frames after VLAN offload.
 */
export function arpOrIpv4To(addr: string | number, options: Ipv4FilterOptions = {}): BpfInstruction[] {
  const ip = ipv4ToNumber(addr);
  const a = new BpfAssembler()
    .ldh(12)
    .jeq(0x0806, 'accept', 0)
    .jeq(0x0800, 0, 'drop')
    .ldw(30);
  if (options.port === undefined) {
    a.jeq(ip, 'accept', 'drop');
  } else {
    const port = options.port;
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
      throw new IntactError('ERR_INTACT_BPF', `bad port ${port}`);
    }
    a.jeq(ip, 0, 'drop').ldb(23);
    if (options.proto === 'tcp') a.jeq(6, 'ports', 'drop');
    else if (options.proto === 'udp') a.jeq(17, 'ports', 'drop');
    else a.jeq(6, 'ports', 0).jeq(17, 'ports', 'drop');
    a.label('ports')
      .ldh(20)
      // Only the first fragment carries the ports.
      .jset(0x1fff, 'drop', 0)
      .ldxIpHeaderLen(14)
      .ldhInd(14 + 2)
      .jeq(port, 'accept', 'drop');
  }
  return a.label('accept').ret(ACCEPT_ALL).label('drop').ret(0).build();
}

/** Accepts every frame (what no filter does, but explicit). */
export function acceptAll(): BpfInstruction[] {
  return new BpfAssembler().ret(ACCEPT_ALL).build();
}
