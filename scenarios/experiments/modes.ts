// The three server configurations that scenarios setup, overhead-rr and throughput
// compare, started the same way for each workload:
//   kernel  the kernel reference server (Node's net) on the primary's own address;
//   off     `intact primary --no-backup` on the VIP: intact's stack, no replication;
//   on      `intact backup` started first in the backup namespace (ready on its
//           {"event":"ready"} line), then `intact primary` protected by it.
// Stopping "on" stops the backup FIRST: a primary that goes quiet while its backup
// runs would be taken over, and the next run would find the VIP answered by the backup.
// Also: the replication link's own round trip (kernel TCP stop-and-wait between the
// primary and backup namespaces), the yardstick of issue 4's latency target.
import { join } from 'node:path';
import { IntactError } from '../../shared/errors.js';
import { DEFAULT_BUSY_POLL_US, DEFAULT_HEARTBEAT } from '../../shared/config.js';
import { findNode, replicationAddress, type LabPlan } from '../../lab/plan.js';
import { nsExec } from '../../lab/topology.js';
import { startProcess, type ManagedProcess } from '../lib/process.js';
import {
  runScenarioClient,
  startIntactPrimary,
  startKernelServer,
  type KernelMode,
  type KernelServerOptions,
} from '../lib/programs.js';
import { intactArgv, kernelServerArgv, REPO_ROOT } from '../lib/repo.js';
import { writeLabConfig } from '../lib/lab-config.js';

/** replay: replication on with output replay (replication.outputReplay), the primary's
 *  config only: the backup learns it per connection from the OPEN.
 *  sleep: replication on, strict, with replication.busyPollUs = 0 on both hosts: what
 *  the default's polling of the replication link saves. */
export type Mode = 'kernel' | 'off' | 'on' | 'sleep' | 'replay';
export const MODES: readonly Mode[] = ['kernel', 'off', 'on'];
/** The modes every scenario may run; sleep only where polling is what is measured. */
export type BaseMode = Exclude<Mode, 'sleep'>;
/** The modes of the scenarios that measure output replay beside strict. */
export const MODES_WITH_REPLAY: readonly BaseMode[] = ['kernel', 'off', 'on', 'replay'];
/** overhead-rr's: strict mode polling (the default) and sleeping, side by side. */
export const MODES_RR: readonly Mode[] = ['kernel', 'off', 'on', 'sleep', 'replay'];
export const MODE_LABEL: Record<Mode, string> = {
  kernel: 'kernel TCP',
  off: 'intact, replication off',
  on: 'intact, replication on',
  sleep: 'intact, replication on, no polling',
  replay: 'intact, replication on, output replay',
};
/** Short names for chart legends. */
export const MODE_SHORT: Record<Mode, string> = { kernel: 'kernel', off: 'intact off', on: 'intact on', sleep: 'intact on, no polling', replay: 'intact replay' };

/** One workload's server, in each mode. */
export interface ServerSpec {
  kernel: { mode: KernelMode; opts?: KernelServerOptions };
  /** An intact app: built-in name or module path (the backup loads the same). */
  app: string;
  appOpts?: Record<string, string | number>;
  /** Extra `intact primary` arguments. */
  primaryArgs?: string[];
}

export interface RunningServer {
  mode: Mode;
  /** Address clients connect to: the primary's kernel address or the VIP. */
  host: string;
  procs: ManagedProcess[];
  /** Still running, all of them? (A crash during a run voids its figures.) */
  healthy(): boolean;
  stop(): Promise<void>;
}

function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, INTACT_LOG_LEVEL: process.env.INTACT_LOG_LEVEL ?? 'warn' };
}

/** `intact backup` in the lab's backup namespace, ready once it prints {"event":"ready"}. */
export function startIntactBackup(lab: LabPlan, spec: Pick<ServerSpec, 'app' | 'appOpts'>, logDir: string, logName: string): Promise<ManagedProcess> {
  const args = ['backup', '--config', lab.configs.backup, '--app', spec.app];
  for (const [k, v] of Object.entries(spec.appOpts ?? {})) args.push('--app-opt', `${k}=${v}`);
  return startProcess({
    name: 'intact backup',
    netns: findNode(lab, 'backup').netns,
    argv: intactArgv(args),
    cwd: REPO_ROOT,
    env: childEnv(),
    logFile: join(logDir, logName),
    ready: { line: /"event":"ready"/ },
    readyTimeoutMs: 30_000,
  });
}

