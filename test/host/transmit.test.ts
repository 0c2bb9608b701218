import t from 'tap';
import { makeHost, bytes } from './fakes.js';
import { ARP_REPLY, CLIENT_IP, CLIENT_MAC, SYN, SYN_ACK } from '../wire/captures.js';
import { parseTcp } from '../../shared/wire/tcp.js';
import { fold, sum16, sumPieces, verifyTcpChecksum } from '../../shared/wire/checksum.js';
import { ParseError } from '../../shared/wire/result.js';
import { ACK, FIN, PSH, type Datagram, type TcpSegment } from '../../shared/tcp/segment.js';
import type { TxFrame } from '../../shared/link.js';

const VIP = 0xc0000264;

/** The captured Linux SYN-ACK as the engine would hand it over. */
function synAck(): Datagram {
  const seg = parseTcp(SYN_ACK.subarray(34));
  if (seg instanceof ParseError) throw new Error(seg.reason);
  return { src: VIP, dst: CLIENT_IP, seg };
}

function dataSeg(len: number, flags = ACK | PSH | FIN, gsoSize?: number): Datagram {
  const payload = Buffer.alloc(len);
  for (let i = 0; i < len; i++) payload[i] = i & 0xff;
  const seg: TcpSegment = {
    srcPort: 8080, dstPort: 0xde16, seq: 0xfffffc00, ack: 77, flags, window: 500,
    options: { ts: { val: 5, ecr: 6 } }, payload, ...(gsoSize ? { gsoSize } : {}),
  };
  return { src: VIP, dst: CLIENT_IP, seg };
}

function tcpOf(f: TxFrame): TcpSegment {
  const s = parseTcp(bytes(f).subarray(34));
  if (s instanceof ParseError) throw new Error(s.reason);
  return s;
}

/** Output of one poll after the client is known (learned from its SYN). */
function emit(caps: { gso?: boolean; csumOffload?: boolean }, ...out: Datagram[]) {
  const h = makeHost(caps);
  h.link.deliver([SYN]);
  h.link.sends.length = 0;
  h.stack.out = out;
  h.host.schedule();
  h.timers.runImmediates();
  return h;
}

t.test('stack output becomes frames with the right MACs and the checksums Linux computed', async (t) => {
  const { link } = emit({}, synAck());
  t.equal(link.sent.length, 1);
  const f = bytes(link.sent[0]!);
  t.ok(f.subarray(0, 6).equals(CLIENT_MAC), 'destination: the learned neighbour');
  t.ok(f.subarray(6, 12).equals(link.mac), 'source: our link');
  t.equal(fold(sum16(f, 14, 34)), 0xffff, 'IPv4 checksum');
  t.equal(f.subarray(34).toString('hex'), SYN_ACK.subarray(34).toString('hex'), 'TCP bytes, checksum included');
  t.equal(link.sent[0]!.csumOffload, undefined);
});

t.test('with checksum offload: the partial sum, which the kernel completes to the same value', async (t) => {
  const { link } = emit({ csumOffload: true }, synAck());
  const tx = link.sent[0]!;
  t.equal(tx.csumOffload, true);
  const f = bytes(tx);
  const completed = ~fold(sum16(f, 34)) & 0xffff;
  t.equal(completed, SYN_ACK.readUInt16BE(50));
});

t.test('payload travels as its own piece, not copied', async (t) => {
  const d = dataSeg(100, ACK);
  const { link } = emit({}, d);
  const data = link.sent[0]!.data as readonly Buffer[];
  t.equal(data.length, 2);
  t.equal(data[1], d.seg.payload);
  t.ok(verifyTcpChecksum(VIP, CLIENT_IP, bytes(link.sent[0]!).subarray(34)));
});

t.test('no GSO on the link: a gsoSize segment is split into MSS pieces, FIN/PSH on the last only', async (t) => {
  const d = dataSeg(4000, ACK | PSH | FIN, 1448);
  const { link, host } = emit({}, d);
  t.equal(link.sends.length, 1, 'one send');
  const frames = link.sent;
  t.equal(frames.length, 3);
  const segs = frames.map(tcpOf);
  t.same(segs.map((s) => s.payload.length), [1448, 1448, 1104]);
  t.same(segs.map((s) => s.seq), [0xfffffc00, (0xfffffc00 + 1448) >>> 0, (0xfffffc00 + 2896) >>> 0], 'crosses the wrap');
  t.same(segs.map((s) => s.flags), [ACK, ACK, ACK | PSH | FIN]);
  t.ok(Buffer.concat(segs.map((s) => s.payload)).equals(d.seg.payload));
  for (const f of frames) {
    const b = bytes(f);
    t.ok(verifyTcpChecksum(VIP, CLIENT_IP, b.subarray(34)), 'tcp checksum');
    t.equal(b.readUInt16BE(16), b.length - 14, 'ip total length');
    t.equal(f.gsoSize, undefined);
  }
  t.equal(host.stats.txTcp, 3);
});

