// The kernel TCP client of the kill tests, run in a client namespace:
//   node --import tsx test/failover/lib/client.ts upload --port 9 --bytes N --seed S --mark M
//   node --import tsx test/failover/lib/client.ts kv --port 4000 --commands K --window W --mark M [--pause-at P]
//   node --import tsx test/failover/lib/client.ts many --port 4000 --connections 1000
// It prints the line "MARK" the moment it reaches the kill point (upload: M bytes handed
// to the socket, M >= N meaning after the half-close; kv: just before command M is
// written; many: every connection open and one exchange done, after which it waits for
// SIGUSR1 to do the second exchange; kv with --pause-at P: every reply up to command P
// in, it prints "PAUSE" and waits for SIGUSR1), so the test kills the primary at a position in
// the workload rather than at a time. Then exactly one JSON line {ok, ...}; exit 0 only
// when ok.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { seededChunks } from '../../../shared/stream.js';
import { expectedReplies, kvCommand } from './kv-model.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string', default: '192.0.2.100' },
    port: { type: 'string' },
    bytes: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    mark: { type: 'string', default: '-1' },
    'pause-at': { type: 'string', default: '-1' },
    commands: { type: 'string', default: '1000' },
    window: { type: 'string', default: '16' },
    connections: { type: 'string', default: '1000' },
    parallel: { type: 'string', default: '100' },
    'timeout-ms': { type: 'string', default: '60000' },
    'idle-ms': { type: 'string', default: '20000' },
  },
});
const mode = positionals[0];
const host = values.host!;
const port = Number(values.port);
const mark = Number(values.mark);
const idleMs = Number(values['idle-ms']);

interface Result {
  ok: boolean;
  [k: string]: unknown;
}

let marked = false;
let markedAt = 0;
function printMark(): void {
  if (marked) return;
  marked = true;
  markedAt = performance.now();
  // Pipes are written synchronously on Linux: the test reads this before we go on.
  process.stdout.write('MARK\n');
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.off('error', reject);
      s.setNoDelay(true);
      s.setTimeout(idleMs, () => s.destroy(Object.assign(new Error(`no progress for ${idleMs} ms`), { code: 'ETIMEDOUT' })));
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Largest pause between two arrivals of data, in ms, and when it ended relative to MARK. */
class GapMeter {
  last = 0;
  maxGapMs = 0;
  maxGapEndSinceMarkMs: number | undefined;
  tick(): void {
    const now = performance.now();
    if (this.last && now - this.last > this.maxGapMs) {
      this.maxGapMs = now - this.last;
      this.maxGapEndSinceMarkMs = marked ? Math.round((now - markedAt) * 1000) / 1000 : undefined;
    }
    this.last = now;
  }
  report(): { maxGapMs: number; maxGapEndSinceMarkMs?: number } {
    return { maxGapMs: Math.round(this.maxGapMs * 1000) / 1000, ...(this.maxGapEndSinceMarkMs !== undefined ? { maxGapEndSinceMarkMs: this.maxGapEndSinceMarkMs } : {}) };
  }
}

async function upload(): Promise<Result> {
  const bytes = Number(values.bytes);
  const seed = Number(values.seed);
  const chunks = [...seededChunks(seed, bytes)];
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  const sha256 = h.digest('hex');

  const s = await connect();
  let reply = '';
  const replied = new Promise<void>((resolve, reject) => {
    s.on('data', (b: Buffer) => {
      if (reply.length < 1024) reply += b.toString('latin1');
    });
    s.once('end', resolve);
    s.once('error', reject);
  });
  let written = 0;
  for (const c of chunks) {
    if (written >= mark && mark >= 0) printMark();
    written += c.length;
    if (!s.write(c)) {
      await new Promise<void>((resolve, reject) => {
        const onErr = (e: Error) => reject(e);
        s.once('error', onErr);
        s.once('drain', () => {
          s.off('error', onErr);
          resolve();
        });
      });
    }
  }
  s.end();
  if (mark >= 0) printMark();
  await replied;
  s.destroy();
  const want = `${bytes} ${sha256}\n`;
  return { ok: reply === want, reply: reply.trim().slice(0, 200), want: want.trim() };
}

async function kv(): Promise<Result> {
  const total = Number(values.commands);
  const window = Number(values.window);
  const expected = expectedReplies(total);
  const s = await connect();
  const gaps = new GapMeter();
  let sent = 0;
  let received = 0;
  let partial = '';
  let firstBad: { index: number; command: string; got: string; want: string } | undefined;
  let extra = '';

  const pauseAt = Number(values['pause-at']);
  let paused = false;
  const fill = () => {
    let out = '';
    if (sent === pauseAt && !paused) {
      if (received < sent) return;
      paused = true;
      process.once('SIGUSR1', fill);
      process.stdout.write('PAUSE\n');
      return;
    }
    while (sent < total && sent < received + window) {
      if (sent === pauseAt && !paused) break;
      if (sent === mark) {
        if (out) s.write(out);
        out = '';
        printMark();
      }
      out += kvCommand(sent).line + '\n';
      sent++;
    }
    if (out) s.write(out);
    if (sent === total && received === total) s.end();
  };

  await new Promise<void>((resolve, reject) => {
    s.on('data', (b: Buffer) => {
      gaps.tick();
      const lines = (partial + b.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const got of lines) {
        if (received >= total) {
          extra += got + '\n';
          continue;
        }
        const want = expected[received]!;
        if (got !== want && !firstBad) firstBad = { index: received, command: kvCommand(received).line, got, want };
        received++;
      }
      if (firstBad) {
        s.destroy();
        resolve();
        return;
      }
      fill();
    });
    s.once('end', () => {
      if (partial) extra += partial;
      resolve();
    });
    s.once('error', reject);
    if (mark === 0) printMark();
    fill();
  });
  s.destroy();
  const ok = !firstBad && received === total && extra === '';
  return {
    ok,
    commands: total,
    sent,
    received,
    ...(firstBad ? { firstBad } : {}),
    ...(extra ? { extra: extra.slice(0, 200) } : {}),
    ...gaps.report(),
  };
}

/** One line out, one line back, checked. */
function exchange(s: net.Socket, line: string, want: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (b: Buffer) => {
      got += b.toString('utf8');
      if (!got.endsWith('\n')) return;
      cleanup();
      if (got === want + '\n') resolve();
      else reject(new Error(`sent ${JSON.stringify(line)}, got ${JSON.stringify(got.slice(0, 100))}, want ${JSON.stringify(want)}`));
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`EOF after ${JSON.stringify(got)}`));
    };
    const onErr = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onErr);
    };
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('error', onErr);
    s.write(line + '\n');
  });
}