export async function startServer(lab: LabPlan, mode: Mode, spec: ServerSpec, logDir: string, tag: string): Promise<RunningServer> {
  const procs: ManagedProcess[] = [];
  const server = (host: string): RunningServer => ({
    mode,
    host,
    procs,
    healthy: () => procs.every((p) => p.running),
    async stop() {
      // Backup first (see the header), then the rest.
      for (const p of [...procs].reverse()) await p.stop();
    },
  });
  if (mode === 'kernel') {
    const p = await startKernelServer(lab, spec.kernel.mode, spec.kernel.opts ?? {}, logDir);
    procs.push(p);
    return server(findNode(lab, 'primary').interfaces.find((i) => i.kind === 'service')!.address!);
  }
  const backed = mode === 'on' || mode === 'sleep' || mode === 'replay';
  try {
    const sleepConfig = mode === 'sleep' ? writeLabConfig(lab, logDir, 'intact-sleep.json', { busyPollUs: 0 }) : undefined;
    const backupLab = sleepConfig ? { ...lab, configs: { ...lab.configs, backup: sleepConfig } } : lab;
    if (backed) procs.push(await startIntactBackup(backupLab, spec, logDir, `backup-${tag}.log`));
    const primaryLab = mode === 'replay'
      ? { ...lab, configs: { ...lab.configs, primary: writeLabConfig(lab, logDir, 'intact-replay.json', { outputReplay: true }) } }
      : sleepConfig ? { ...lab, configs: { ...lab.configs, primary: sleepConfig } } : lab;
    const primary = await startIntactPrimary(
      primaryLab,
      { app: spec.app, appOpts: spec.appOpts, protected: backed, extraArgs: spec.primaryArgs, logName: `primary-${tag}.log` },
      logDir,
    );
    procs.unshift(primary);
    if (backed) {
      const line = primary.stdout().split('\n').find((l) => l.startsWith('serving ')) ?? '';
      // A primary that gave up waiting serves unprotected: its figures would be "off".
      if (!line.includes('protected by the backup')) {
        throw new IntactError('ERR_INTACT_NOT_PROTECTED', `the primary is not protected by the backup: "${line}" (log: ${primary.logFile})`);
      }
    }
  } catch (e) {
    for (const p of [...procs].reverse()) await p.stop();
    throw e;
  }
  return server(lab.vip);
}

/** Runs `body` against a freshly started server and stops it whatever happens. A run
 *  during which a server process died (on a loaded machine: a false takeover, the
 *  backup claiming the VIP from a live primary) is void; it is run once more, and
 *  `onRetry` hears why. */
export async function withServer<T>(
  lab: LabPlan,
  mode: Mode,
  spec: ServerSpec,
  logDir: string,
  tag: string,
  body: (s: RunningServer) => Promise<T>,
  onRetry: (why: string) => void = () => {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const s = await startServer(lab, mode, spec, logDir, attempt === 1 ? tag : `${tag}-retry`);
    let died: string | undefined;
    try {
      const r = await body(s);
      const dead = s.procs.find((p) => !p.running);
      if (!dead) return r;
      died = dead.error('ERR_INTACT_PROCESS_EXITED', 'exited during the run').message.split('\n')[0]!;
    } catch (e) {
      const dead = s.procs.find((p) => !p.running);
      if (!dead || attempt > 1) throw e;
      died = `${dead.name} exited during the run (${(e as Error).message.split('\n')[0]})`;
    } finally {
      await s.stop();
    }
    if (attempt > 1) throw new IntactError('ERR_INTACT_PROCESS_EXITED', died);
    onRetry(died);
  }
}

/** The lab with its config copied to `dir`, the failure detector's dead time set to
 *  `deadTimeMs`. The default (DEFAULT_HEARTBEAT) declares a live primary dead when a
 *  loaded machine starves the heartbeat threads for that long; the overhead scenarios
 *  measure replication, not detection, so they use a dead time near the thesis' (~1 s). */
