// Long-running programs of a scenario (servers, the intact primary, clients), each
// possibly inside a lab namespace: started with output captured to a log file, waited
// for until ready, stopped with SIGTERM then SIGKILL, and never left behind — every
// live child is SIGKILLed when this process exits or dies of SIGINT/SIGTERM/SIGHUP.
//
//   const p = await startProcess({ name: 'sink', netns, argv, logFile,
//                                  ready: { line: /^listening/ } });
//   ...
//   await p.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { IntactError } from '../../shared/errors.js';
import { logger } from '../../shared/log.js';
import { nsSpawn } from '../../lab/topology.js';
import { waitForTcpPort } from './wait-port.js';

const log = logger('scenario');

/** When is a started program ready: a line it prints on stdout, or a TCP port that
 *  accepts a connection made from `netns` (default: the program's own namespace). */
export type ReadyCheck = { line: RegExp } | { tcp: { host: string; port: number; netns?: string } };

export interface StartOptions {
  /** Short name for messages and logs ("kernel-sink", "primary"). */
  name: string;
  argv: readonly string[];
  /** Run inside this network namespace (`ip netns exec`); the current one if absent. */
  netns?: string;
  /** stdout and stderr are appended here as they come (the directory is created). */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  ready?: ReadyCheck;
  /** How long to wait for `ready` (default 30 s); the program is stopped on timeout. */
  readyTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Keep at most this much of stdout, and this much of the combined tail, in memory. */
const STDOUT_CAP = 4 * 1024 * 1024;
const TAIL_CAP = 16 * 1024;

// ------------------------------------------------------------------ the registry

const live = new Set<ManagedProcess>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAllSync(): void {
  for (const p of live) p.killSync();
}

function onSignal(sig: NodeJS.Signals): void {
  killAllSync();
  process.removeListener(sig, onSignal);
  // Like lab/topology.ts: the last listener re-raises, so the process still dies of
  // the signal once every cleanup has run, whichever order they were registered in.
  if (process.listenerCount(sig) === 0) {
    process.kill(process.pid, sig);
    // A disposition inherited as "ignore" (tap runs tests so) comes back when the last
    // listener goes, and swallows the re-raised signal: exit as the signal would have.
    const signo = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[sig as string] ?? 15;
    setTimeout(() => process.exit(128 + signo), 200).unref();
  }
}

function track(p: ManagedProcess): void {
  if (live.size === 0) {
    process.on('exit', killAllSync);
    // First in line: our children die before any other handler decides the process's
    // fate (signal-exit, used by tap, re-raises only when it is the last listener).
    for (const s of SIGNALS) process.prependListener(s, onSignal);
  }
  live.add(p);
}

function untrack(p: ManagedProcess): void {
  live.delete(p);
  if (live.size === 0) {
    process.removeListener('exit', killAllSync);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
  }
}

/** Programs started here and still running (for tests and diagnostics). */
export function liveProcesses(): readonly ManagedProcess[] {
  return [...live];
}

// ------------------------------------------------------------------ one process

export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly netns: string | undefined;
  readonly logFile: string | undefined;
  /** Resolves when the program has exited and its output is collected. */
  readonly exited: Promise<ExitInfo>;
  private readonly child: ChildProcess;
  private readonly logStream: WriteStream | undefined;
  private stdoutText = '';
  private tailText = '';
  private exitInfo: ExitInfo | undefined;
  private readonly lineWaiters = new Set<(line: string) => void>();
  private partial = '';

  constructor(child: ChildProcess, o: StartOptions) {
    if (child.pid === undefined) throw new IntactError('ERR_INTACT_PROCESS_SPAWN', `${o.name}: could not start ${o.argv[0]}`);
    this.child = child;
    this.name = o.name;
    this.pid = child.pid;
    this.netns = o.netns;
    this.logFile = o.logFile;
    if (o.logFile) {
      mkdirSync(dirname(o.logFile), { recursive: true });
      this.logStream = createWriteStream(o.logFile, { flags: 'a' });
      this.logStream.on('error', (err) => log.warn({ err: err.message, file: o.logFile }, 'log file write failed'));
    }
    child.stdout!.on('data', (b: Buffer) => this.onOutput(b, true));
    child.stderr!.on('data', (b: Buffer) => this.onOutput(b, false));
    this.exited = new Promise((resolve) => {
      let info: ExitInfo | undefined;
      const done = () => {
        this.exitInfo = info!;
        this.logStream?.end();
        untrack(this);
        resolve(info!);
      };
      child.once('exit', (code, signal) => {
        info = { code, signal };
        // 'close' follows once stdout/stderr are drained; a grandchild holding them
        // open must not keep us waiting for ever.
        const t = setTimeout(done, 1000);
        child.once('close', () => {
          clearTimeout(t);
          done();
        });
      });
      child.once('error', (err) => {
        this.onOutput(Buffer.from(`spawn error: ${err.message}\n`), false);
        if (info === undefined) {
          info = { code: null, signal: null };
          done();
        }
      });
    });
    track(this);
  }

