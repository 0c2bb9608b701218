// A protected pair in a lab, the way every takeover scenario starts it: the backup
// daemon and the primary with the same app and config, each in its namespace, ready
// once the backup has heard the primary's heartbeats. Plus what the scenarios read
// back: the backup's JSON event lines and the client kernel's counters.
import { join } from 'node:path';
import { findNode, type LabPlan } from '../../lab/plan.js';
import { STARTUP_MS } from '../../shared/heartbeat/detector.js';
import { nsExec } from '../../lab/topology.js';
import { startProcess, type ManagedProcess } from '../lib/process.js';
import { intactArgv, tsxArgv, REPO_ROOT } from '../lib/repo.js';

export const wall = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Children log at warn: logging costs CPU we measure. */
export function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, INTACT_LOG_LEVEL: process.env.INTACT_LOG_LEVEL ?? 'warn' };
}

export interface PairOptions {
  /** Built-in app name or module path (the same on both). */
  app: string;
  appOpts?: Record<string, string | number>;
  /** Config file (default: the lab's). */
  config?: string;
  logDir: string;
  /** Names this pair's log files (run-3 → backup-run-3.log). */
  tag: string;
  /** Start the backup with the memory gauge (scenarios/programs/backup-memory.ts). */
  memoryGauge?: boolean;
}

export interface Pair {
  backup: ManagedProcess;
  primary: ManagedProcess;
  /** When the backup first heard the primary (this process's wall clock). */
  aliveAt: number;
  stop(): Promise<void>;
}

/** Waits until the backup's detector judges the primary with the configured dead time:
 *  during the primary's first STARTUP_MS it waits STARTUP_DEAD_MS instead
 *  (shared/heartbeat/detector.ts), so a kill before then measures the start-up rule,
 *  not the setting under test. */
export async function steadyState(pair: Pair): Promise<void> {
  const wait = pair.aliveAt + STARTUP_MS + 200 - wall();
  if (wait > 0) await sleep(wait);
}

/** A side already declared the other lost, before any kill: why (or undefined). */
export function lostBeforeKill(backup: ManagedProcess, primary: ManagedProcess): string | undefined {
  if (!primary.running) return 'the primary exited by itself';
  const e = events(backup).find((x) => x.event === 'primary-dead' || x.event === 'session-end' || x.event === 'takeover');
  if (e) return `backup: "${e.event}" while the primary was alive`;
  if (/BACKUP LOST|NO BACKUP|VIP moved/.test(primary.tail())) return 'primary: lost the backup while both were alive';
  return undefined;
}

/** Every kill of a takeover measurement: wait for the steady state, refuse to kill a
 *  pair in which a side already declared the other lost (a spurious detection, not a
 *  failover), else SIGKILL the primary and return the wall-clock time of the syscall. */
export async function killInSteadyState(pair: Pair): Promise<{ killAt: number } | { spurious: string }> {
  await steadyState(pair);
  const lost = lostBeforeKill(pair.backup, pair.primary);
  if (lost) return { spurious: `spurious failure detection before the kill (${lost})` };
  const killAt = wall();
  process.kill(pair.primary.pid, 'SIGKILL');
  return { killAt };
}

export async function startPair(lab: LabPlan, o: PairOptions): Promise<Pair> {
  const args = ['--config', o.config ?? lab.configs.primary, '--app', o.app];
  for (const [k, v] of Object.entries(o.appOpts ?? {})) args.push('--app-opt', `${k}=${v}`);
  const env = childEnv();
  // Both at once: the primary waits (--backup-wait) for the backup's replication
  // server, and the two node start-ups overlap.
  const backupArgv = o.memoryGauge
    ? tsxArgv('scenarios/programs/backup-memory.ts', args, ['--expose-gc'])
    : intactArgv(['backup', ...args]);
  const [b, p] = await Promise.allSettled([
    startProcess({
      name: 'backup', netns: findNode(lab, 'backup').netns, argv: backupArgv, cwd: REPO_ROOT, env,
      logFile: join(o.logDir, `backup-${o.tag}.log`), ready: { line: /"event":"ready"/ }, readyTimeoutMs: 30_000,
    }),
    startProcess({
      name: 'primary', netns: findNode(lab, 'primary').netns, argv: intactArgv(['primary', ...args, '--backup-wait', '15000']),
      cwd: REPO_ROOT, env, logFile: join(o.logDir, `primary-${o.tag}.log`),
      ready: { line: /^serving .*protected by the backup/ }, readyTimeoutMs: 30_000,
    }),
  ]);
  const started = [b, p].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = async () => {
    for (const x of started) if (x.running) await x.stop(3000);
  };
  if (b.status === 'rejected' || p.status === 'rejected') {
    await stopAll();
    throw (b.status === 'rejected' ? b.reason : (p as PromiseRejectedResult).reason) as Error;
  }
  try {
    await b.value.waitForLine(/"event":"primary-alive"/, 10_000);
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { backup: b.value, primary: p.value, aliveAt: wall(), stop: stopAll };
}

export interface EventLine {
  event: string;
  [k: string]: unknown;
}

/** Every JSON event line a program printed, in order. */
export function events(p: ManagedProcess): EventLine[] {
  const out: EventLine[] = [];
  for (const line of p.stdout().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line) as EventLine;
      if (typeof e.event === 'string') out.push(e);
    } catch {
      // not an event line
    }
  }
  return out;
}

export function lastEvent(p: ManagedProcess, name: string): EventLine | undefined {
  return events(p).filter((e) => e.event === name).pop();
}

/** The counters a clean failover must not move (DESIGN: the client is an honest witness). */
export const WATCHED = ['TcpEstabResets', 'TcpExtPAWSEstab', 'TcpExtTCPChallengeACK', 'TcpInCsumErrors'] as const;

/** Absolute counters in a client namespace (nstat's history is per user: -a). */
export async function clientCounters(lab: LabPlan, node = 'client'): Promise<Record<string, number>> {
  const r = await nsExec(findNode(lab, node).netns, ['nstat', '-az']);
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name && (WATCHED as readonly string[]).includes(name)) out[name] = Number(value);
  }
  return out;
}

export function moved(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of WATCHED) out[k] = (after[k] ?? 0) - (before[k] ?? 0);
  return out;
}

/** A fresh neighbour cache in the client, so each run starts from the same ARP state. */
export async function flushClientNeighbours(lab: LabPlan, node = 'client'): Promise<void> {
  await nsExec(findNode(lab, node).netns, ['ip', 'neigh', 'flush', 'all']);
}
