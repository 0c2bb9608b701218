// Benchmark of the packet addon over a veth pair between two throwaway namespaces.
//
//   npm run bench:native [-- --seconds 2] [-- --json]
//
// Send: this process floods frames through the addon (batched, or one frame per send
// call) at a MAC nobody owns, so the peer kernel drops them at once. Receive: a child
// process floods batches from the peer namespace and this process counts what its
// ring delivers. Over veth the peer's receive path runs on the sender's CPU, so these
// are the costs of the whole path on this machine, not of a NIC.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Command } from 'commander';

import { haveCommand, makeVethPair, type VethPair } from './veth.js';
import { checksum, openLink, type NativeLink } from './index.js';
import type { TxFrame } from '../shared/link.js';

interface Result {
  readonly case: string;
  readonly direction: 'tx' | 'rx';
  readonly frameBytes: number;
  readonly batch: number;
  readonly frames: number;
  readonly seconds: number;
  readonly framesPerSec: number;
  readonly gbitPerSec: number;
  /** rx: frames the sender got out; tx: frames refused (txErrors). */
  readonly sent?: number;
  readonly dropped?: number;
  readonly meanBatch?: number;
  /** rx: the receiving process's CPU use while frames arrived (100 = one core). */
  readonly cpuPercent?: number;
}

const NOBODY = Buffer.from('020000000099', 'hex');
/** The largest GSO frame the kernel passes whole: skb->len (from the Ethernet header
 *  on) must stay below the device's gso_max_size, 65536, or it segments in software.
 *  44 segments of 1448 bytes plus headers: 63,766 bytes. */
const GSO_FRAME = 14 + 20 + 20 + 44 * 1448;

/** A frame of `size` bytes: a test EtherType, or with `tcp` a TCP/IPv4 frame ready for
 *  GSO (pseudo-header sum in the checksum field) to an address nobody owns. */
function makeFrame(dst: Buffer, src: Buffer, size: number, tcp: boolean): Buffer {
  const f = Buffer.alloc(size);
  dst.copy(f, 0);
  src.copy(f, 6);
  if (!tcp) {
    f.writeUInt16BE(0x88b5, 12);
    return f;
  }
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(size - 14, 16);
  f.writeUInt16BE(0x4000, 20);
  f[22] = 64;
  f[23] = 6;
  Buffer.from([192, 0, 2, 1]).copy(f, 26);
  Buffer.from([192, 0, 2, 99]).copy(f, 30);
  f.writeUInt16BE(checksum(f.subarray(14, 34)), 24);
  f.writeUInt16BE(40000, 34);
  f.writeUInt16BE(9, 36);
  f[46] = 5 << 4;
  f[47] = 0x10;
  const l4 = size - 34;
  let pseudo = 0xc000 + 0x0201 + 0xc000 + 0x0263 + 6 + l4;
  while (pseudo > 0xffff) pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
  f.writeUInt16BE(pseudo, 50);
  return f;
}

function frameSet(link: NativeLink, dst: Buffer, size: number, gso: boolean, batch: number): TxFrame[] {
  const f = makeFrame(dst, link.mac, size, gso);
  return Array.from({ length: batch }, () => (gso ? { data: f, gsoSize: 1448 } : { data: f }));
}

/** Sends as fast as one thread can for `seconds`; returns frames and bytes taken. */
function flood(link: NativeLink, frames: TxFrame[], size: number, seconds: number): { frames: number; seconds: number } {
  const start = performance.now();
  const end = start + seconds * 1000;
  let n = 0;
  let now = start;
  while (now < end) {
    n += link.send(frames);
    now = performance.now();
  }
  return { frames: n, seconds: (now - start) / 1000 };
}

function txCase(pair: VethPair, name: string, size: number, gso: boolean, batch: number, seconds: number): Result {
  const link = openLink(pair.ifA, { netns: pair.nsA });
  try {
    const frames = frameSet(link, NOBODY, size, gso, batch);
    flood(link, frames, size, Math.min(0.2, seconds / 5)); // warm up
    const before = link.stats();
    const r = flood(link, frames, size, seconds);
    const after = link.stats();
    const sentFrames = after.txFrames - before.txFrames;
    return {
      case: name,
      direction: 'tx',
      frameBytes: size,
      batch,
      frames: sentFrames,
      seconds: r.seconds,
      framesPerSec: sentFrames / r.seconds,
      gbitPerSec: ((after.txBytes - before.txBytes) * 8) / r.seconds / 1e9,
      dropped: after.txErrors - before.txErrors,
    };
  } finally {
    link.close();
  }
}

const self = fileURLToPath(import.meta.url);

/** Starts a sender in a child process, flooding our link from the peer namespace. */
function startSender(pair: VethPair, dst: Buffer, size: number, gso: boolean, seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', self, '--role', 'sender', '--netns', pair.nsB, '--ifname', pair.ifB, '--dst', dst.toString('hex'),
        '--size', String(size), '--seconds', String(seconds), ...(gso ? ['--gso'] : [])],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, INTACT_LOG_LEVEL: 'silent' } },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Number(JSON.parse(out).sent)) : reject(new Error(`sender exited ${code}`))));
  });
}

