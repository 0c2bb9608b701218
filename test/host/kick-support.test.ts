// What the takeover's paced kick (backup-daemon/kick.ts) needs of the host: resolving a
// client's address without queueing a frame per connection behind it, hearing when it
// is learned, and frames the link refuses kept and sent again rather than lost.
import t from 'tap';
import { FakeLink, makeHost, bytes, VIP_MAC } from './fakes.js';
import { ARP_REPLY, CLIENT_IP, CLIENT_MAC, SYN } from '../wire/captures.js';
import type { TxFrame } from '../../shared/link.js';
import { ACK, type Datagram } from '../../shared/tcp/segment.js';
import { TX_BACKLOG_MAX } from '../../primary/host.js';

const VIP = 0xc0000264;

/** Linux's ARP reply from the client, addressed to our link. */
function arpReplyFor(mac: Buffer): Buffer {
  const reply = Buffer.from(ARP_REPLY);
  mac.copy(reply, 0);
  CLIENT_MAC.copy(reply, 6);
  reply.writeUInt16BE(2, 20);
  CLIENT_MAC.copy(reply, 22);
  reply.writeUInt32BE(CLIENT_IP, 28);
  mac.copy(reply, 32);
  reply.writeUInt32BE(VIP, 38);
  return reply;
}

/** One small segment to the client, told apart by its sequence number. */
function seg(seq: number): Datagram {
  return {
    src: VIP, dst: CLIENT_IP,
    seg: { srcPort: 80, dstPort: 40000, seq, ack: 1, flags: ACK, window: 100, options: {}, payload: Buffer.alloc(0) },
  };
}

const seqOf = (f: TxFrame): number => bytes(f).readUInt32BE(38);

/** A link whose socket buffer takes only `room` frames per send() while `room` is set. */
class TightLink extends FakeLink {
  room: number | undefined;
  override send(frames: readonly TxFrame[]): number {
    const n = this.room === undefined ? frames.length : Math.min(this.room, frames.length);
    super.send(frames.slice(0, n));
    return n;
  }
}

t.test('resolve: an unknown client gets an ARP request now, no frame is queued, the handler hears the answer', async (t) => {
  const { link, host } = makeHost();
  const learned: number[] = [];
  host.onNeighbor((ip) => learned.push(ip));
  t.equal(host.resolve(CLIENT_IP), false);
  t.equal(link.sent.length, 1, 'the ARP request left at once');
  t.equal(bytes(link.sent[0]!).readUInt16BE(12), 0x0806);
  t.equal(bytes(link.sent[0]!).readUInt32BE(38), CLIENT_IP, 'asking for the client');
  t.equal(host.resolve(CLIENT_IP), false, 'still unknown');
  t.equal(link.sent.length, 1, 'no second request while one is outstanding');
  link.deliver([arpReplyFor(link.mac)]);
  t.same(learned, [CLIENT_IP]);
  t.equal(host.resolve(CLIENT_IP), true);
  t.equal(link.sent.length, 1, 'nothing was queued behind it');
});

t.test('resolve: a known client costs nothing; a handler removed hears nothing', async (t) => {
  const { link, host } = makeHost();
  link.deliver([SYN]);
  const learned: number[] = [];
  const off = host.onNeighbor((ip) => learned.push(ip));
  off();
  t.equal(host.resolve(CLIENT_IP), true);
  t.equal(link.sent.length, 0);
  const other = Buffer.from(SYN);
  Buffer.from('020000000001', 'hex').copy(other, 6);
  link.deliver([other]);
  t.same(learned, [], 'the MAC changed, but the handler was removed');
});

t.test('resolve: a client that never answers is asked again, then given up without a drop', async (t) => {
  const { link, host, timers } = makeHost({}, { neighbors: { retryMs: 1000, maxTries: 3 } });
  t.equal(host.resolve(CLIENT_IP), false);
  timers.advance(1000);
  timers.advance(1000);
  t.equal(host.stats.arpRequests, 3);
  timers.advance(1000);
  t.equal(host.neighbors.pendingIps, 0);
  t.equal(host.stats.drops['arp-timeout'], undefined, 'no frame was waiting');
  t.equal(link.sent.length, 3);
  t.equal(host.resolve(CLIENT_IP), false, 'a later resolve asks again');
  t.equal(host.stats.arpRequests, 4);
});

