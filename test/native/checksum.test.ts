// The native Internet checksum against a plain reference, and the whole-frame fill.
import t from 'tap';

import { checksum, fillChecksums, onesSum } from '../../native/index.js';

/** RFC 1071 the slow, obvious way: folded sum of big-endian words plus `initial`. */
function refSum(buf: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length % 2 === 1) s += buf[buf.length - 1]! << 8;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** Deterministic bytes (xorshift), so a failure names a reproducible length. */
function randomBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

t.test('checksum agrees with the reference for every length 0..2000', async (t) => {
  let bad = 0;
  for (let len = 0; len <= 2000; len++) {
    const buf = randomBytes(len, len + 1);
    const want = ~refSum(buf) & 0xffff;
    if (checksum(buf) !== want) {
      bad++;
      if (bad < 5) t.fail(`length ${len}: got ${checksum(buf)}, want ${want}`);
    }
  }
  t.equal(bad, 0, 'no length disagrees');
});

t.test('checksum adds an initial partial sum, at unaligned offsets too', async (t) => {
  const big = randomBytes(4096, 7);
  let bad = 0;
  for (let len = 0; len <= 2000; len += 7) {
    for (const off of [0, 1, 3]) {
      const view = big.subarray(off, off + len);
      const initial = (len * 2654435761) >>> 0; // any 32-bit sum, e.g. a pseudo-header's
      if (checksum(view, initial) !== (~refSum(view, initial) & 0xffff)) bad++;
      if (onesSum(view, initial) !== refSum(view, initial)) bad++;
    }
  }
  t.equal(bad, 0);
});

t.test('checksum of all-zero and all-ones data', async (t) => {
  t.equal(checksum(Buffer.alloc(64)), 0xffff);
  t.equal(checksum(Buffer.alloc(64, 0xff)), ~refSum(Buffer.alloc(64, 0xff)) & 0xffff);
  t.equal(checksum(Buffer.alloc(0)), 0xffff);
});

t.test('onesSum chains over even-length pieces', async (t) => {
  const a = randomBytes(1000, 3);
  const b = randomBytes(333, 4);
  t.equal(checksum(b, onesSum(a)), checksum(Buffer.concat([a, b])));
});

/** An Ethernet + IPv4 (+ options) + TCP or UDP frame with zeroed checksums. */
function frame(proto: 6 | 17, payload: Buffer, ipOptions = 0): Buffer {
  const ihl = 20 + ipOptions;
  const l4h = proto === 6 ? 20 : 8;
  const f = Buffer.alloc(14 + ihl + l4h + payload.length);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x40 | (ihl / 4);
  f.writeUInt16BE(ihl + l4h + payload.length, 16);
  f[22] = 64;
  f[23] = proto;
  f.writeUInt32BE(0xc0000201, 26);
  f.writeUInt32BE(0xc0000202, 30);
  const l4 = 14 + ihl;
  f.writeUInt16BE(40000, l4);
  f.writeUInt16BE(80, l4 + 2);
  if (proto === 6) f[l4 + 12] = 5 << 4;
  else f.writeUInt16BE(8 + payload.length, l4 + 4);
  payload.copy(f, l4 + l4h);
  return f;
}

function verify(f: Buffer): { ip: boolean; l4: boolean } {
  const ihl = (f[14]! & 0xf) * 4;
  const ip = refSum(f.subarray(14, 14 + ihl)) === 0xffff;
  const total = f.readUInt16BE(16);
  const l4 = f.subarray(14 + ihl, 14 + total);
  const pseudo = f.readUInt16BE(26) + f.readUInt16BE(28) + f.readUInt16BE(30) + f.readUInt16BE(32) + f[23]! + l4.length;
  return { ip, l4: refSum(l4, pseudo) === 0xffff };
}

t.test('fillChecksums fills IPv4 and TCP checksums that verify', async (t) => {
  for (const len of [0, 1, 2, 1459, 1460]) {
    const f = frame(6, randomBytes(len, len + 9), len % 2 ? 4 : 0);
    t.equal(fillChecksums(f), true);
    t.same(verify(f), { ip: true, l4: true }, `payload ${len}`);
  }
});

t.test('fillChecksums fills UDP checksums that verify', async (t) => {
  const f = frame(17, randomBytes(101, 5));
  t.equal(fillChecksums(f), true);
  t.same(verify(f), { ip: true, l4: true });
  t.not(f.readUInt16BE(14 + 20 + 6), 0, 'a UDP checksum is never sent as zero');
});

t.test('fillChecksums leaves non-IPv4 frames untouched', async (t) => {
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  const copy = Buffer.from(arp);
  t.equal(fillChecksums(arp), false);
  t.same(arp, copy);
  t.equal(fillChecksums(Buffer.alloc(10)), false, 'too short');
  const lying = frame(6, Buffer.alloc(10));
  lying.writeUInt16BE(9000, 16); // total length beyond the frame
  t.equal(fillChecksums(lying), false);
});
