// HTTP GET over kernel TCP with a receive timeline: the client side of a failover
// experiment. Prints one progress line `progress <bytes>` when --mark bytes have
// arrived (so a driver can kill the primary mid-transfer), then ONE JSON line:
// bytes, sha256, the HTTP status, and every gap between two reads longer than
// --gap-ms, with wall-clock start and end (performance.timeOrigin + now, comparable
// across processes on one host). The client-visible stall of a takeover is the gap
// that spans the kill.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Command } from 'commander';
import { intArg } from './common.js';

const wall = () => performance.timeOrigin + performance.now();

const program = new Command()
  .name('http-get')
  .requiredOption('--url <url>', 'what to GET')
  .option('--mark <bytes>', 'print "progress <bytes>" once this many bytes arrived', intArg(0), 0)
  .option('--gap-ms <ms>', 'report read gaps longer than this', intArg(1), 20)
  .option('--timeout-ms <ms>', 'give up after this long', intArg(1), 600_000)
  .exitOverride();
program.parse(process.argv);
const o = program.opts<{ url: string; mark: number; gapMs: number; timeoutMs: number }>();

const hash = createHash('sha256');
let bytes = 0;
let marked = o.mark === 0;
let last = 0;
const started = wall();
let firstByteAt = 0;
const gaps: Array<{ fromAt: number; toAt: number; ms: number; atByte: number }> = [];

function finish(result: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ client: 'http-get', bytes, sha256: hash.digest('hex'), startedAt: started, firstByteAt, lastByteAt: last, gaps, ...result }) + '\n');
  process.exit(result.ok ? 0 : 1);
}

const timer = setTimeout(() => finish({ ok: false, error: `timed out after ${o.timeoutMs} ms` }), o.timeoutMs);
const req = http.get(o.url, { agent: false }, (res) => {
  res.on('data', (b: Buffer) => {
    const now = wall();
    if (bytes === 0) firstByteAt = now;
    else if (now - last > o.gapMs) gaps.push({ fromAt: last, toAt: now, ms: now - last, atByte: bytes });
    last = now;
    bytes += b.length;
    hash.update(b);
    if (!marked && bytes >= o.mark) {
      marked = true;
      process.stdout.write(`progress ${bytes}\n`);
    }
  });
  res.on('end', () => {
    clearTimeout(timer);
    finish({ ok: res.statusCode === 200 && res.complete, status: res.statusCode });
  });
  res.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.message, code: e.code }));
});
req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.message, code: e.code }));
