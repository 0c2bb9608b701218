// The witnesses of the lab kill tests, checked without root: the pcap summary that
// counts RSTs and measures the stall (a witness that cannot see an RST would pass every
// test), and the kv model that the kv client checks each reply against.
import t from 'tap';
import { summarizePcap } from './lib/pcap.js';
import { kvCommand, kvReply } from './lib/kv-model.js';
import { applyCommand } from '../../primary/apps/kv.js';
import { prng, stratified } from './lib/instants.js';

const VIP = '192.0.2.100';
const CLIENT = '192.0.2.10';
const PRIMARY_MAC = '02:00:c0:00:02:01';
const BACKUP_MAC = '02:00:c0:00:02:02';
const CLIENT_MAC = '02:00:c0:00:02:0a';

function mac(s: string): Buffer {
  return Buffer.from(s.split(':').map((h) => parseInt(h, 16)));
}

function ip(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}

interface Frame {
  us: number;
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  flags: number;
  tsVal?: number;
  /** Payload bytes (zeros). */
  payload?: number;
}

const RST = 0x04;
const SYN = 0x02;
const ACK = 0x10;

function frame(f: Frame): Buffer {
  const opts = f.tsVal === undefined ? Buffer.alloc(0) : Buffer.from([1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0]);
  if (f.tsVal !== undefined) opts.writeUInt32BE(f.tsVal, 4);
  const tcp = Buffer.alloc(20 + opts.length);
  tcp.writeUInt16BE(f.srcPort, 0);
  tcp.writeUInt16BE(f.dstPort, 2);
  tcp[12] = ((20 + opts.length) / 4) << 4;
  tcp[13] = f.flags;
  opts.copy(tcp, 20);
  const ipv4 = Buffer.alloc(20);
  ipv4[0] = 0x45;
  ipv4.writeUInt16BE(20 + tcp.length + (f.payload ?? 0), 2);
  ipv4[8] = 64;
  ipv4[9] = 6;
  ip(f.src).copy(ipv4, 12);
  ip(f.dst).copy(ipv4, 16);
  return Buffer.concat([mac(f.dstMac), mac(f.srcMac), Buffer.from([0x08, 0x00]), ipv4, tcp, Buffer.alloc(f.payload ?? 0)]);
}

/** A capture always starts with the client's SYNs: only connections opened in it count. */
function pcap(frames: Frame[]): Buffer {
  const ports = new Set(frames.map((f) => (f.src === VIP ? f.dstPort : f.srcPort)));
  frames = [...[...ports].map((p) => toVip(0, SYN, p)), ...frames];
  return rawPcap(frames);
}

function rawPcap(frames: Frame[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20);
  const recs = frames.map((f) => {
    const data = frame(f);
    const r = Buffer.alloc(16);
    r.writeUInt32LE(Math.floor(f.us / 1e6), 0);
    r.writeUInt32LE(f.us % 1e6, 4);
    r.writeUInt32LE(data.length, 8);
    r.writeUInt32LE(data.length, 12);
    return Buffer.concat([r, data]);
  });
  return Buffer.concat([head, ...recs]);
}

const roles = { vip: VIP, primaryMac: PRIMARY_MAC, backupMac: BACKUP_MAC };
const fromVip = (us: number, srcMac: string, flags: number, tsVal?: number, port = 40000): Frame => ({
  us, srcMac, dstMac: CLIENT_MAC, src: VIP, dst: CLIENT, srcPort: 80, dstPort: port, flags, tsVal,
});
const toVip = (us: number, flags: number, port = 40000, payload = 0): Frame => ({
  us, srcMac: CLIENT_MAC, dstMac: PRIMARY_MAC, src: CLIENT, dst: VIP, srcPort: port, dstPort: 80, flags, payload,
});

