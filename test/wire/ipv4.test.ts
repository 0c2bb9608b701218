import t from 'tap';
import fc from 'fast-check';
import { emitIpv4, parseIpv4, type Ipv4Packet } from '../../shared/wire/ipv4.js';
import { fillIpv4Checksum } from '../../shared/wire/checksum.js';
import { ParseError } from '../../shared/wire/result.js';
import { CLIENT_IP, SERVER_IP, SYN, SYN_ACK } from './captures.js';

const ip = (f: Buffer) => Buffer.from(f.subarray(14));

function ok(v: Ipv4Packet | ParseError): Ipv4Packet {
  if (v instanceof ParseError) throw new Error(`${v.reason} ${v.detail ?? ''}`);
  return v;
}

function reason(v: Ipv4Packet | ParseError): string {
  return v instanceof ParseError ? v.reason : 'parsed';
}

t.test('parses a captured header', async (t) => {
  const p = ok(parseIpv4(ip(SYN)));
  t.equal(p.headerLen, 20);
  t.equal(p.totalLength, 60);
  t.equal(p.id, 0x84ac);
  t.ok(p.dontFragment);
  t.equal(p.ttl, 64);
  t.equal(p.proto, 6);
  t.equal(p.src, CLIENT_IP);
  t.equal(p.dst, SERVER_IP);
  t.equal(p.payload.length, 40);
});

t.test('emit reproduces the captured SYN-ACK header', async (t) => {
  const out = Buffer.alloc(20);
  emitIpv4(out, 0, { id: 0, proto: 6, src: SERVER_IP, dst: CLIENT_IP, totalLength: 60 });
  t.equal(out.toString('hex'), SYN_ACK.subarray(14, 34).toString('hex'));
});

t.test('Ethernet padding after the total length is trimmed', async (t) => {
  const b = Buffer.concat([ip(SYN), Buffer.alloc(6)]);
  t.equal(ok(parseIpv4(b)).payload.length, 40);
});

t.test('a total length beyond the frame is refused', async (t) => {
  t.equal(reason(parseIpv4(ip(SYN).subarray(0, 50))), 'bad-ip-length');
});

t.test('GSO frame with total length 0 uses the frame length; without GSO it is refused', async (t) => {
  const b = ip(SYN);
  b.writeUInt16BE(0, 2);
  fillIpv4Checksum(b, 0);
  t.equal(ok(parseIpv4(b, { gso: true })).payload.length, 40);
  t.equal(reason(parseIpv4(b)), 'bad-ip-length');
});

t.test('GSO frame with the real total length parses as usual', async (t) => {
  t.equal(ok(parseIpv4(ip(SYN), { gso: true })).totalLength, 60);
});

t.test('options are skipped via IHL', async (t) => {
  const syn = ip(SYN);
  const b = Buffer.concat([syn.subarray(0, 20), Buffer.from([1, 1, 1, 0]), syn.subarray(20)]);
  b[0] = 0x46;
  b.writeUInt16BE(64, 2);
  fillIpv4Checksum(b, 0);
  const p = ok(parseIpv4(b));
  t.equal(p.headerLen, 24);
  t.ok(p.payload.equals(syn.subarray(20)));
});

t.test('bad version, IHL, checksum and fragments are refused with their reason', async (t) => {
  const v6 = ip(SYN);
  v6[0] = 0x65;
  t.equal(reason(parseIpv4(v6)), 'bad-ip-version');
  const ihl = ip(SYN);
  ihl[0] = 0x44;
  t.equal(reason(parseIpv4(ihl)), 'bad-ihl');
  const big = ip(SYN).subarray(0, 22);
  big[0] = 0x4f;
  t.equal(reason(parseIpv4(big)), 'bad-ihl');
  const sum = ip(SYN);
  sum[8] = 63;
  t.equal(reason(parseIpv4(sum)), 'bad-ip-checksum');
  for (const frag of [0x2000, 0x0001, 0x4001]) {
    const f = ip(SYN);
    f.writeUInt16BE(frag, 6);
    fillIpv4Checksum(f, 0);
    t.equal(reason(parseIpv4(f)), 'fragment');
  }
});

t.test('random bytes never throw', async () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (b, gso) => { parseIpv4(Buffer.from(b), { gso }); }), { numRuns: 10000 });
});
