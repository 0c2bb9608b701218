import t from 'tap';
import fc from 'fast-check';
import { makeHost, bytes, VIP_MAC } from './fakes.js';
import { ARP_REQUEST, CLIENT_IP, CLIENT_MAC, DATA_HELLO, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, SYN } from '../wire/captures.js';
import { fold, sum16 } from '../../shared/wire/checksum.js';
import { SYN as SYN_FLAG } from '../../shared/tcp/segment.js';
import { macFromString } from '../../shared/wire/addr.js';

t.test('ICMP echo request is answered', async (t) => {
  const { link, host } = makeHost();
  link.deliver([ICMP_ECHO_REQUEST]);
  t.equal(link.sent.length, 1);
  const f = bytes(link.sent[0]!);
  t.ok(f.subarray(0, 6).equals(CLIENT_MAC), 'to the requester');
  t.ok(f.subarray(6, 12).equals(VIP_MAC), 'from us');
  t.equal(f.readUInt32BE(26), host.vip);
  t.equal(f.readUInt32BE(30), CLIENT_IP);
  t.equal(fold(sum16(f, 14, 34)), 0xffff, 'IPv4 checksum');
  t.equal(f.subarray(34).toString('hex'), ICMP_ECHO_REPLY.subarray(34).toString('hex'), 'ICMP as Linux answers');
  t.equal(host.stats.icmpEchoes, 1);
});

t.test('TCP with a bad checksum and status unknown is dropped and counted', async (t) => {
  const { link, host, stack } = makeHost();
  const f = Buffer.from(SYN);
  f.writeUInt16BE(f.readUInt16BE(50) ^ 0x1234, 50);
  link.deliver([f], 'unknown');
  t.equal(stack.inputs.length, 0);
  t.equal(host.stats.drops['bad-checksum'], 1);
});

t.test('the same frame with status partial (or valid) is accepted', async (t) => {
  const { link, stack } = makeHost();
  const f = Buffer.from(SYN);
  f.writeUInt16BE(0x1234, 50);
  link.deliver([f], 'partial');
  link.deliver([f], 'valid');
  t.equal(stack.inputs.length, 2);
});

t.test('a good TCP frame reaches stack.input as a datagram, payload copied out of the link buffer', async (t) => {
  const { link, stack, timers } = makeHost();
  const rx = Buffer.from(DATA_HELLO);
  link.deliver([rx]);
  t.equal(stack.inputs.length, 1);
  const { d, now } = stack.inputs[0]!;
  t.equal(now, timers.now);
  t.equal(d.src, CLIENT_IP);
  t.equal(d.dst, 0xc0000264);
  t.equal(d.seg.dstPort, 8080);
  t.equal(d.seg.payload.toString(), 'hello');
  rx.fill(0);
  t.equal(d.seg.payload.toString(), 'hello', 'survives the link reusing its buffer');
});

t.test('a frame from an unknown neighbour teaches its MAC', async (t) => {
  const { link, host } = makeHost();
  t.equal(host.neighbors.lookup(CLIENT_IP), undefined);
  link.deliver([SYN]);
  t.ok(host.neighbors.lookup(CLIENT_IP)?.equals(CLIENT_MAC));
  t.equal(host.stats.neighborsLearned, 1);
});

t.test('IPv4 for another address and frames for another MAC are dropped with their reason', async (t) => {
  const { link, host, stack } = makeHost();
  const other = Buffer.from(SYN);
  other.writeUInt32BE(0xc0000265, 30);
  other.writeUInt16BE(0, 24);
  other.writeUInt16BE(~fold(sum16(other, 14, 34)) & 0xffff, 24);
  link.deliver([other]);
  const unicast = Buffer.from(SYN);
  macFromString('02:00:00:00:00:77').copy(unicast, 0);
  link.deliver([unicast]);
  t.equal(stack.inputs.length, 0);
  t.equal(host.stats.drops['not-for-us'], 1);
  t.equal(host.stats.drops['not-our-mac'], 1);
});

t.test('unknown EtherTypes, VLAN tags and runts are dropped with their reason', async (t) => {
  const { link, host } = makeHost();
  const v6 = Buffer.from(SYN);
  v6.writeUInt16BE(0x86dd, 12);
  const vlan = Buffer.from(SYN);
  vlan.writeUInt16BE(0x8100, 12);
  link.deliver([v6, vlan, Buffer.alloc(10)]);
  t.same(host.stats.drops, { 'unknown-ethertype': 1, vlan: 1, 'short-frame': 1 });
  t.equal(host.stats.rxFrames, 3);
});

t.test('a batch of inputs gives one poll and one link.send carrying every reply', async (t) => {
  const { link, stack, host } = makeHost();
  stack.out = [];
  const origPoll = stack.poll.bind(stack);
  stack.poll = (now) => {
    // Answer the SYN seen in this batch: output depends on all the input.
    if (stack.inputs.length > 0) {
      stack.out = [{ src: host.vip, dst: CLIENT_IP, seg: { srcPort: 8080, dstPort: 0xde16, seq: 1, ack: 2, flags: SYN_FLAG | 0x10, window: 100, options: {}, payload: Buffer.alloc(0) } }];
    }
    return origPoll(now);
  };
  link.deliver([ARP_REQUEST, SYN, ICMP_ECHO_REQUEST]);
  t.equal(stack.inputs.length, 1);
  t.equal(stack.polls.length, 1);
  t.equal(link.sends.length, 1);
  t.equal(link.sends[0]!.length, 3, 'ARP reply, ICMP reply, SYN-ACK');
});

t.test('random frames never throw out of the host', async (t) => {
  const { link, host } = makeHost();
  const headers = [SYN.subarray(0, 34), ARP_REQUEST.subarray(0, 20), ICMP_ECHO_REQUEST.subarray(0, 34)];
  fc.assert(
    fc.property(fc.nat({ max: 2 }), fc.uint8Array({ maxLength: 80 }), fc.constantFrom('unknown', 'partial', 'valid' as const), fc.boolean(), (h, tail, csum, gso) => {
      link.deliver([{ data: Buffer.concat([headers[h]!, tail]), csum, gso }]);
    }),
    { numRuns: 5000 },
  );
  t.equal(host.stats.rxFrames, 5000);
});