t.test('GSO link: one frame with gsoSize and the partial sum over the full length', async (t) => {
  const d = dataSeg(4000, ACK | PSH, 1448);
  const { link, host } = emit({ gso: true, csumOffload: true }, d);
  t.equal(link.sent.length, 1);
  const f = link.sent[0]!;
  t.equal(f.gsoSize, 1448);
  const b = bytes(f);
  t.equal(b.readUInt16BE(16), 20 + 32 + 4000);
  const completed = ~fold(sumPieces([b.subarray(34)])) & 0xffff;
  t.ok(verifyTcpChecksum(VIP, CLIENT_IP, Buffer.concat([b.subarray(34, 50), Buffer.from([completed >> 8, completed & 0xff]), b.subarray(52)])));
  t.equal(host.stats.txTcp, 3, 'counted as the three segments it becomes');
});

t.test('GSO link: a super-segment over the IPv4 limit is cut at a multiple of gsoSize', async (t) => {
  const d = dataSeg(100000, ACK | FIN, 1448);
  const { link } = emit({ gso: true, csumOffload: true }, d);
  const segs = link.sent.map(tcpOf);
  t.equal(segs.length, 2);
  t.equal(segs[0]!.payload.length % 1448, 0);
  t.ok(segs[0]!.payload.length + 20 + 32 <= 65535);
  t.same(segs.map((s) => s.flags), [ACK, ACK | FIN]);
  t.equal(segs[1]!.seq, (0xfffffc00 + segs[0]!.payload.length) >>> 0);
});

t.test('a segment that fits one frame goes without gsoSize even on a GSO link', async (t) => {
  const { link } = emit({ gso: true, csumOffload: true }, dataSeg(1000, ACK, 1448));
  t.equal(link.sent[0]!.gsoSize, undefined);
  t.equal(link.sent[0]!.csumOffload, true);
});

t.test('unknown neighbour: ARP request, frames queued, sent with its MAC when it answers', async (t) => {
  const { link, host, stack, timers } = makeHost();
  stack.out = [synAck(), dataSeg(10, ACK)];
  host.schedule();
  timers.runImmediates();
  t.equal(link.sent.length, 1);
  const req = bytes(link.sent[0]!);
  t.equal(req.toString('hex'), 'ffffffffffff' + link.mac.toString('hex') + '0806' + '0001080006040001' +
    link.mac.toString('hex') + 'c0000264' + '000000000000' + 'c000020a');
  t.equal(host.stats.arpRequests, 1);
  // The client answers (Linux's reply, addressed to the VIP's MAC).
  const reply = Buffer.from(ARP_REPLY);
  link.mac.copy(reply, 0);
  CLIENT_MAC.copy(reply, 6);
  reply.writeUInt16BE(2, 20);
  CLIENT_MAC.copy(reply, 22);
  reply.writeUInt32BE(CLIENT_IP, 28);
  link.mac.copy(reply, 32);
  reply.writeUInt32BE(VIP, 38);
  link.deliver([reply]);
  t.equal(link.sends.length, 2);
  const queued = link.sends[1]!;
  t.equal(queued.length, 2);
  for (const f of queued) t.ok(bytes(f).subarray(0, 6).equals(CLIENT_MAC));
  t.equal(bytes(queued[0]!).subarray(34).toString('hex'), SYN_ACK.subarray(34).toString('hex'));
});

t.test('the neighbour queue is bounded: excess frames are dropped with a reason', async (t) => {
  const { host, stack, timers } = makeHost({}, { neighbors: { maxPendingPerIp: 2 } });
  stack.out = [dataSeg(1, ACK), dataSeg(1, ACK), dataSeg(1, ACK), dataSeg(1, ACK)];
  host.schedule();
  timers.runImmediates();
  t.equal(host.stats.drops['arp-queue-full'], 2);
});

t.test('a neighbour that never answers: retried, then its frames are dropped', async (t) => {
  const { link, host, stack, timers } = makeHost({}, { neighbors: { retryMs: 1000, maxTries: 3 } });
  stack.out = [dataSeg(1, ACK)];
  host.schedule();
  timers.runImmediates();
  timers.advance(1000);
  timers.advance(1000);
  t.equal(host.stats.arpRequests, 3);
  t.equal(host.stats.drops['arp-timeout'], undefined);
  timers.advance(1000);
  t.equal(host.stats.drops['arp-timeout'], 1);
  t.equal(host.neighbors.pendingIps, 0);
  t.equal(timers.pendingTimeouts, 0, 'nothing left to wake for');
  t.equal(link.sent.length, 3);
});
