// Throughput of the wire layer and the host's per-frame work, printed as figures (not
// a test: no thresholds). Run: INTACT_LOG_LEVEL=silent npx tsx test/wire/bench.ts
import { randomBytes } from 'node:crypto';
import { internetChecksum } from '../../shared/wire/checksum.js';
import { parseEthernet } from '../../shared/wire/ethernet.js';
import { parseIpv4 } from '../../shared/wire/ipv4.js';
import { parseTcp } from '../../shared/wire/tcp.js';
import { verifyTcpChecksum } from '../../shared/wire/checksum.js';
import { buildTcpFrames, type FrameContext } from '../../primary/frames.js';
import { ACK, type Datagram } from '../../shared/tcp/segment.js';
import { makeHost } from '../host/fakes.js';
import type { RxFrame } from '../../shared/link.js';

function bench(name: string, unit: string, perOp: number, fn: () => void): void {
  for (let i = 0; i < 2000; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < 500) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    t1 = performance.now();
  }
  const perSec = (n * perOp) / ((t1 - t0) / 1000);
  console.log(`${name.padEnd(48)} ${perSec.toExponential(3)} ${unit}/s   (${(((t1 - t0) / n) * 1e3).toFixed(2)} µs/op)`);
}

const big = randomBytes(65536);
const mss = randomBytes(1448);
bench('internetChecksum 64 KiB', 'MB', 65536 / 1e6, () => internetChecksum(big));
bench('internetChecksum 1448 B', 'MB', 1448 / 1e6, () => internetChecksum(mss));

const ctx = (csumOffload: boolean): FrameContext => ({
  srcMac: Buffer.alloc(6, 2), caps: { gso: false, csumOffload }, mtu: 1500, nextIpId: () => 0,
});
const d: Datagram = {
  src: 0xc0000264, dst: 0xc000020a,
  seg: { srcPort: 8080, dstPort: 40000, seq: 1, ack: 1, flags: ACK, window: 500, options: { ts: { val: 1, ecr: 2 } }, payload: mss },
};
bench('buildTcpFrames 1448 B, full checksum in TS', 'frames', 1, () => buildTcpFrames(d, ctx(false)));
bench('buildTcpFrames 1448 B, partial checksum', 'frames', 1, () => buildTcpFrames(d, ctx(true)));
const big64: Datagram = { ...d, seg: { ...d.seg, payload: randomBytes(64000), gsoSize: 1448 } };
bench('buildTcpFrames 64000 B as GSO, partial checksum', 'MB', 0.064, () => buildTcpFrames(big64, { ...ctx(true), caps: { gso: true, csumOffload: true } }));

const frame = Buffer.concat(buildTcpFrames(d, ctx(false))[0]!.frame.data as Buffer[]);
bench('parse Ethernet+IPv4+TCP, verify checksum, 1514 B', 'frames', 1, () => {
  const e = parseEthernet(frame);
  if ('reason' in e) throw new Error();
  const ip = parseIpv4(e.payload);
  if ('reason' in ip) throw new Error();
  if (!verifyTcpChecksum(ip.src, ip.dst, ip.payload)) throw new Error('csum');
  parseTcp(ip.payload);
});

// The whole host receive pass: 64-frame batches into a stack that keeps nothing.
const { link } = makeHost();
frame.copy(frame, 0, 6, 12); // dst MAC must be the host's
Buffer.from('eae290fdb35e', 'hex').copy(frame, 0);
frame.writeUInt32BE(0xc000020a, 26);
frame.writeUInt32BE(0xc0000264, 30);
const rx: RxFrame[] = Array.from({ length: 64 }, () => ({ data: frame, csum: 'partial', gso: false }));
bench('VipHost receive, batches of 64 (csum partial)', 'frames', 64, () => link.deliver(rx));
const rxU: RxFrame[] = rx.map((f) => ({ ...f, csum: 'unknown' }));
bench('VipHost receive, batches of 64 (csum verified)', 'frames', 64, () => link.deliver(rxU));
