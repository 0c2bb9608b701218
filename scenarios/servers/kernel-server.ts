// The kernel TCP reference: Node's own `net` on the namespace's kernel stack, speaking
// the same protocols — and doing the same work — as intact's built-in apps, so that one
// client measures both stacks on the same lab path (run it in the primary namespace on
// the primary's kernel address, 192.0.2.1).
//   node --import tsx scenarios/servers/kernel-server.ts <mode> --host 192.0.2.1 [--port N]
// modes (default ports as intact's apps):
//   sink   (9)  count and sha256 what arrives; after the client's FIN reply
//               "<bytes> <sha256hex>\n" and close (primary/apps/sink.ts). It hashes
//               with hash-wasm as the app does (the app needs a hash state it can
//               checkpoint; hash-wasm runs at ~330 MB/s here, OpenSSL at ~1.8 GB/s):
//               --hash crypto uses node:crypto instead, to see the kernel unhindered.
//   source (19) send --bytes of the seeded stream --seed, generated as it goes, then
//               close (primary/apps/source.ts)
//   echo   (7)  write back what is read (primary/apps/echo.ts)
//   rr     (7)  for every --request bytes read, reply --reply bytes: the request
//               repeated to that length (for --reply = --request, an echo)
// --backlog N passes N to listen() (the setup scenario compares 0 and 50).
// Prints "listening <mode> on <host>:<port>" when ready; exits 0 on SIGTERM/SIGINT.
import { createHash } from 'node:crypto';
import { createSHA256 } from 'hash-wasm';
import net from 'node:net';
import { pipeline } from 'node:stream';
import { Command, InvalidArgumentError } from 'commander';
import { seededStream } from '../../shared/stream.js';

type Mode = 'sink' | 'source' | 'echo' | 'rr';
const DEFAULT_PORT: Record<Mode, number> = { sink: 9, source: 19, echo: 7, rr: 7 };

function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

const program = new Command()
  .name('kernel-server')
  .argument('<mode>', 'sink | source | echo | rr')
  .option('--host <addr>', 'address to listen on', '0.0.0.0')
  .option('--port <n>', 'port (default: the matching intact app\'s)', intArg(1, 65535))
  .option('--bytes <n>', 'source: bytes to send', intArg(0), 1 << 20)
  .option('--seed <n>', 'source: seed of the stream', intArg(0, 0xffffffff), 1)
  .option('--request <n>', 'rr: request size', intArg(1), 1000)
  .option('--reply <n>', 'rr: reply size (default: the request size)', intArg(1))
  .option('--hash <impl>', 'sink: sha256 implementation, wasm (as intact\'s sink app) or crypto', 'wasm')
  .option('--backlog <n>', 'listen() backlog (default: Node\'s, 511)', intArg(0, 65535))
  .parse();

const mode = program.args[0] as Mode;
if (!(mode in DEFAULT_PORT)) {
  process.stderr.write(`kernel-server: unknown mode ${JSON.stringify(mode)} (sink, source, echo, rr)\n`);
  process.exit(2);
}
const o = program.opts<{ host: string; port?: number; bytes: number; seed: number; request: number; reply?: number; hash: string; backlog?: number }>();
if (o.hash !== 'wasm' && o.hash !== 'crypto') {
  process.stderr.write(`kernel-server: --hash must be wasm or crypto\n`);
  process.exit(2);
}
const port = o.port ?? DEFAULT_PORT[mode];

interface Sha256 {
  update(b: Buffer): unknown;
  digest(enc: 'hex'): string;
}

async function sink(socket: net.Socket): Promise<void> {
  // Paused until the hasher exists: no byte may pass unhashed.
  socket.pause();
  let hash: Sha256;
  if (o.hash === 'wasm') {
    const h = await createSHA256();
    h.init();
    hash = h;
  } else {
    hash = createHash('sha256');
  }
  let bytes = 0;
  socket.on('data', (b: Buffer) => {
    bytes += b.length;
    hash.update(b);
  });
  socket.on('end', () => socket.end(`${bytes} ${hash.digest('hex')}\n`));
  socket.resume();
}

function source(socket: net.Socket): void {
  socket.resume();
  pipeline(seededStream(o.seed, o.bytes), socket, () => {});
}

function echo(socket: net.Socket): void {
  socket.pipe(socket);
}

function rr(socket: net.Socket): void {
  const reqSize = o.request;
  const replySize = o.reply ?? o.request;
  const req = Buffer.alloc(reqSize);
  let have = 0;
  socket.on('data', (b: Buffer) => {
    // Requests may arrive split or several at once: answer each complete one.
    let off = 0;
    while (off < b.length) {
      const n = Math.min(reqSize - have, b.length - off);
      b.copy(req, have, off, off + n);
      have += n;
      off += n;
      if (have === reqSize) {
        const out = Buffer.allocUnsafe(replySize);
        for (let i = 0; i < replySize; i += reqSize) req.copy(out, i, 0, Math.min(reqSize, replySize - i));
        socket.write(out);
        have = 0;
      }
    }
  });
  socket.on('end', () => socket.end());
}

const handlers: Record<Mode, (s: net.Socket) => unknown> = { sink, source, echo, rr };
const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  Promise.resolve(handlers[mode](socket)).catch((err: Error) => {
    process.stderr.write(`kernel-server: ${err.message}\n`);
    socket.destroy();
  });
});
server.on('error', (err) => {
  process.stderr.write(`kernel-server: ${err.message}\n`);
  process.exit(1);
});
server.listen({ host: o.host, port, ...(o.backlog !== undefined ? { backlog: o.backlog } : {}) }, () => {
  process.stdout.write(`listening ${mode} on ${o.host}:${port}\n`);
});
const stop = () => {
  server.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
