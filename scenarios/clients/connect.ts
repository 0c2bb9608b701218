// Connection setup: G groups of N connection requests (the thesis' table 4-1: 10 groups
// of 40), each connect() timed from the call to its 'connect' event (the handshake as
// the client sees it). --issue parallel (default) issues a group's N requests at once:
// the server's queues are exercised, and the client's own event loop delivers N
// 'connect' events one after another, so the figure includes that queueing. --issue
// serial issues the next request once the previous one connected: the handshake alone.
// A group's connections stay open until the group ends, then are closed (FIN) and gone
// before the next group starts. No data is sent.
//   node --import tsx scenarios/clients/connect.ts --host 192.0.2.100 --port 7 --groups 10 --per-group 40
// Output (one JSON line): {client, ok, groups, perGroup, issue, connections, failed, verified,
//   meanUs, medianUs, p95Us, maxUs, us: [every connect time, µs, group by group], errors}
// `ok` only when every connection was established.
import net from 'node:net';
import { baseCommand, intArg, parseArgs, runClient } from './common.js';
import { round, summarize } from '../lib/stats.js';

interface Opts {
  host: string;
  port: number;
  groups: number;
  perGroup: number;
  issue: string;
  connectTimeoutMs: number;
  timeoutMs: number;
}

const opts = parseArgs<Opts>(
  baseCommand('connect', 'time connection establishment, in groups of simultaneous requests')
    .option('--groups <g>', 'groups', intArg(1), 10)
    .option('--per-group <n>', 'connection requests per group', intArg(1, 10_000), 40)
    .option('--issue <how>', 'parallel (a group at once) or serial (one after another)', 'parallel')
    // Long enough for SYN retransmissions (1 s, 3 s, ...): a dropped SYN is a figure, not a failure.
    .option('--connect-timeout-ms <ms>', 'one connection fails after this long', intArg(1), 15_000),
);

interface Attempt {
  us: number;
  socket?: net.Socket;
  error?: string;
}

function attempt(host: string, port: number, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ us: (performance.now() - t0) * 1000, error: `timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    s.once('connect', () => {
      const us = (performance.now() - t0) * 1000;
      clearTimeout(timer);
      s.off('error', onError);
      // The server may close first when we are slow; nothing to report then.
      s.on('error', () => {});
      resolve({ us, socket: s });
    });
    const onError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ us: (performance.now() - t0) * 1000, error: err.code ?? err.message });
    };
    s.once('error', onError);
  });
}

function closeAll(sockets: net.Socket[], timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    let left = sockets.length;
    if (left === 0) return resolve();
    const timer = setTimeout(() => {
      for (const s of sockets) s.destroy();
      resolve();
    }, timeoutMs);
    for (const s of sockets) {
      s.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      s.resume();
      s.end();
    }
  });
}

if (opts.issue !== 'parallel' && opts.issue !== 'serial') {
  process.stdout.write(JSON.stringify({ client: 'connect', ok: false, error: '--issue must be parallel or serial', code: 'EUSAGE' }) + '\n');
  process.exit(2);
}

async function group(): Promise<Attempt[]> {
  const one = () => attempt(opts.host, opts.port, opts.connectTimeoutMs);
  if (opts.issue === 'parallel') return Promise.all(Array.from({ length: opts.perGroup }, one));
  const out: Attempt[] = [];
  for (let i = 0; i < opts.perGroup; i++) out.push(await one());
  return out;
}

await runClient('connect', opts.timeoutMs, async () => {
  const us: number[] = [];
  const errors: string[] = [];
  let failed = 0;
  for (let g = 0; g < opts.groups; g++) {
    const results = await group();
    const open: net.Socket[] = [];
    for (const r of results) {
      if (r.socket) {
        us.push(Math.round(r.us * 10) / 10);
        open.push(r.socket);
      } else {
        failed++;
        if (errors.length < 10) errors.push(`group ${g}: ${r.error}`);
      }
    }
    await closeAll(open, 5000);
  }
  const sum = summarize(us);
  return {
    client: 'connect',
    ok: failed === 0,
    host: opts.host,
    port: opts.port,
    groups: opts.groups,
    perGroup: opts.perGroup,
    issue: opts.issue,
    connections: us.length,
    failed,
    verified: failed === 0,
    meanUs: round(sum.mean),
    medianUs: round(sum.median),
    p95Us: round(sum.p95),
    maxUs: round(sum.max),
    us,
    errors,
  };
});
