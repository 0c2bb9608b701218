// Request/response: K stop-and-wait exchanges on one connection — write S bytes, wait
// for R bytes back, repeat — timing each exchange (the thesis' table 4-2 workload is
// S = R = 1000 against an echo server).
//   node --import tsx scenarios/clients/rr.ts --host 192.0.2.100 --port 7 --exchanges 5000 --request 1000
// The request is the first S bytes of the seeded stream; the reply must be the request
// repeated to R bytes (for an echo, R = S: the request itself), which is what the
// kernel reference server's rr mode sends. Each reply is checked.
// The first --warmup exchanges (default K/10, at most 100) are run but not counted:
// they pay for connection start-up and JIT, not for the stack.
// --pause-ms P waits P ms after each reply before the next request: a sparse client (a
// server's idle stretches between requests), where polling instead of sleeping could
// only burn CPU. Exchanges are timed as always, the pause not included.
// Output (one JSON line): {client, ok, exchanges, warmup, request, reply, verified,
//   mismatches, medianUs, p95Us, p99Us, meanUs, minUs, maxUs, seconds, pauseMs}
//   and with --samples, us: every timed exchange in µs (0.1 µs), in order.
import { baseCommand, connect, intArg, parseArgs, runClient } from './common.js';
import { round, summarize } from '../lib/stats.js';
import { seededChunks } from '../../shared/stream.js';

interface Opts {
  host: string;
  port: number;
  exchanges: number;
  request: number;
  reply?: number;
  warmup?: number;
  seed: number;
  samples?: boolean;
  pauseMs: number;
  timeoutMs: number;
  idleMs: number;
}

const opts = parseArgs<Opts>(
  baseCommand('rr', 'stop-and-wait request/response exchanges, timed one by one')
    .option('--exchanges <k>', 'exchanges to time', intArg(1), 5000)
    .option('--request <bytes>', 'request size', intArg(1, 16 * 1024 * 1024), 1000)
    .option('--reply <bytes>', 'reply size (default: the request size, as from an echo)', intArg(1, 16 * 1024 * 1024))
    .option('--warmup <k>', 'untimed exchanges first (default min(100, K/10))', intArg(0))
    .option('--seed <n>', 'seed of the request bytes', intArg(0, 0xffffffff), 1)
    .option('--samples', 'also print every timed exchange (µs) as `us`')
    .option('--pause-ms <ms>', 'think time after each reply before the next request', intArg(0, 60_000), 0),
);

/** The request repeated (or cut) to `n` bytes. */
function expectedReply(request: Buffer, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let off = 0; off < n; off += request.length) request.copy(out, off, 0, Math.min(request.length, n - off));
  return out;
}

await runClient('rr', opts.timeoutMs, async () => {
  const replySize = opts.reply ?? opts.request;
  const warmup = opts.warmup ?? Math.min(100, Math.floor(opts.exchanges / 10));
  const total = warmup + opts.exchanges;
  const request = Buffer.concat([...seededChunks(opts.seed, opts.request)]);
  const want = expectedReply(request, replySize);

  const s = await connect(opts.host, opts.port, Math.min(opts.timeoutMs, 30_000), opts.idleMs);
  // Stop-and-wait: Nagle would hold nothing back here, but a partial reply must not
  // wait on delayed ACKs either.
  s.setNoDelay(true);
  const got = Buffer.alloc(replySize);
  const us = new Float64Array(opts.exchanges);
  let have = 0;
  let done = 0;
  let mismatches = 0;
  let tStart = 0;
  let tFirstTimed = 0;

  // An event-driven loop, no promise per exchange: the next request leaves from inside
  // the data callback that completed the previous reply, as a C client's loop would.
  await new Promise<void>((resolve, reject) => {
    const send = () => {
      tStart = performance.now();
      if (done === warmup) tFirstTimed = tStart;
      s.write(request);
    };
    s.on('data', (b: Buffer) => {
      if (have + b.length > replySize) {
        reject(new Error(`exchange ${done}: server sent ${have + b.length} bytes, expected ${replySize}`));
        return;
      }
      b.copy(got, have);
      have += b.length;
      if (have < replySize) return;
      const t = performance.now();
      if (done >= warmup) us[done - warmup] = (t - tStart) * 1000;
      if (!got.equals(want)) mismatches++;
      have = 0;
      done++;
      if (done === total) resolve();
      else if (opts.pauseMs > 0) setTimeout(send, opts.pauseMs);
      else send();
    });
    s.once('end', () => reject(new Error(`server closed after ${done} of ${total} exchanges`)));
    s.once('error', reject);
    send();
  });
  const seconds = (performance.now() - tFirstTimed) / 1000;
  s.end();
  s.destroy();

  const sum = summarize(Array.from(us));
  return {
    client: 'rr',
    ok: mismatches === 0,
    host: opts.host,
    port: opts.port,
    exchanges: opts.exchanges,
    warmup,
    request: opts.request,
    reply: replySize,
    verified: mismatches === 0,
    mismatches,
    medianUs: round(sum.median),
    p95Us: round(sum.p95),
    p99Us: round(sum.p99),
    meanUs: round(sum.mean),
    minUs: round(sum.min),
    maxUs: round(sum.max),
    seconds: Math.round(seconds * 1e6) / 1e6,
    pauseMs: opts.pauseMs,
    ...(opts.samples ? { us: Array.from(us, (x) => Math.round(x * 10) / 10) } : {}),
  };
});
