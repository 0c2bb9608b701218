// The programs a scenario runs in a lab, started the one way they are meant to run:
// the kernel reference server and intact's primary in the primary namespace, the
// scenario clients in a client namespace. Each returns a ManagedProcess (process.ts)
// that is ready when returned, or throws an IntactError quoting the program's output.
import { join } from 'node:path';
import { findNode, serviceAddress, type LabPlan } from '../../lab/plan.js';
import { startProcess, describeExit, type ManagedProcess } from './process.js';
import { clientArgv, intactArgv, kernelServerArgv, REPO_ROOT } from './repo.js';
import { onCpus } from './cpus.js';

/** The primary's own kernel address: the kernel reference listens there. */
export const KERNEL_ADDRESS = serviceAddress('primary')!;

/** Children log at warn unless the caller asked for more: logging costs CPU we measure. */
function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, INTACT_LOG_LEVEL: process.env.INTACT_LOG_LEVEL ?? 'warn' };
}

export type KernelMode = 'sink' | 'source' | 'echo' | 'rr';

export interface KernelServerOptions {
  port?: number;
  bytes?: number;
  seed?: number;
  request?: number;
  reply?: number;
  /** sink's sha256: 'wasm' as intact's sink app (default), or 'crypto' (OpenSSL). */
  hash?: 'wasm' | 'crypto';
}

/** The kernel reference server (scenarios/servers/kernel-server.ts) on 192.0.2.1 in the
 *  lab's primary namespace. */
export function startKernelServer(lab: LabPlan, mode: KernelMode, o: KernelServerOptions, logDir: string): Promise<ManagedProcess> {
  const args = [mode, '--host', KERNEL_ADDRESS];
  if (o.port !== undefined) args.push('--port', String(o.port));
  if (o.bytes !== undefined) args.push('--bytes', String(o.bytes));
  if (o.seed !== undefined) args.push('--seed', String(o.seed));
  if (o.request !== undefined) args.push('--request', String(o.request));
  if (o.reply !== undefined) args.push('--reply', String(o.reply));
  if (o.hash !== undefined) args.push('--hash', o.hash);
  return startProcess({
    name: `kernel-${mode}`,
    netns: findNode(lab, 'primary').netns,
    argv: kernelServerArgv(args),
    cwd: REPO_ROOT,
    env: childEnv(),
    logFile: join(logDir, `kernel-${mode}.log`),
    ready: { line: /^listening / },
    readyTimeoutMs: 30_000,
  });
}

export interface IntactPrimaryOptions {
  app: string;
  appOpts?: Record<string, string | number>;
  port?: number;
  extraArgs?: string[];
  /** Serve protected by a backup (default false: `--no-backup`, no replication, no
   *  wait for a backup at start). */
  protected?: boolean;
  /** Log file name inside logDir (default primary-<app>.log). */
  logName?: string;
  readyTimeoutMs?: number;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  nodeArgs?: string[];
}

/** `intact primary --config <lab config> --app <app>` in the lab's primary namespace,
 *  ready once it prints its "serving ..." line. */
export function startIntactPrimary(lab: LabPlan, o: IntactPrimaryOptions, logDir: string): Promise<ManagedProcess> {
  const args = ['primary', '--config', lab.configs.primary, '--app', o.app];
  for (const [k, v] of Object.entries(o.appOpts ?? {})) args.push('--app-opt', `${k}=${v}`);
  if (o.port !== undefined) args.push('--port', String(o.port));
  if (!o.protected) args.push('--no-backup');
  args.push(...(o.extraArgs ?? []));
  return startProcess({
    name: `intact primary (${o.app})`,
    netns: findNode(lab, 'primary').netns,
    argv: intactArgv(args, o.nodeArgs),
    cwd: REPO_ROOT,
    env: childEnv(),
    logFile: join(logDir, o.logName ?? `primary-${o.app}.log`),
    ready: { line: /^serving / },
    readyTimeoutMs: o.readyTimeoutMs ?? 30_000,
  });
}

/** One line of JSON from a scenario client. */
export interface ClientOutput {
  client: string;
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

export interface RunClientOptions {
  /** Client node (default "client"). */
  node?: string;
  timeoutMs: number;
  logName?: string;
  /** Run the client on these CPUs (a taskset list; scenarios/lib/cpus.ts). */
  cpus?: string;
}

/** Runs a scenario client to completion in a client namespace and returns its JSON line
 *  (whatever `ok` says). Throws when it prints no JSON or outlives `timeoutMs`. */
export async function runScenarioClient(
  lab: LabPlan,
  name: 'bulk-send' | 'bulk-recv' | 'rr',
  args: readonly string[],
  o: RunClientOptions & { logDir: string },
): Promise<ClientOutput> {
  const p = await startProcess({
    name: `client ${name}`,
    netns: findNode(lab, o.node ?? 'client').netns,
    argv: onCpus(o.cpus, clientArgv(name, [...args, '--timeout-ms', String(o.timeoutMs)])),
    cwd: REPO_ROOT,
    env: childEnv(),
    logFile: join(o.logDir, o.logName ?? `client-${name}.log`),
  });
  // The client's own watchdog fires first; ours is the backstop for a wedged client.
  const exit = await p.waitExit(o.timeoutMs + 15_000);
  const line = p.stdout().trim().split('\n').pop() ?? '';
  try {
    const out = JSON.parse(line) as ClientOutput;
    if (typeof out === 'object' && out !== null && typeof out.ok === 'boolean') return out;
  } catch {
    // fall through
  }
  throw p.error('ERR_INTACT_CLIENT_FAILED', `printed no result line (${describeExit(exit)})`);
}

