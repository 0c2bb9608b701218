import t from 'tap';
import fc from 'fast-check';
import { emitIcmpEchoReply, emitIcmpFragNeeded, parseIcmpEchoRequest } from '../../shared/wire/icmp.js';
import { fold, sum16 } from '../../shared/wire/checksum.js';
import { toIpv4U32 } from '../../shared/wire/addr.js';
import { ParseError } from '../../shared/wire/result.js';
import { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST } from './captures.js';

t.test('our echo reply to a captured ping equals the ICMP bytes Linux sent', async (t) => {
  const req = parseIcmpEchoRequest(ICMP_ECHO_REQUEST.subarray(34));
  if (req instanceof ParseError) return t.fail(req.reason);
  t.equal(req.id, 0x2341);
  t.equal(req.seq, 1);
  t.equal(emitIcmpEchoReply(req).toString('hex'), ICMP_ECHO_REPLY.subarray(34).toString('hex'));
});

t.test('non-echo, bad checksum and short messages are refused', async (t) => {
  const reply = parseIcmpEchoRequest(ICMP_ECHO_REPLY.subarray(34));
  t.equal((reply as ParseError).reason, 'icmp-not-echo');
  const bad = Buffer.from(ICMP_ECHO_REQUEST.subarray(34));
  bad[10] = bad[10]! ^ 0xff;
  t.equal((parseIcmpEchoRequest(bad) as ParseError).reason, 'bad-icmp-checksum');
  t.notOk(parseIcmpEchoRequest(bad, false) instanceof ParseError, 'not verified when the kernel vouched');
  t.equal((parseIcmpEchoRequest(Buffer.alloc(7)) as ParseError).reason, 'short-icmp');
});

t.test('random bytes never throw', async () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => { parseIcmpEchoRequest(Buffer.from(b)); }));
});

t.test('fragmentation needed: type 3 code 4, next-hop MTU, the client\'s datagram quoted', async (t) => {
  const q = { src: toIpv4U32('192.0.2.10'), dst: toIpv4U32('192.0.2.100'), srcPort: 40000, dstPort: 80, seq: 0xfffffff0, totalLength: 1500 };
  const b = emitIcmpFragNeeded(q, 1492);
  t.equal(b[0], 3);
  t.equal(b[1], 4);
  t.equal(b.readUInt16BE(4), 0, 'unused');
  t.equal(b.readUInt16BE(6), 1492);
  t.equal(fold(sum16(b)), 0xffff, 'ICMP checksum over the whole message');
  // The quoted header as the client sent it (its length says it was too big for 1492).
  t.equal(b[8], 0x45);
  t.equal(b.readUInt16BE(10), 1500);
  t.equal(b[17], 6, 'TCP');
  t.equal(fold(sum16(b.subarray(8, 28))), 0xffff, 'quoted header checksum');
  t.equal(b.readUInt32BE(20), q.src);
  t.equal(b.readUInt32BE(24), q.dst);
  t.equal(b.readUInt16BE(28), 40000);
  t.equal(b.readUInt16BE(30), 80);
  t.equal(b.readUInt32BE(32), 0xfffffff0);
});
