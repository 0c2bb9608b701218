// The client of the takeover scenarios (scenarios/apps/pending.ts on the server side).
//   node --import tsx scenarios/clients/pending-probe.ts --host 192.0.2.100 --port 5001 \
//        --connections 100 --pending 10000 --kill-file /tmp/x/killed
// 1. opens --connections connections and sends each "hold <N>\n" + N bytes; once every
//    one has read "held" (so the backup holds all of it) it prints "held <n> <ms>";
// 2. probes the first connection (the witness) stop-and-wait, one byte each, a probe
//    every --interval-ms, recording when each reply arrives;
// 3. when the kill file appears (the scenario writes the kill instant into it, a wall
//    clock in ms) every other connection sends one probe too; the witness goes on until
//    the file <kill file>.takeover appears (the backup has taken over) and --after
//    replies have arrived after that: a SIGKILL can land late on a loaded machine, so
//    "after the kill" alone could end the probing before the outage;
// 4. every connection half-closes and checks the app's receipt (bytes and sha256 of all
//    it sent), then one JSON line.
// stallMs = the longest gap between two witness replies that ends after the kill: the
// last byte from the primary to the first byte from the backup, seen at the client.
// Our own connect (not common.ts's): 10,000 connections take longer to open than any
// idle timeout that suits a single one.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { baseCommand, intArg, parseArgs, runClient } from './common.js';
import { seededChunks } from '../../shared/stream.js';

const opts = parseArgs<{
  host: string; port: number; connections: number; pending: number; concurrency: number;
  killFile: string; intervalMs: number; after: number; seed: number; timeoutMs: number;
}>(
  baseCommand('pending-probe', 'hold N pending bytes on each of C connections, probe across a kill, verify receipts')
    .option('--connections <n>', 'connections to open', intArg(1, 60_000), 1)
    .option('--pending <bytes>', 'bytes each connection leaves pending at the server', intArg(0), 0)
    .option('--concurrency <n>', 'connections set up at once', intArg(1), 200)
    .requiredOption('--kill-file <path>', 'appears (holding the kill instant, ms) when the primary is killed')
    .option('--interval-ms <ms>', 'pause between witness probes', intArg(0), 1)
    .option('--after <n>', 'witness replies to see after the kill before finishing', intArg(1), 5)
    .option('--seed <n>', 'seed of the pending bytes', intArg(0, 0xffffffff), 5),
);

const wall = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One connection with a byte queue: read exactly what we wait for, in order. */
class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private failed: Error | undefined;
  private ended = false;
  sent = 0;
  probes = 0;
  constructor(readonly s: net.Socket) {
    s.setNoDelay(true);
    s.on('data', (b: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, b]) : b;
      this.wake();
    });
    s.on('end', () => {
      this.ended = true;
      this.wake();
    });
    s.on('error', (e) => {
      this.failed = e;
      this.wake();
    });
  }
  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
  /** Resolves with exactly n bytes (or everything up to EOF when n is Infinity). */
  async read(n: number): Promise<Buffer> {
    for (;;) {
      if (this.buf.length >= n) {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      }
      if (this.failed) throw this.failed;
      if (this.ended) {
        if (n === Infinity) return this.buf;
        throw new Error(`connection ended after ${this.buf.length} of ${n} bytes`);
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
  write(b: Buffer | string): void {
    this.sent += typeof b === 'string' ? Buffer.byteLength(b) : b.length;
    this.s.write(b);
  }
  /** One probe; resolves with the wall-clock instant its reply arrived. */
  async probe(): Promise<number> {
    this.write('p');
    this.probes++;
    const r = await this.read(1);
    if (r[0] !== 0x50) throw new Error(`probe reply ${r[0]} is not "P"`);
    return wall();
  }
}

function connect(host: string, port: number, timeoutMs: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', reject);
      resolve(new Conn(s));
    });
    s.once('error', reject);
  });
}