async function many(): Promise<Result> {
  const n = Number(values.connections);
  const parallel = Number(values.parallel);
  const sockets: net.Socket[] = [];
  const errors: string[] = [];
  const tOpen = performance.now();
  // Opened in waves: a SYN burst of a thousand would measure SYN queues, not failover.
  for (let i = 0; i < n; i += parallel) {
    const wave = await Promise.allSettled(
      Array.from({ length: Math.min(parallel, n - i) }, async () => {
        const s = await connect();
        s.on('error', () => undefined);
        sockets.push(s);
        await exchange(s, 'INCR c', '1');
      }),
    );
    for (const r of wave) if (r.status === 'rejected') errors.push(`open: ${(r.reason as Error).message}`);
  }
  const openMs = performance.now() - tOpen;
  if (errors.length) {
    for (const s of sockets) s.destroy();
    return { ok: false, phase: 'open', opened: sockets.length, errors: errors.slice(0, 5), errorCount: errors.length };
  }
  const go = new Promise<void>((resolve) => process.once('SIGUSR1', () => resolve()));
  printMark();
  await go;
  const tGo = performance.now();
  const doneMs: number[] = [];
  const second = await Promise.allSettled(
    sockets.map(async (s, i) => {
      await exchange(s, `SET k${i} v${i}`, 'OK');
      await exchange(s, 'INCR c', '2');
      doneMs.push(performance.now() - tGo);
      await new Promise<void>((resolve, reject) => {
        s.once('end', resolve);
        s.once('error', reject);
        s.on('data', (b: Buffer) => reject(new Error(`extra data ${JSON.stringify(b.toString().slice(0, 50))}`)));
        s.end();
      });
    }),
  );
  for (const r of second) if (r.status === 'rejected') errors.push((r.reason as Error).message);
  for (const s of sockets) s.destroy();
  doneMs.sort((a, b) => a - b);
  const q = (p: number) => Math.round((doneMs[Math.min(doneMs.length - 1, Math.floor(p * doneMs.length))] ?? NaN) * 10) / 10;
  return {
    ok: errors.length === 0,
    connections: n,
    survived: n - errors.length,
    openMs: Math.round(openMs),
    afterGoMs: { median: q(0.5), p99: q(0.99), max: q(1) },
    ...(errors.length ? { errors: errors.slice(0, 5), errorCount: errors.length } : {}),
  };
}

const timeoutMs = Number(values['timeout-ms']);
const watchdog = new Promise<Result>((resolve) =>
  setTimeout(() => resolve({ ok: false, error: `no result after ${timeoutMs} ms` }), timeoutMs).unref(),
);
let result: Result;
try {
  const body = mode === 'upload' ? upload() : mode === 'kv' ? kv() : mode === 'many' ? many() : Promise.reject(new Error(`unknown mode ${mode}`));
  result = await Promise.race([body, watchdog]);
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  result = { ok: false, error: err.message, ...(err.code ? { code: err.code } : {}) };
}
process.stdout.write(JSON.stringify({ mode, marked, ...result }) + '\n', () => process.exit(result.ok ? 0 : 1));
