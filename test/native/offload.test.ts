// Checksum status on receive and GSO on send, against the kernel on the other end of
// a veth pair. `ethtool -K <dev> tx off` switches a side to software checksums and
// segmentation (the path a real NIC without offloads takes); without ethtool those
// cases are skipped with a message.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

import t, { type Test } from 'tap';

import { arpOrIpv4To } from '../../native/bpf.js';
import { checksum, openLink } from '../../native/index.js';
import { rootOnly } from '../helpers/root.js';
import { haveCommand, makeVethPair, type VethPair } from '../../native/veth.js';
import { checksumsValid, collect, pseudoSum, refSum } from './util.js';

const run = promisify(execFile);
const ethtool = haveCommand('ethtool');
const noEthtool = ethtool ? false : 'ethtool is not installed (apt-get install -y ethtool)';

function ipProto(f: Buffer): number | undefined {
  return f.length >= 34 && f.readUInt16BE(12) === 0x0800 ? f[23] : undefined;
}

function dstPort(f: Buffer): number {
  return f.readUInt16BE(14 + (f[14]! & 0xf) * 4 + 2);
}

/** Makes the kernel in `ns` send one UDP datagram and one TCP SYN to `ip`. */
async function kernelSend(pair: VethPair, ns: string, ip: string, udpPort: number, tcpPort: number): Promise<void> {
  const code = `
    const s = require('dgram').createSocket('udp4');
    s.send(Buffer.alloc(300, 7), ${udpPort}, '${ip}', () => s.close());
    require('net').connect(${tcpPort}, '${ip}').on('error', () => {}).setTimeout(2000, function () { this.destroy(); });`;
  await run('ip', ['netns', 'exec', ns, process.execPath, '-e', code]);
}

function setupAB(t: Test): { pair: VethPair } {
  const pair = makeVethPair();
  t.teardown(pair.cleanup);
  return { pair };
}

t.test('kernel UDP and TCP over veth arrive as checksum partial', rootOnly(), async (t) => {
  const { pair } = setupAB(t);
  const a = openLink(pair.ifA, { netns: pair.nsA, filter: arpOrIpv4To(pair.ipA) });
  t.teardown(() => a.close());
  const got = collect(a, (f) => (ipProto(f) === 17 && dstPort(f) === 7001) || (ipProto(f) === 6 && dstPort(f) === 7002));
  await kernelSend(pair, pair.nsB, pair.ipA, 7001, 7002);
  await got.until(2);
  for (const f of got.frames) {
    t.equal(f.csum, 'partial', `proto ${ipProto(f.data)}`);
    const ihl = (f.data[14]! & 0xf) * 4;
    const field = f.data.readUInt16BE(14 + ihl + (ipProto(f.data) === 6 ? 16 : 6));
    t.equal(field, refSum(Buffer.alloc(0), pseudoSum(f.data)), 'the field holds the pseudo-header sum');
  }
});

t.test('with tx checksumming off at the sender, checksums are complete', { ...rootOnly(), skip: rootOnly().skip || noEthtool }, async (t) => {
  const { pair } = setupAB(t);
  await run('ip', ['netns', 'exec', pair.nsB, 'ethtool', '-K', pair.ifB, 'tx', 'off']);
  const a = openLink(pair.ifA, { netns: pair.nsA, filter: arpOrIpv4To(pair.ipA) });
  t.teardown(() => a.close());
  const got = collect(a, (f) => ipProto(f) === 17 && dstPort(f) === 7001);
  await kernelSend(pair, pair.nsB, pair.ipA, 7001, 7002);
  await got.until(1);
  const f = got.frames[0]!;
  t.not(f.csum, 'partial');
  t.ok(f.csum === 'unknown' || f.csum === 'valid', `status ${f.csum}`);
  t.ok(checksumsValid(f.data), 'the checksum is filled in and correct');
});

/** One TCP/IPv4 frame of `payload`, IP checksum filled, TCP checksum holding the
 *  pseudo-header sum (what the kernel expects of a frame it will checksum). */
