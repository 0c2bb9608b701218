// What every scenario client shares: argument parsing, connecting with a timeout, a
// watchdog, and the contract of its output — exactly ONE JSON line on stdout, with
// `ok` true only when every check held (the exit code says the same).
import net from 'node:net';
import { Command, InvalidArgumentError } from 'commander';

export interface ClientResult {
  client: string;
  ok: boolean;
  error?: string;
  code?: string;
  [k: string]: unknown;
}

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** The options every client takes: where to connect and how long to try at most. */
export function baseCommand(name: string, description: string): Command {
  return new Command()
    .name(name)
    .description(description)
    .requiredOption('--host <addr>', 'server address')
    .requiredOption('--port <n>', 'server port', intArg(1, 65535))
    .option('--timeout-ms <ms>', 'give up (and report failure) after this long', intArg(1), 600_000)
    .option('--idle-ms <ms>', 'fail when the connection makes no progress for this long', intArg(1), 20_000)
    .exitOverride();
}

/** Connects, or fails after `timeoutMs`. Once connected, `idleMs` without any read or
 *  write on the socket destroys it with ETIMEDOUT: a stalled transfer fails fast
 *  instead of waiting out the overall timeout. */
export function connect(host: string, port: number, timeoutMs: number, idleMs = 20_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', onError);
      s.setTimeout(idleMs, () => {
        s.destroy(Object.assign(new Error(`no progress on ${host}:${port} for ${idleMs} ms`), { code: 'ETIMEDOUT' }));
      });
      resolve(s);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    s.once('error', onError);
  });
}

/** Milliseconds since `t0` (performance.now() time), rounded to µs. */
export function msSince(t0: number, t = performance.now()): number {
  return Math.round((t - t0) * 1000) / 1000;
}

/** This process's CPU time (user + system, every thread) in ms since `since`
 *  (process.cpuUsage() taken then): what the client itself spent on a transfer. */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return Math.round((d.user + d.system) / 100) / 10;
}

export function gbps(bytes: number, seconds: number): number {
  return seconds > 0 ? Math.round(((bytes * 8) / seconds / 1e9) * 1000) / 1000 : 0;
}

/**
 * Runs a client's body under a watchdog and prints its one JSON line. Any throw becomes
 * {ok: false, error, code}; the process exits with 0 only when ok.
 */
export async function runClient(name: string, timeoutMs: number, body: () => Promise<ClientResult>): Promise<never> {
  let result: ClientResult;
  const watchdog = new Promise<ClientResult>((resolve) => {
    setTimeout(
      () => resolve({ client: name, ok: false, error: `no result after ${timeoutMs} ms`, code: 'ETIMEDOUT' }),
      timeoutMs,
    ).unref();
  });
  try {
    result = await Promise.race([body(), watchdog]);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    result = { client: name, ok: false, error: err.message, ...(err.code ? { code: err.code } : {}) };
  }
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
  return new Promise<never>(() => {});
}

/** Parses argv; on a usage error prints the one JSON line (ok false) and exits 2. */
export function parseArgs<T>(cmd: Command, argv = process.argv): T {
  try {
    cmd.parse(argv);
  } catch (e) {
    if ((e as { code?: string }).code === 'commander.helpDisplayed') process.exit(0);
    process.stdout.write(JSON.stringify({ client: cmd.name(), ok: false, error: (e as Error).message, code: 'EUSAGE' }) + '\n');
    process.exit(2);
  }
  return cmd.opts<T & object>() as T;
}
