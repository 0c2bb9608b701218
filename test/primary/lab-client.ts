// A kernel TCP client for the lab tests, run inside a client namespace:
//   node --import tsx test/primary/lab-client.ts <mode> <host> <port> [bytes] [seed] [connections]
// modes:
//   sink    send `bytes` of the seeded stream, half-close, read "<bytes> <sha256>"
//   echo    send `bytes` of the seeded stream, read them back
//   source  read until EOF, expect `bytes` of the seeded stream
//   many    `connections` concurrent echo exchanges of `bytes` each
// Prints one JSON line {ok, ...figures}; exit code 0 only when every check held.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { seededSha256, seededStream } from '../../shared/stream.js';

const [mode, host = '192.0.2.100', portArg = '0', bytesArg = '0', seedArg = '1', connsArg = '1'] = process.argv.slice(2);
const port = Number(portArg);
const bytes = Number(bytesArg);
const seed = Number(seedArg);
const connections = Number(connsArg);

interface Result {
  ok: boolean;
  [k: string]: unknown;
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Read everything until EOF; hash and count it. */
function drain(s: net.Socket): Promise<{ length: number; sha256: string; text: string }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let length = 0;
    let head = '';
    s.on('data', (b: Buffer) => {
      length += b.length;
      h.update(b);
      if (head.length < 200) head += b.toString('latin1');
    });
    s.once('end', () => resolve({ length, sha256: h.digest('hex'), text: head }));
    s.once('error', reject);
  });
}

async function sink(): Promise<Result> {
  const s = await connect();
  const reply = drain(s);
  await pipeline(seededStream(seed, bytes), s, { end: false });
  s.end();
  const r = await reply;
  const want = `${bytes} ${seededSha256(seed, bytes)}\n`;
  return { ok: r.text === want, reply: r.text.trim(), want: want.trim() };
}

async function echoOnce(n: number, sd: number): Promise<Result> {
  const s = await connect();
  const back = drain(s);
  await pipeline(seededStream(sd, n), s, { end: false });
  s.end();
  const r = await back;
  const want = seededSha256(sd, n);
  return { ok: r.length === n && r.sha256 === want, length: r.length, sha256: r.sha256, want };
}

async function source(): Promise<Result> {
  const s = await connect();
  const r = await drain(s);
  const want = seededSha256(seed, bytes);
  return { ok: r.length === bytes && r.sha256 === want, length: r.length, sha256: r.sha256, want };
}

async function many(): Promise<Result> {
  const results = await Promise.allSettled(Array.from({ length: connections }, (_, i) => echoOnce(bytes, seed + i)));
  const failed = results.filter((r) => r.status === 'rejected' || !r.value.ok);
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
  return { ok: failed.length === 0, connections, completed: connections - failed.length, errors: errors.slice(0, 5) };
}

const started = performance.now();
let result: Result;
try {
  if (mode === 'sink') result = await sink();
  else if (mode === 'echo') result = await echoOnce(bytes, seed);
  else if (mode === 'source') result = await source();
  else if (mode === 'many') result = await many();
  else throw new Error(`unknown mode ${mode}`);
} catch (e) {
  result = { ok: false, error: (e as Error).message, code: (e as NodeJS.ErrnoException).code };
}
const seconds = (performance.now() - started) / 1000;
result.seconds = Number(seconds.toFixed(3));
if (bytes > 0) result.MBps = Number(((bytes * Math.max(1, connections)) / 1e6 / seconds).toFixed(1));
process.stdout.write(JSON.stringify({ mode, ...result }) + '\n');
process.exitCode = result.ok ? 0 : 1;
