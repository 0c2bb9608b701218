import t from 'tap';
import { makeHost, bytes } from './fakes.js';
import { ARP_REPLY, ARP_REQUEST, CLIENT_IP, CLIENT_MAC } from '../wire/captures.js';
import { arpFrame, ARP_REPLY as OP_REPLY, ARP_REQUEST as OP_REQUEST, gratuitousArpFrame } from '../../shared/wire/arp.js';
import { BROADCAST_MAC, ZERO_MAC, macFromString } from '../../shared/wire/addr.js';

const OTHER_MAC = macFromString('02:00:00:00:00:99');

t.test('who-has VIP is answered with the reply Linux would send, byte for byte', async (t) => {
  const { link, host } = makeHost();
  link.deliver([ARP_REQUEST]);
  t.equal(link.sent.length, 1);
  t.equal(bytes(link.sent[0]!).toString('hex'), ARP_REPLY.toString('hex'));
  t.equal(host.stats.arpReplies, 1);
});

t.test('a unicast probe to our MAC (a client revalidating its entry after takeover) is answered', async (t) => {
  const { link } = makeHost();
  const probe = Buffer.from(ARP_REQUEST);
  link.mac.copy(probe, 0);
  link.mac.copy(probe, 32);
  link.deliver([probe]);
  t.equal(bytes(link.sent[0]!).toString('hex'), ARP_REPLY.toString('hex'));
});

t.test('the requester is learned', async (t) => {
  const { link, host } = makeHost();
  link.deliver([ARP_REQUEST]);
  t.ok(host.neighbors.lookup(CLIENT_IP)?.equals(CLIENT_MAC));
});

t.test('ARP for another IP is ignored and counted', async (t) => {
  const { link, host } = makeHost();
  const f = Buffer.from(ARP_REQUEST);
  f.writeUInt32BE(0xc0000265, 38);
  link.deliver([f]);
  t.equal(link.sent.length, 0);
  t.equal(host.stats.drops['arp-not-for-us'], 1);
  t.equal(host.neighbors.lookup(CLIENT_IP), undefined, 'not learned from ARP not about us');
});

t.test('a passive host (answerArp false) does not answer', async (t) => {
  const { link, host } = makeHost({}, { answerArp: false });
  link.deliver([ARP_REQUEST]);
  t.equal(link.sent.length, 0);
  t.equal(host.stats.drops.passive, 1);
});

t.test('an RFC 5227 probe (sender 0.0.0.0) is answered but teaches nothing', async (t) => {
  const { link, host } = makeHost();
  const probe = arpFrame(BROADCAST_MAC, CLIENT_MAC, { op: OP_REQUEST, sha: CLIENT_MAC, spa: 0, tha: ZERO_MAC, tpa: host.vip });
  link.deliver([probe]);
  t.equal(link.sent.length, 1);
  t.equal(host.neighbors.size, 0);
});

t.test('gratuitous ARP for our VIP from another MAC is a conflict; silence() stops everything', async (t) => {
  const { link, host, stack, timers } = makeHost();
  const seen: string[] = [];
  host.onVipConflict((mac) => {
    seen.push(mac.toString('hex'));
    host.silence();
  });
  link.deliver([gratuitousArpFrame(OTHER_MAC, host.vip)]);
  t.same(seen, [OTHER_MAC.toString('hex')]);
  t.equal(host.stats.vipConflicts, 1);
  t.ok(host.silenced);
  // Nothing leaves any more: not ARP replies, not stack output.
  link.deliver([ARP_REQUEST]);
  stack.out = [{ src: host.vip, dst: CLIENT_IP, seg: { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0x10, window: 1, options: {}, payload: Buffer.alloc(0) } }];
  host.schedule();
  timers.runImmediates();
  t.equal(link.sends.length, 0);
  t.ok((host.stats.drops.silenced ?? 0) >= 1);
  await t.rejects(host.announce(), { code: 'ERR_INTACT_SILENCED' });
});

t.test('a broadcast ARP reply from another MAC claiming the VIP is a conflict too', async (t) => {
  const { link, host } = makeHost();
  let n = 0;
  host.onVipConflict(() => n++);
  link.deliver([arpFrame(BROADCAST_MAC, OTHER_MAC, { op: OP_REPLY, sha: OTHER_MAC, spa: host.vip, tha: OTHER_MAC, tpa: host.vip })]);
  t.equal(n, 1);
});

t.test('our own announcement echoed back is not a conflict', async (t) => {
  const { link, host } = makeHost();
  let n = 0;
  host.onVipConflict(() => n++);
  link.deliver([gratuitousArpFrame(link.mac, host.vip)]);
  t.equal(n, 0);
  t.equal(link.sent.length, 0, 'an announcement is not a question');
});

t.test('announce(): exact gratuitous ARP bytes, spaced, one more after > 1 s', async (t) => {
  const { link, host, timers } = makeHost({}, { answerArp: false });
  const start = timers.now;
  const times: number[] = [];
  const origSend = link.send.bind(link);
  link.send = (frames) => {
    times.push(timers.now - start);
    return origSend(frames);
  };
  const done = host.announce({ count: 3, spacingMs: 100, lateMs: 1100 });
  t.ok(host.answerArp, 'claiming the VIP turns answering on');
  for (let i = 0; i < 20; i++) {
    await timers.flush();
    timers.advance(100);
  }
  await done;
  t.same(times, [0, 100, 200, 1100]);
  const want = 'ffffffffffff' + 'eae290fdb35e' + '0806' + '0001080006040001' + 'eae290fdb35e' + 'c0000264' + '000000000000' + 'c0000264';
  for (const f of link.sent) t.equal(bytes(f).toString('hex'), want);
  t.equal(host.stats.gratuitousArps, 4);
});