function tcpSuperFrame(dst: Buffer, src: Buffer, payload: Buffer, seq: number): Buffer {
  const f = Buffer.alloc(14 + 20 + 20 + payload.length);
  dst.copy(f, 0);
  src.copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(40 + payload.length, 16);
  f.writeUInt16BE(1, 18);
  f.writeUInt16BE(0x4000, 20);
  f[22] = 64;
  f[23] = 6;
  Buffer.from([192, 0, 2, 1]).copy(f, 26);
  Buffer.from([192, 0, 2, 2]).copy(f, 30);
  f.writeUInt16BE(checksum(f.subarray(14, 34)), 24);
  f.writeUInt16BE(40000, 34);
  f.writeUInt16BE(9, 36);
  f.writeUInt32BE(seq, 38);
  f.writeUInt32BE(1, 42);
  f[46] = 5 << 4;
  f[47] = 0x18; // ACK PSH
  f.writeUInt16BE(65535, 48);
  payload.copy(f, 54);
  f.writeUInt16BE(refSum(Buffer.alloc(0), pseudoSum(f)), 50);
  return f;
}

function fromUs(f: Buffer): boolean {
  return ipProto(f) === 6 && f.readUInt16BE(34) === 40000;
}

t.test('a GSO frame crosses veth whole, marked GSO and partial', rootOnly(), async (t) => {
  const { pair } = setupAB(t);
  const a = openLink(pair.ifA, { netns: pair.nsA });
  const b = openLink(pair.ifB, { netns: pair.nsB });
  t.teardown(() => (a.close(), b.close()));
  t.equal(a.caps.gso, true);
  const got = collect(b, fromUs);
  const sent = tcpSuperFrame(b.mac, a.mac, randomBytes(30000), 1000);
  t.equal(a.send([{ data: [sent.subarray(0, 54), sent.subarray(54)], gsoSize: 1448 }]), 1);
  await got.until(1);
  t.equal(a.stats().txErrors, 0);
  const f = got.frames[0]!;
  t.equal(f.gso, true);
  t.equal(f.csum, 'partial');
  t.same(f.data, sent, 'byte-exact: the kernel left segmentation to the receiver');
});

t.test('a GSO frame is cut into MSS-sized segments with valid checksums', { ...rootOnly(), skip: rootOnly().skip || noEthtool }, async (t) => {
  const { pair } = setupAB(t);
  // No offloads on our side: the kernel must segment and checksum in software.
  await run('ip', ['netns', 'exec', pair.nsA, 'ethtool', '-K', pair.ifA, 'tx', 'off']);
  const a = openLink(pair.ifA, { netns: pair.nsA });
  const b = openLink(pair.ifB, { netns: pair.nsB });
  t.teardown(() => (a.close(), b.close()));
  const got = collect(b, fromUs);
  const payload = randomBytes(30000);
  const isn = 0xffffff00; // the segments' sequence numbers wrap
  t.equal(a.send([{ data: tcpSuperFrame(b.mac, a.mac, payload, isn), gsoSize: 1448 }]), 1);
  const n = Math.ceil(payload.length / 1448);
  await got.until(n);
  t.equal(got.frames.length, n);
  let bad = 0;
  let expectSeq = isn;
  const parts: Buffer[] = [];
  for (const { data: f, gso } of got.frames) {
    const seg = f.subarray(54);
    if (gso || seg.length > 1448 || !checksumsValid(f) || f.readUInt32BE(38) !== expectSeq) bad++;
    expectSeq = (expectSeq + seg.length) >>> 0;
    parts.push(seg);
  }
  t.equal(bad, 0, 'every segment within the MSS, checksummed, in sequence');
  t.same(Buffer.concat(parts), payload, 'the payload survives');
});

t.test('checksum offload alone fills the TCP checksum', { ...rootOnly(), skip: rootOnly().skip || noEthtool }, async (t) => {
  const { pair } = setupAB(t);
  await run('ip', ['netns', 'exec', pair.nsA, 'ethtool', '-K', pair.ifA, 'tx', 'off']);
  const a = openLink(pair.ifA, { netns: pair.nsA });
  const b = openLink(pair.ifB, { netns: pair.nsB });
  t.teardown(() => (a.close(), b.close()));
  const got = collect(b, fromUs);
  a.send([{ data: tcpSuperFrame(b.mac, a.mac, randomBytes(1001), 5), csumOffload: true }]);
  await got.until(1);
  t.ok(checksumsValid(got.frames[0]!.data));
});