  private onOutput(b: Buffer, isStdout: boolean): void {
    this.logStream?.write(b);
    const s = b.toString('utf8');
    this.tailText = (this.tailText + s).slice(-TAIL_CAP);
    if (!isStdout) return;
    if (this.stdoutText.length < STDOUT_CAP) this.stdoutText += s.slice(0, STDOUT_CAP - this.stdoutText.length);
    if (this.lineWaiters.size === 0) {
      this.partial = '';
      return;
    }
    const lines = (this.partial + s).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) for (const w of this.lineWaiters) w(line);
  }

  /** Everything printed on stdout (up to 4 MB). */
  stdout(): string {
    return this.stdoutText;
  }

  /** The last 16 KB of stdout and stderr together: what an error message quotes. */
  tail(): string {
    return this.tailText;
  }

  /** Exit status once exited, else undefined. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first stdout line matching `re` (lines printed from now on). */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string> {
    // Lines already printed count too: a fast program may be ready before we ask.
    const earlier = this.stdoutText.split('\n').find((l) => re.test(l));
    if (earlier !== undefined) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const finish = (err: Error | undefined, line?: string) => {
        clearTimeout(timer);
        this.lineWaiters.delete(onLine);
        if (err) reject(err);
        else resolve(line!);
      };
      const onLine = (line: string) => {
        if (re.test(line)) finish(undefined, line);
      };
      const timer = setTimeout(
        () => finish(this.error('ERR_INTACT_PROCESS_TIMEOUT', `not ready after ${timeoutMs} ms (waiting for a line matching ${re})`)),
        timeoutMs,
      );
      this.lineWaiters.add(onLine);
      this.exited.then((x) => finish(this.error('ERR_INTACT_PROCESS_EXITED', `exited (${describeExit(x)}) before printing a line matching ${re}`)));
    });
  }

  /** Waits for the program to exit by itself; after `timeoutMs` it is stopped and
   *  ERR_INTACT_PROCESS_TIMEOUT thrown. */
  async waitExit(timeoutMs: number): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const r = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (r === 'timeout') {
      await this.stop();
      throw this.error('ERR_INTACT_PROCESS_TIMEOUT', `still running after ${timeoutMs} ms, stopped`);
    }
    return r;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (this.running) {
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }

  /** From process 'exit' handlers: nothing asynchronous runs there. */
  killSync(): void {
    this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }

  /** An IntactError about this program, quoting its last output and its log file. */
  error(code: string, what: string): IntactError {
    const tail = this.tailText.trim().split('\n').slice(-15).join('\n');
    const where = this.logFile ? ` (log: ${this.logFile})` : '';
    return new IntactError(code, `${this.name}: ${what}${where}${tail ? `\n--- last output ---\n${tail}` : ''}`);
  }
}

export function describeExit(x: ExitInfo): string {
  return x.signal ? `signal ${x.signal}` : `code ${x.code}`;
}

/** Starts a program and, when `ready` is given, resolves only once it is ready. If it
 *  exits first or is not ready in time, it is stopped and the error quotes its output. */
export async function startProcess(o: StartOptions): Promise<ManagedProcess> {
  if (o.argv.length === 0) throw new IntactError('ERR_INTACT_INVALID_ARG', `${o.name}: empty argv`);
  const spawnOpts = { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };
  const child = o.netns ? nsSpawn(o.netns, o.argv, spawnOpts) : spawn(o.argv[0]!, o.argv.slice(1), spawnOpts);
  const p = new ManagedProcess(child, o);
  log.debug({ name: o.name, pid: p.pid, netns: o.netns, argv: o.argv }, 'started');
  if (!o.ready) return p;
  const timeoutMs = o.readyTimeoutMs ?? 30_000;
  try {
    if ('line' in o.ready) {
      await p.waitForLine(o.ready.line, timeoutMs);
    } else {
      const { host, port } = o.ready.tcp;
      const netns = o.ready.tcp.netns ?? o.netns;
      const exitedEarly = p.exited.then((x) => {
        throw p.error('ERR_INTACT_PROCESS_EXITED', `exited (${describeExit(x)}) before ${host}:${port} accepted a connection`);
      });
      const up = waitForTcpPort({ netns, host, port, timeoutMs }).then((ok) => {
        if (!ok) throw p.error('ERR_INTACT_PROCESS_TIMEOUT', `${host}:${port} did not accept a connection within ${timeoutMs} ms`);
      });
      exitedEarly.catch(() => {}); // handled through the race below
      await Promise.race([up, exitedEarly]);
    }
  } catch (e) {
    await p.stop(1000);
    throw e;
  }
  return p;
}