t.test('frames the link refuses are sent again on the next pass, in order, before new ones', async (t) => {
  const link = new TightLink(VIP_MAC);
  const { host, stack, timers } = makeHost({}, { link });
  link.deliver([SYN]);
  link.room = 2;
  stack.out = [seg(1), seg(2), seg(3), seg(4), seg(5)];
  host.schedule();
  timers.runImmediates();
  t.same(link.sent.map(seqOf), [1, 2]);
  t.equal(host.txBacklog, 3);
  t.equal(host.stats.txRefused, 3);
  link.room = undefined;
  stack.out = [seg(6)];
  timers.advance(1);
  t.same(link.sent.map(seqOf), [1, 2, 3, 4, 5, 6], 'the refused three first, then the new one');
  t.equal(host.txBacklog, 0);
  t.equal(host.stats.txFrames, 6);
  t.equal(timers.pendingTimeouts, 0, 'nothing left to wake for');
});

t.test('the backlog of refused frames is bounded: the excess is dropped with a reason', async (t) => {
  const link = new TightLink(VIP_MAC);
  const { host, stack, timers } = makeHost({}, { link });
  link.deliver([SYN]);
  link.room = 0;
  const total = TX_BACKLOG_MAX + 1000;
  stack.out = Array.from({ length: total }, (_, i) => seg(i));
  host.schedule();
  timers.runImmediates();
  t.equal(host.txBacklog, TX_BACKLOG_MAX);
  t.equal(host.stats.drops['tx-backlog-full'], 1000);
  link.room = undefined;
  timers.advance(1);
  t.same(link.sent.map(seqOf).slice(0, 3), [0, 1, 2], 'the oldest kept, in order');
  t.equal(link.sent.length, TX_BACKLOG_MAX);
});

t.test('silence() discards the backlog too', async (t) => {
  const link = new TightLink(VIP_MAC);
  const { host, stack, timers } = makeHost({}, { link });
  link.deliver([SYN]);
  link.room = 0;
  stack.out = [seg(1), seg(2)];
  host.schedule();
  timers.runImmediates();
  host.silence();
  link.room = undefined;
  timers.advance(1);
  t.equal(link.sent.length, 0);
  t.equal(host.txBacklog, 0);
  t.equal(host.stats.drops.silenced, 2);
});


t.test('queueIcmp: the ICMP leaves in the next pass, after that pass\'s segments, from the VIP to the client\'s MAC', async (t) => {
  const { link, host, stack, timers } = makeHost();
  link.deliver([SYN]);
  const icmp = Buffer.from('0304000000000574', 'hex');
  t.equal(host.queueIcmp(CLIENT_IP, icmp), true);
  t.equal(link.sent.length, 0, 'not at once: the kick\'s ACK goes first');
  stack.out = [seg(1)];
  timers.runImmediates();
  t.equal(link.sent.length, 2);
  t.equal(seqOf(link.sent[0]!), 1, 'the segment first');
  const f = bytes(link.sent[1]!);
  t.same(f.subarray(0, 6), CLIENT_MAC, 'to the client');
  t.equal(f[23], 1, 'IPv4 protocol ICMP');
  t.equal(f.readUInt32BE(26), VIP, 'from the VIP');
  t.equal(f.readUInt32BE(30), CLIENT_IP);
  t.same(f.subarray(34), icmp);
  t.equal(host.stats.icmpOut, 1);
});

t.test('queueIcmp: nothing for a client whose MAC is unknown', async (t) => {
  const { link, host, timers } = makeHost();
  t.equal(host.queueIcmp(CLIENT_IP, Buffer.alloc(8)), false);
  timers.runImmediates();
  t.equal(link.sent.length, 0);
});