export function labWithDeadTime(lab: LabPlan, dir: string, deadTimeMs: number): LabPlan {
  const path = writeLabConfig(lab, dir, 'intact-scenario.json', { deadTimeMs });
  return { ...lab, configs: { primary: path, backup: path } };
}

/** Dead time the overhead scenarios use (see labWithDeadTime). */
export const SCENARIO_DEAD_TIME_MS = 1000;

/** The overhead reports' line on the dead time and on runs voided and run again. */
/** "replication.busyPollUs = 200 (the default)", or "(--set)" for any other value: how
 *  the scenarios' notes name the polling their intact processes ran with. */
export function busyPollSetting(us: number): string {
  return `replication.busyPollUs = ${us} (${us === DEFAULT_BUSY_POLL_US ? 'the default' : '--set'})`;
}

export function deadTimeNote(retries: readonly string[]): string {
  return `The failure detector's dead time is ${SCENARIO_DEAD_TIME_MS} ms here (the default is ${DEFAULT_HEARTBEAT.deadTimeMs} ms): replication is measured, not detection. Runs voided by a server exiting mid-run (e.g. a false takeover) and run again: ${retries.length ? retries.join('; ') : 'none'}.`;
}

// ------------------------------------------------------------------ replication RTT

export interface LinkRtt {
  /** Median µs of a kernel TCP stop-and-wait exchange between the two namespaces,
   *  through Node on both ends (as intact's replication channel is). */
  tcpMedianUs: number;
  tcpP95Us: number;
  tcpExchanges: number;
  tcpRequestBytes: number;
  tcpReplyBytes: number;
  /** ping's median round trip (kernel ICMP only, no user space), µs; null if ping failed. */
  pingMedianUs: number | null;
  pingCount: number;
}

const RTT_PORT = 7411;

/** The replication link's round trip: rr client in the primary namespace against the
 *  kernel reference server's rr mode on the backup's replication address, plus ping. */
export async function measureReplicationRtt(
  lab: LabPlan,
  o: { exchanges: number; request?: number; reply?: number; pings?: number },
  logDir: string,
): Promise<LinkRtt> {
  const request = o.request ?? 64;
  const reply = o.reply ?? 16;
  const backupAddr = replicationAddress('backup');
  const server = await startProcess({
    name: 'kernel-rr (replication link)',
    netns: findNode(lab, 'backup').netns,
    argv: kernelServerArgv(['rr', '--host', backupAddr, '--port', String(RTT_PORT), '--request', String(request), '--reply', String(reply)]),
    cwd: REPO_ROOT,
    env: childEnv(),
    logFile: join(logDir, 'kernel-rr-replication-link.log'),
    ready: { line: /^listening / },
  });
  let tcp;
  try {
    tcp = await runScenarioClient(
      lab,
      'rr',
      ['--host', backupAddr, '--port', String(RTT_PORT), '--exchanges', String(o.exchanges), '--request', String(request), '--reply', String(reply)],
      { node: 'primary', timeoutMs: 60_000 + o.exchanges * 20, logDir, logName: 'client-rr-replication-link.log' },
    );
  } finally {
    await server.stop();
  }
  if (!tcp.ok) throw new IntactError('ERR_INTACT_CLIENT_FAILED', `replication link rr failed: ${tcp.error ?? 'replies did not verify'}`);
  const pings = o.pings ?? 100;
  const pingMedianUs = await pingMedian(findNode(lab, 'primary').netns, backupAddr, pings);
  return {
    tcpMedianUs: tcp.medianUs as number,
    tcpP95Us: tcp.p95Us as number,
    tcpExchanges: o.exchanges,
    tcpRequestBytes: request,
    tcpReplyBytes: reply,
    pingMedianUs,
    pingCount: pings,
  };
}

async function pingMedian(netns: string, addr: string, count: number): Promise<number | null> {
  const r = await nsExec(netns, ['ping', '-n', '-c', String(count), '-i', '0.01', addr], { timeoutMs: 30_000 + count * 50 }).catch(() => undefined);
  if (!r || r.code !== 0) return null;
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
  if (times.length > 0) {
    times.sort((a, b) => a - b);
    return Math.round(times[Math.floor(times.length / 2)]! * 10) / 10;
  }
  return null;
}