/** Runs fn over items with at most `limit` in flight. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

await runClient('pending-probe', opts.timeoutMs, async () => {
  const payload = Buffer.concat([...seededChunks(opts.seed, opts.pending)]);
  const header = `hold ${opts.pending}\n`;
  const t0 = performance.now();
  const idx = Array.from({ length: opts.connections }, (_, i) => i);
  const conns = await pool(idx, opts.concurrency, async () => {
    const c = await connect(opts.host, opts.port, 30_000);
    c.write(header);
    if (payload.length) c.write(payload);
    const r = await c.read(5);
    if (r.toString('latin1') !== 'held\n') throw new Error(`expected "held", got ${JSON.stringify(r.toString('latin1'))}`);
    return c;
  });
  const setupMs = performance.now() - t0;
  process.stdout.write(`held ${conns.length} ${setupMs.toFixed(1)}\n`);

  // The kill file, polled apart from the witness: the witness is blocked in a probe
  // during the outage, the others must probe from the moment of the kill.
  let killAt: number | undefined;
  const others: Array<Promise<number>> = [];
  const killSeen = new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (!existsSync(opts.killFile)) return;
      const text = readFileSync(opts.killFile, 'utf8').trim();
      if (!text) return;
      clearInterval(poll);
      killAt = Number(text);
      for (const c of conns.slice(1)) others.push(c.probe());
      resolve();
    }, 1);
  });

  const witness = conns[0]!;
  const arrivals: number[] = [];
  const takeoverFile = `${opts.killFile}.takeover`;
  let afterTakeover = 0;
  while (afterTakeover < opts.after) {
    arrivals.push(await witness.probe());
    // The scenario kills only after this: the stall needs a reply from the primary.
    if (arrivals.length === 1) process.stdout.write('probing\n');
    if (afterTakeover > 0 || (killAt !== undefined && existsSync(takeoverFile))) afterTakeover++;
    if (opts.intervalMs) await sleep(opts.intervalMs);
  }
  await killSeen;
  const othersAt = await Promise.all(others);

  // Measured only when the witness had a reply before the kill: a client held up (a
  // loaded machine) that probes first after the kill saw no "last byte from the primary".
  const measured = arrivals[0]! <= killAt!;
  let stallMs = measured ? 0 : NaN;
  let lastFromPrimaryAt = NaN;
  let firstFromBackupAt = NaN;
  for (let i = 1; measured && i < arrivals.length; i++) {
    const gap = arrivals[i]! - arrivals[i - 1]!;
    if (arrivals[i]! > killAt! && gap > stallMs) {
      stallMs = gap;
      lastFromPrimaryAt = arrivals[i - 1]!;
      firstFromBackupAt = arrivals[i]!;
    }
  }
  const recovered = othersAt.map((at) => at - killAt!).sort((a, b) => a - b);

  // Receipts: everything each connection sent, counted and hashed by the app.
  const payloadHash = createHash('sha256').update(header).update(payload);
  let verifiedConnections = 0;
  const failures: string[] = [];
  await pool(conns, opts.concurrency, async (c) => {
    c.s.end();
    const receipt = (await c.read(Infinity)).toString('latin1').trim();
    const h = payloadHash.copy().update(Buffer.alloc(c.probes, 0x70)).digest('hex');
    const expect = `${c.sent} ${h}`;
    if (receipt === expect) verifiedConnections++;
    else if (failures.length < 5) failures.push(`receipt ${JSON.stringify(receipt.slice(0, 90))}, expected ${expect}`);
    c.s.destroy();
  });
  const verified = verifiedConnections === conns.length;
  return {
    client: 'pending-probe',
    ok: verified,
    ...(verified ? {} : { error: `receipts wrong on ${conns.length - verifiedConnections} connection(s): ${failures.join('; ')}` }),
    connections: conns.length,
    pendingBytes: opts.pending,
    verified,
    verifiedConnections,
    setupMs,
    killAt,
    stallMs,
    stallMeasured: measured,
    lastFromPrimaryAt,
    firstFromBackupAt,
    witnessProbes: witness.probes,
    recoveredMedianMs: recovered.length ? recovered[Math.floor(recovered.length / 2)] : arrivals.find((a) => a > killAt!)! - killAt!,
    recoveredMaxMs: recovered.length ? recovered[recovered.length - 1] : arrivals.find((a) => a > killAt!)! - killAt!,
  };
});
