// Bulk send: N bytes of the seeded stream to a sink, half-close, read its receipt
// "<bytes> <sha256hex>\n" until EOF, and check it against what was sent.
//   node --import tsx scenarios/clients/bulk-send.ts --host 192.0.2.100 --port 9 --bytes 1000000000
// The payload is generated and hashed BEFORE connecting (the generator runs at a few
// hundred MB/s and would otherwise be what we measure); the timed part is only the
// transfer: from connected to the receipt's EOF.
// Output (one JSON line): {client, ok, bytes, seed, sha256, reply, verified, connectMs,
//   sendSeconds, seconds, gbps, cpuMs}  (cpuMs: this process's CPU time over `seconds`)
import { createHash } from 'node:crypto';
import { baseCommand, connect, cpuMsSince, gbps, intArg, msSince, parseArgs, runClient } from './common.js';
import { seededChunks } from '../../shared/stream.js';

const opts = parseArgs<{ host: string; port: number; bytes: number; seed: number; timeoutMs: number; idleMs: number }>(
  baseCommand('bulk-send', 'send N bytes of the seeded stream to a sink and check its receipt')
    .requiredOption('--bytes <n>', 'bytes to send', intArg(0))
    .option('--seed <n>', 'seed of the stream', intArg(0, 0xffffffff), 1),
);

await runClient('bulk-send', opts.timeoutMs, async () => {
  const chunks: Buffer[] = [];
  const h = createHash('sha256');
  for (const c of seededChunks(opts.seed, opts.bytes)) {
    chunks.push(c);
    h.update(c);
  }
  const sha256 = h.digest('hex');

  const t0 = performance.now();
  const s = await connect(opts.host, opts.port, Math.min(opts.timeoutMs, 30_000), opts.idleMs);
  const tConnected = performance.now();
  const cpu0 = process.cpuUsage();
  let replyText = '';
  const replied = new Promise<void>((resolve, reject) => {
    s.on('data', (b: Buffer) => {
      if (replyText.length < 1024) replyText += b.toString('latin1');
    });
    s.once('end', resolve);
    s.once('error', reject);
  });
  for (const c of chunks) {
    if (!s.write(c)) {
      await new Promise<void>((resolve, reject) => {
        const onErr = (err: Error) => reject(err);
        s.once('error', onErr);
        s.once('drain', () => {
          s.off('error', onErr);
          resolve();
        });
      });
    }
  }
  await new Promise<void>((resolve) => s.end(resolve));
  const tSent = performance.now();
  await replied;
  const tDone = performance.now();
  const cpuMs = cpuMsSince(cpu0);
  s.destroy();

  const m = /^(\d+) ([0-9a-f]{64})\n?$/.exec(replyText);
  const reply = m ? { bytes: Number(m[1]), sha256: m[2] } : { text: replyText.slice(0, 200) };
  const verified = m !== null && Number(m[1]) === opts.bytes && m[2] === sha256;
  const seconds = (tDone - tConnected) / 1000;
  return {
    client: 'bulk-send',
    ok: verified,
    host: opts.host,
    port: opts.port,
    bytes: opts.bytes,
    seed: opts.seed,
    sha256,
    reply,
    verified,
    connectMs: msSince(t0, tConnected),
    sendSeconds: Math.round(tSent - tConnected) / 1000,
    seconds: Math.round(seconds * 1e6) / 1e6,
    gbps: gbps(opts.bytes, seconds),
    cpuMs,
  };
});