async function rxCase(pair: VethPair, name: string, size: number, gso: boolean, seconds: number): Promise<Result> {
  const link = openLink(pair.ifA, { netns: pair.nsA, ringFrames: 1024 });
  try {
    let frames = 0;
    let bytes = 0;
    let first = 0;
    let last = 0;
    let cpu0 = process.cpuUsage();
    let cpu = process.cpuUsage(cpu0);
    link.onFrames((batch) => {
      const now = performance.now();
      if (frames === 0) {
        first = now;
        cpu0 = process.cpuUsage();
      }
      cpu = process.cpuUsage(cpu0);
      last = now;
      frames += batch.length;
      for (const f of batch) bytes += f.data.length;
    });
    const sent = await startSender(pair, link.mac, size, gso, seconds);
    await new Promise((r) => setTimeout(r, 50)); // let the last wake-up drain
    const s = link.stats();
    const secs = Math.max(last - first, 1) / 1000;
    return {
      case: name,
      direction: 'rx',
      frameBytes: size,
      batch: 0,
      frames,
      seconds: secs,
      framesPerSec: frames / secs,
      gbitPerSec: (bytes * 8) / secs / 1e9,
      sent,
      dropped: s.rxDropped,
      meanBatch: s.rxFrames / Math.max(s.wakeups, 1),
      cpuPercent: ((cpu.user + cpu.system) / 1000 / Math.max(last - first, 1)) * 100,
    };
  } finally {
    link.close();
  }
}

interface SenderOptions {
  readonly netns: string;
  readonly ifname: string;
  readonly dst: string;
  readonly size: string;
  readonly seconds: string;
  readonly gso?: boolean;
}

/** The child's side of an rx case: batched flood for `seconds`, then print the count. */
function senderMain(o: SenderOptions): void {
  const link = openLink(o.ifname, { netns: o.netns });
  const size = Number(o.size);
  const frames = frameSet(link, Buffer.from(o.dst, 'hex'), size, o.gso === true, o.gso ? 16 : 64);
  const r = flood(link, frames, size, Number(o.seconds));
  link.close();
  process.stdout.write(JSON.stringify({ sent: r.frames }) + '\n');
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function printTable(results: readonly Result[]): void {
  const rows = [['case', 'dir', 'frame B', 'batch', 'frames/s', 'Gbit/s', 'notes']];
  for (const r of results) {
    const notes =
      r.direction === 'rx'
        ? `sender sent ${fmt(r.sent ?? 0)}, ring drops ${fmt(r.dropped ?? 0)}, ${fmt(r.meanBatch ?? 0, 1)} frames/wake-up, receiver CPU ${fmt(r.cpuPercent ?? 0)}%`
        : r.dropped
          ? `${fmt(r.dropped)} refused`
          : '';
    rows.push([r.case, r.direction, fmt(r.frameBytes), r.batch ? String(r.batch) : '-', fmt(r.framesPerSec), fmt(r.gbitPerSec, 2), notes]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((c, j) => (j >= 2 && j <= 5 ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ').trimEnd());
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

async function main(): Promise<void> {
  const program = new Command()
    .name('bench:native')
    .option('--json', 'print one JSON object instead of a table')
    .option('--seconds <s>', 'duration of each case', '2')
    .option('--role <role>', 'internal: sender')
    .option('--netns <ns>')
    .option('--ifname <name>')
    .option('--dst <mac>')
    .option('--size <bytes>')
    .option('--gso')
    .parse();
  const o = program.opts();
  if (o.role === 'sender') return senderMain(o as SenderOptions);

  const seconds = Number(o.seconds);
  const pair = makeVethPair({ prefix: 'intact-nb', addresses: true });
  const bail = (): never => {
    pair.cleanup();
    process.exit(130);
  };
  process.once('SIGINT', bail);
  process.once('SIGTERM', bail);
  const results: Result[] = [];
  const log = (m: string): void => {
    if (!o.json) process.stderr.write(m + '\n');
  };
  try {
    const tx: [string, number, boolean, number][] = [
      ['tx 64 B, batched', 64, false, 256],
      ['tx 64 B, one per call', 64, false, 1],
      ['tx 1514 B, batched', 1514, false, 256],
      ['tx 1514 B, one per call', 1514, false, 1],
      ['tx 62 KB GSO, batched', GSO_FRAME, true, 16],
      ['tx 62 KB GSO, one per call', GSO_FRAME, true, 1],
    ];
    for (const [name, size, gso, batch] of tx) {
      log(`running ${name}...`);
      results.push(txCase(pair, name, size, gso, batch, seconds));
    }
    if (haveCommand('ethtool')) {
      // Our side without offloads: the kernel segments and checksums in software, the
      // path a NIC without TSO takes (still one syscall per 64 KB).
      pair.exec(pair.nsA, 'ethtool', ['-K', pair.ifA, 'tx', 'off']);
      log('running tx 62 KB GSO, software segmentation...');
      results.push(txCase(pair, 'tx 62 KB GSO, sw segmentation, batched', GSO_FRAME, true, 16, seconds));
      pair.exec(pair.nsA, 'ethtool', ['-K', pair.ifA, 'tx', 'on']);
    }
    const rx: [string, number, boolean][] = [
      ['rx 64 B', 64, false],
      ['rx 1514 B', 1514, false],
      ['rx 62 KB GSO', GSO_FRAME, true],
    ];
    for (const [name, size, gso] of rx) {
      log(`running ${name}...`);
      results.push(await rxCase(pair, name, size, gso, seconds));
    }
  } finally {
    pair.cleanup();
  }
  if (o.json) {
    console.log(JSON.stringify({ bench: 'native', node: process.version, secondsPerCase: seconds, results }));
  } else {
    printTable(results);
  }
}

await main();