t.test('RSTs are counted in both directions', async (t) => {
  const s = summarizePcap(pcap([fromVip(1_000_000, PRIMARY_MAC, ACK), fromVip(1_000_100, BACKUP_MAC, RST | ACK), toVip(1_000_200, RST)]), roles);
  t.equal(s.frames, 4);
  t.equal(s.rstFromVip, 1);
  t.equal(s.rstToVip, 1);
});

t.test('a connection opened before the capture is not counted', async (t) => {
  const s = summarizePcap(rawPcap([toVip(1_000_000, ACK, 7), fromVip(1_000_100, PRIMARY_MAC, RST, undefined, 7)]), roles);
  t.equal(s.rstFromVip, 0);
  t.equal(s.foreign, 2);
});

t.test('the stall runs from the last primary frame to the first backup frame', async (t) => {
  const s = summarizePcap(pcap([fromVip(1_000_000, PRIMARY_MAC, ACK, 500), fromVip(1_010_000, PRIMARY_MAC, ACK, 510), toVip(1_020_000, ACK), fromVip(1_095_500, BACKUP_MAC, ACK, 600)]), roles);
  t.equal(s.fromPrimary, 2);
  t.equal(s.fromBackup, 1);
  t.equal(s.stallMs, 85.5);
  t.equal(s.silenceMs, 85.5);
  t.equal(s.tsBackwards, 0);
});

t.test('a backup frame whose TSval went backwards is counted and ends no stall', async (t) => {
  const s = summarizePcap(pcap([fromVip(1_000_000, PRIMARY_MAC, ACK, 1000), fromVip(1_100_000, BACKUP_MAC, ACK, 900), fromVip(1_900_000, BACKUP_MAC, ACK, 1001)]), roles);
  t.equal(s.tsBackwards, 1);
  t.equal(s.silenceMs, 100);
  t.equal(s.stallMs, 900, 'the first frame the client can accept');
});

t.test('TSvals compare per connection and across the 2^32 wrap', async (t) => {
  const s = summarizePcap(pcap([
    fromVip(1_000_000, PRIMARY_MAC, ACK, 0xfffffff0, 1),
    fromVip(1_000_000, PRIMARY_MAC, ACK, 5, 2),
    fromVip(1_050_000, BACKUP_MAC, ACK, 0x10, 1),
    fromVip(1_060_000, BACKUP_MAC, ACK, 6, 2),
  ]), roles);
  t.equal(s.tsBackwards, 0);
  t.equal(s.stalledConnections, 2);
  t.equal(s.stallMs, 60);
  t.equal(s.stallMedianMs, 60);
});

t.test('the kv model agrees with the kv app', async (t) => {
  const data = new Map<string, string>();
  for (let i = 0; i < 2000; i++) {
    if (applyCommand(data, kvCommand(i).line) !== kvReply(i)) {
      t.fail(`command ${i} (${kvCommand(i).line}): app says ${applyCommand(new Map(data), kvCommand(i).line)}, model ${kvReply(i)}`);
      return;
    }
  }
  t.pass('2000 commands, same replies');
});

t.test('stratified instants: one in each slice, reproducible from the seed', async (t) => {
  const a = stratified(prng(42), 20, 0, 1000);
  t.same(a, stratified(prng(42), 20, 0, 1000));
  a.forEach((x, i) => t.ok(x >= i * 50 && x < (i + 1) * 50, `instant ${i} in its slice`));
});

t.test('an upload resumes at the client\'s first data segment after the backup spoke, not at its ACKs', async (t) => {
  const s = summarizePcap(pcap([
    toVip(1_000_000, ACK, 40000, 1448),
    fromVip(1_001_000, PRIMARY_MAC, ACK),
    toVip(1_002_000, ACK, 40000, 1448), // into the outage: lost with the primary
    fromVip(1_090_000, BACKUP_MAC, ACK), // the kick
    toVip(1_090_100, ACK), // the client's pure ACK: no data yet
    toVip(1_200_000, ACK, 40000, 1448), // its resend
  ]), roles);
  t.equal(s.stallMs, 89);
  t.equal(s.clientResumeMs, 199);
});
