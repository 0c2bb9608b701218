// Bulk receive: connect to a source, read until EOF, and check the bytes against the
// seeded stream (--bytes, --seed: what the source was told to send).
//   node --import tsx scenarios/clients/bulk-recv.ts --host 192.0.2.100 --port 19 --bytes 1000000000
// What arrives is kept in memory and hashed only after EOF, so the timed part measures
// the transfer, not sha256 in the receive path.
// Output (one JSON line): {client, ok, bytes, expectedBytes, sha256, expectedSha256,
//   verified, connectMs, firstByteMs, lastByteMs, seconds, gbps, cpuMs}
//   *Ms are from the moment connect() returned; seconds = connected → EOF; cpuMs = this
//   process's CPU time over those seconds (the hash after EOF not included).
//   gaps: every pause between two reads longer than --gap-ms, with wall-clock ends
//   (performance.timeOrigin + now, comparable across processes on one host) and the
//   byte count before it: a takeover's client-visible stall is the gap spanning the kill.
// --mark N prints a line `progress <bytes>` once N bytes have arrived, before the JSON
// line, so a driver can kill the primary at a byte offset of the transfer.
import { createHash } from 'node:crypto';
import { baseCommand, connect, cpuMsSince, gbps, intArg, msSince, parseArgs, runClient } from './common.js';
import { seededSha256 } from '../../shared/stream.js';

const opts = parseArgs<{ host: string; port: number; bytes: number; seed: number; timeoutMs: number; idleMs: number; mark?: number; gapMs: number }>(
  baseCommand('bulk-recv', 'read a source until EOF and check the seeded stream')
    .requiredOption('--bytes <n>', 'bytes the source sends', intArg(0))
    .option('--seed <n>', 'seed of the stream', intArg(0, 0xffffffff), 1)
    .option('--mark <bytes>', 'print "progress <bytes>" once this many bytes arrived', intArg(0))
    .option('--gap-ms <ms>', 'report pauses between reads longer than this', intArg(1), 20),
);

await runClient('bulk-recv', opts.timeoutMs, async () => {
  const t0 = performance.now();
  const s = await connect(opts.host, opts.port, Math.min(opts.timeoutMs, 30_000), opts.idleMs);
  const tConnected = performance.now();
  const cpu0 = process.cpuUsage();
  const chunks: Buffer[] = [];
  let length = 0;
  let tFirst = NaN;
  let tLast = NaN;
  let marked = opts.mark === undefined;
  const gaps: Array<{ fromAt: number; toAt: number; ms: number; atByte: number }> = [];
  await new Promise<void>((resolve, reject) => {
    s.on('data', (b: Buffer) => {
      const now = performance.now();
      if (length === 0) tFirst = now;
      else if (now - tLast > opts.gapMs) {
        const at = performance.timeOrigin;
        gaps.push({ fromAt: at + tLast, toAt: at + now, ms: Math.round((now - tLast) * 1000) / 1000, atByte: length });
      }
      tLast = now;
      length += b.length;
      chunks.push(b);
      if (!marked && length >= opts.mark!) {
        marked = true;
        process.stdout.write(`progress ${length}\n`);
      }
    });
    s.once('end', resolve);
    s.once('error', reject);
  });
  const tEof = performance.now();
  const cpuMs = cpuMsSince(cpu0);
  s.end();
  s.destroy();

  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  const sha256 = h.digest('hex');
  const expectedSha256 = seededSha256(opts.seed, opts.bytes);
  const verified = length === opts.bytes && sha256 === expectedSha256;
  const seconds = (tEof - tConnected) / 1000;
  return {
    client: 'bulk-recv',
    ok: verified,
    host: opts.host,
    port: opts.port,
    bytes: length,
    expectedBytes: opts.bytes,
    seed: opts.seed,
    sha256,
    expectedSha256,
    verified,
    connectMs: msSince(t0, tConnected),
    firstByteMs: length ? msSince(tConnected, tFirst) : null,
    lastByteMs: length ? msSince(tConnected, tLast) : null,
    seconds: Math.round(seconds * 1e6) / 1e6,
    gbps: gbps(length, seconds),
    cpuMs,
    gaps,
  };
});
