import t from 'tap';
import fc from 'fast-check';
import { emitIcmpEchoReply, parseIcmpEchoRequest } from '../../shared/wire/icmp.js';
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
