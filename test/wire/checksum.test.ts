import t from 'tap';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  fillIpv4Checksum, fillTcpChecksum, fillTcpChecksumPartial, fold, internetChecksum,
  pseudoHeaderSum, sum16, sumPieces, tcpChecksum, verifyTcpChecksum,
} from '../../shared/wire/checksum.js';
import { ALL_TCP, SYN } from './captures.js';

/** RFC 1071 as written: 16-bit words, carry folded after every add. */
function naive(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) {
    s += (b[i]! << 8) | (i + 1 < b.length ? b[i + 1]! : 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

t.test('matches the naive reference on random data of every length 0..2000, at every alignment', async (t) => {
  const pool = randomBytes(2004);
  let bad = 0;
  for (let len = 0; len <= 2000; len++) {
    for (let off = 0; off < 4; off++) {
      const b = pool.subarray(off, off + len);
      if (internetChecksum(b) !== naive(b)) bad++;
    }
  }
  t.equal(bad, 0);
});

t.test('all-ones data folds without losing a carry', async (t) => {
  const b = Buffer.alloc(65536, 0xff);
  t.equal(internetChecksum(b), naive(b));
  t.equal(fold(sum16(b)), 0xffff);
});

t.test('sumPieces equals the sum of the concatenation, odd pieces included', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 41 }), { maxLength: 6 }), (pieces) => {
      const whole = Buffer.concat(pieces);
      return fold(sumPieces(pieces)) % 0xffff === fold(sum16(whole)) % 0xffff;
    }),
  );
});

t.test('pseudoHeaderSum is the sum of the 12-byte pseudo-header', async (t) => {
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffff }), (src, dst, len) => {
      const ph = Buffer.alloc(12);
      ph.writeUInt32BE(src, 0);
      ph.writeUInt32BE(dst, 4);
      ph[9] = 6;
      ph.writeUInt16BE(len, 10);
      return fold(pseudoHeaderSum(src, dst, 6, len)) % 0xffff === fold(sum16(ph)) % 0xffff;
    }),
  );
});

t.test('captured Linux frames verify (IPv4 header and TCP)', async (t) => {
  for (const f of ALL_TCP) {
    t.equal(fold(sum16(f, 14, 34)), 0xffff, 'ip header');
    t.ok(verifyTcpChecksum(f.readUInt32BE(26), f.readUInt32BE(30), f.subarray(34)), 'tcp');
  }
});

t.test('fillIpv4Checksum and fillTcpChecksum reproduce the captured values', async (t) => {
  for (const f of ALL_TCP) {
    const b = Buffer.from(f);
    const ipWant = b.readUInt16BE(24);
    const tcpWant = b.readUInt16BE(34 + 16);
    b.writeUInt16BE(0xdead, 24);
    fillIpv4Checksum(b, 14);
    t.equal(b.readUInt16BE(24), ipWant);
    // Header and payload as two pieces, as the host sends them.
    const hl = (b[34 + 12]! >> 4) * 4;
    const header = b.subarray(0, 34 + hl);
    fillTcpChecksum(header, 14, b.subarray(34 + hl));
    t.equal(b.readUInt16BE(34 + 16), tcpWant);
  }
});

t.test('a corrupted byte fails verification', async (t) => {
  const b = Buffer.from(SYN);
  b[40] = b[40]! ^ 0x01;
  t.notOk(verifyTcpChecksum(b.readUInt32BE(26), b.readUInt32BE(30), b.subarray(34)));
});

t.test('partial checksum: the kernel completing it (sum from csum_start, invert) gives the full checksum', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (payload, src, dst) => {
      const hdr = Buffer.alloc(14 + 20 + 20);
      hdr[14] = 0x45;
      hdr.writeUInt32BE(src, 26);
      hdr.writeUInt32BE(dst, 30);
      hdr[34 + 12] = 0x50;
      const full = Buffer.from(hdr);
      fillTcpChecksum(full, 14, payload);
      fillTcpChecksumPartial(hdr, 14, 20 + payload.length);
      // What skb_checksum_help() does: csum over [csum_start, end) with the field as
      // given, folded and inverted, stored at csum_offset.
      const completed = ~fold(sumPieces([hdr.subarray(34), payload])) & 0xffff;
      return completed === full.readUInt16BE(34 + 16);
    }),
  );
});

t.test('tcpChecksum of an odd-length header piece still matches the whole', async (t) => {
  const b = randomBytes(101);
  const whole = tcpChecksum(1, 2, [b]);
  t.equal(tcpChecksum(1, 2, [b.subarray(0, 33), b.subarray(33, 34), b.subarray(34)]), whole);
});
