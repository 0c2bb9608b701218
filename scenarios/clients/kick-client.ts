// The kernel client of the kick experiment (scenarios/experiments/kick.ts): one
// connection after another, each a few stop-and-wait exchanges that give the kernel an
// RTT estimate, then one last request whose bytes the experiment's responder drops, and
// the wait for its reply. The responder decides everything else (when to drop, what to
// send as the kick); this program only has to be an ordinary application on kernel TCP.
//   node --import tsx scenarios/clients/kick-client.ts --host 192.0.2.100 --port 5100 --plan 100,10000
// Output (one JSON line): {client, ok, connections: [{i, request, ok, stallMs, error?}]}
//   stallMs: the last request's write to its whole reply, as the application sees it.
// A failed connection is recorded and the next one made: one bad run must not cost the rest.
import type net from 'node:net';
import { baseCommand, connect, intArg, parseArgs, runClient } from './common.js';

interface Opts {
  host: string;
  port: number;
  plan: string;
  warmup: number;
  request: number;
  reply: number;
  timeoutMs: number;
  idleMs: number;
}

const opts = parseArgs<Opts>(
  baseCommand('kick-client', 'connections of warm-up exchanges and one last request, timed')
    .requiredOption('--plan <sizes>', 'the last request of each connection, in bytes, comma-separated')
    .option('--warmup <k>', 'warm-up exchanges per connection', intArg(0, 1000), 5)
    .option('--request <bytes>', 'warm-up request size', intArg(1, 1_000_000), 100)
    .option('--reply <bytes>', 'reply size (every exchange)', intArg(1, 1_000_000), 100),
);

const REPLY_BYTE = 0x6b;

interface ConnOutcome {
  i: number;
  request: number;
  ok: boolean;
  stallMs: number | null;
  error?: string;
}

/** Writes `request` bytes and resolves once `reply` bytes came back, all of REPLY_BYTE. */
function exchange(s: net.Socket, request: number, reply: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let have = 0;
    const onData = (b: Buffer) => {
      for (const x of b) {
        if (x !== REPLY_BYTE) {
          done(new Error(`reply byte ${x} is not ${REPLY_BYTE}`));
          return;
        }
      }
      have += b.length;
      if (have > reply) done(new Error(`${have} reply bytes, expected ${reply}`));
      else if (have === reply) done();
    };
    const onEnd = () => done(new Error(`server closed after ${have} of ${reply} reply bytes`));
    const done = (err?: Error) => {
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('error', done);
    s.write(Buffer.alloc(request, 0x71));
  });
}

async function oneConnection(i: number, last: number): Promise<ConnOutcome> {
  const out: ConnOutcome = { i, request: last, ok: false, stallMs: null };
  let s: net.Socket | undefined;
  try {
    s = await connect(opts.host, opts.port, 30_000, opts.idleMs);
    s.setNoDelay(true);
    for (let k = 0; k < opts.warmup; k++) await exchange(s, opts.request, opts.reply);
    const t0 = performance.now();
    await exchange(s, last, opts.reply);
    out.stallMs = Math.round((performance.now() - t0) * 1000) / 1000;
    // A graceful close: the responder answers the FIN, so no retransmission of ours
    // (nor a reset) lands in the counters of the next connection.
    const sock = s;
    await new Promise<void>((resolve) => {
      sock.once('close', () => resolve());
      sock.end();
    });
    out.ok = true;
  } catch (e) {
    out.error = (e as Error).message;
    s?.destroy();
  }
  return out;
}

await runClient('kick-client', opts.timeoutMs, async () => {
  const plan = opts.plan.split(',').map((x) => Number(x));
  if (plan.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error(`bad --plan ${opts.plan}`);
  const connections: ConnOutcome[] = [];
  for (let i = 0; i < plan.length; i++) connections.push(await oneConnection(i, plan[i]!));
  return { client: 'kick-client', ok: connections.every((c) => c.ok), connections };
});
