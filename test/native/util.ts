// Helpers shared by the addon's root tests: test frames and waiting for arrivals.
import type { Link, RxFrame } from '../../shared/link.js';

/** Local experimental EtherType: kernels ignore it, so only our frames carry it. */
export const TEST_ETHERTYPE = 0x88b5;

/** A frame from `src` to `dst` with a sequence number and patterned payload. */
export function testFrame(dst: Buffer, src: Buffer, seq: number, len = 60): Buffer {
  const f = Buffer.alloc(len);
  dst.copy(f, 0);
  src.copy(f, 6);
  f.writeUInt16BE(TEST_ETHERTYPE, 12);
  f.writeUInt32BE(seq, 14);
  for (let i = 18; i < len; i++) f[i] = (seq + i) & 0xff;
  return f;
}

export function isTestFrame(f: Buffer): boolean {
  return f.length >= 18 && f.readUInt16BE(12) === TEST_ETHERTYPE;
}

export interface Collector {
  /** Copies of the matching frames received so far, with their status. */
  readonly frames: { data: Buffer; csum: RxFrame['csum']; gso: boolean }[];
  /** Resolves once `n` matching frames have arrived in total. */
  until(n: number): Promise<void>;
}

/** Installs a handler that keeps copies of frames matching `pred`. A stuck wait fails
 *  after `limitMs` (a safety net against hangs, not a timing assertion). */
export function collect(link: Link, pred: (f: Buffer) => boolean, limitMs = 10_000): Collector {
  const frames: Collector['frames'] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  link.onFrames((batch) => {
    for (const f of batch) {
      if (pred(f.data)) frames.push({ data: Buffer.from(f.data), csum: f.csum, gso: f.gso });
    }
    if (waiter && frames.length >= waiter.n) {
      const w = waiter;
      waiter = undefined;
      w.resolve();
    }
  });
  return {
    frames,
    until(n) {
      if (frames.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${frames.length} of ${n} frames arrived`)), limitMs);
        waiter = {
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
  };
}

/** RFC 1071 reference: folded sum of big-endian 16-bit words plus `initial`. */
export function refSum(buf: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length % 2 === 1) s += buf[buf.length - 1]! << 8;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** Pseudo-header sum of an untagged IPv4 frame's transport segment. */
export function pseudoSum(f: Buffer): number {
  const ihl = (f[14]! & 0xf) * 4;
  const l4len = f.readUInt16BE(16) - ihl;
  return f.readUInt16BE(26) + f.readUInt16BE(28) + f.readUInt16BE(30) + f.readUInt16BE(32) + f[23]! + l4len;
}

/** True when the IPv4 header and the TCP/UDP checksums of the frame verify. */
export function checksumsValid(f: Buffer): boolean {
  const ihl = (f[14]! & 0xf) * 4;
  const total = f.readUInt16BE(16);
  if (refSum(f.subarray(14, 14 + ihl)) !== 0xffff) return false;
  return refSum(f.subarray(14 + ihl, 14 + total), pseudoSum(f)) === 0xffff;
}
