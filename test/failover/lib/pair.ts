// One primary+backup pair in a lab, for one kill cycle: the backup first (it must hold
// the replica before the first SYN), then the primary, protected; the primary dies of
// SIGKILL, the backup takes over and reports it; then both namespaces are emptied so
// the next cycle starts from nothing.
import { join } from 'node:path';
import { findNode, type LabPlan } from '../../../lab/plan.js';
import { nsExec } from '../../../lab/topology.js';
import { killNetnsSync } from '../../../lab/netns.js';
import { startProcess, type ManagedProcess } from '../../../scenarios/lib/process.js';
import { intactArgv, REPO_ROOT } from '../../../scenarios/lib/repo.js';
import { loadConfig } from '../../../shared/config.js';

export interface TakeoverEvent {
  event: 'takeover';
  connections: number;
  /** Rebuilt for output replay (backup-daemon/takeover.ts). */
  replayed: number;
  /** Restored from a checkpoint of the app (backup-daemon/takeover.ts). */
  checkpointed: number;
  failed: number;
  rebuildMs: number;
  claimMs: number;
  restartMs: number;
  kickMs: number;
  totalMs: number;
  detectedAt: number;
  lastHeardAt: number;
}

export interface PairOptions {
  app: string;
  appOpts?: Record<string, string | number>;
  logDir: string;
  /** Names the log files: <tag>-backup.log, <tag>-primary.log. */
  tag: string;
}

/** How long a new pair runs before the workload: false heartbeat deaths came within
 *  ~100 ms of the primary's first beat. */
const SETTLE_MS = 300;

function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, INTACT_LOG_LEVEL: process.env.INTACT_LOG_LEVEL ?? 'info' };
}

function appArgs(o: PairOptions): string[] {
  const a = ['--config', '', '--app', o.app];
  for (const [k, v] of Object.entries(o.appOpts ?? {})) a.push('--app-opt', `${k}=${v}`);
  return a;
}

export class Pair {
  /** Wall-clock ms (epoch) when SIGKILL was sent to the primary. */
  killedAt: number | undefined;

  /** Backups started after the first (restartBackup). */
  backupRestarts = 0;

  private constructor(
    readonly lab: LabPlan,
    public backup: ManagedProcess,
    readonly primary: ManagedProcess,
    private readonly o: PairOptions,
  ) {}

  /** Pairs restarted because the primary declared its backup dead while starting. */
  static restartedAtStart = 0;

  /** Starts a pair; if the primary loses its backup within its first moments (a false
   *  heartbeat death: seen on this 2-core machine with the lab's 60 ms dead time), the
   *  pair is started again, at most twice, and counted in restartedAtStart. Losing the
   *  backup later, during the workload, is the cycle's failure, not retried. */
  static async start(lab: LabPlan, o: PairOptions): Promise<Pair> {
    for (let attempt = 1; ; attempt++) {
      const pair = await Pair.startOnce(lab, { ...o, tag: attempt === 1 ? o.tag : `${o.tag}-retry${attempt - 1}` });
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      if (!pair.primaryLostBackup()) return pair;
      await pair.end();
      Pair.restartedAtStart++;
      if (attempt === 3) throw new Error('the primary declared its backup dead right after starting, three times running');
    }
  }

  /** The primary's log says it serves unprotected now (it lost or never had its backup). */
  primaryLostBackup(): boolean {
    return /BACKUP LOST|NO BACKUP/.test(this.primary.tail());
  }

  /** A backup daemon, once ready; refused when its buffers are not the config's. */
  private static async startBackup(lab: LabPlan, o: PairOptions, logName: string): Promise<ManagedProcess> {
    const args = appArgs(o);
    args[1] = lab.configs.primary;
    const backup = await startProcess({
      name: 'intact backup',
      netns: findNode(lab, 'backup').netns,
      argv: intactArgv(['backup', ...args]),
      cwd: REPO_ROOT,
      env: childEnv(),
      logFile: join(o.logDir, logName),
      ready: { line: /"event":"ready"/ },
      readyTimeoutMs: 30_000,
    });
    try {
      // The backup rebuilds with the config's buffers, as the primary serves with them.
      const ready = JSON.parse(await backup.waitForLine(/"event":"ready"/, 1000)) as { tcp?: unknown };
      const want = loadConfig(lab.configs.primary).tcp;
      if (JSON.stringify(ready.tcp) !== JSON.stringify(want)) {
        throw backup.error('ERR_INTACT_TEST', `the backup's TCP buffers ${JSON.stringify(ready.tcp)} are not the config's ${JSON.stringify(want)}`);
      }
    } catch (e) {
      backup.killSync();
      throw e;
    }
    return backup;
  }

  /** kill -9 of the backup; once the primary says it serves unprotected (an error, so
   *  logged at any level), a new backup, and its replication session with the primary
   *  open. */
  async restartBackup(timeoutMs = 15_000): Promise<void> {
    this.backup.killSync();
    await this.backup.exited;
    await waitForTail(this.primary, /BACKUP LOST/, timeoutMs);
    this.backupRestarts++;
    this.backup = await Pair.startBackup(this.lab, this.o, `${this.o.tag}-backup${this.backupRestarts + 1}.log`);
    // Its stdout event, not its log: the tests run with INTACT_LOG_LEVEL=warn.
    await this.backup.waitForLine(/"event":"session"/, timeoutMs);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  }

  /** One attempt, returned the moment the primary says it serves (no settling). */
  static async startOnce(lab: LabPlan, o: PairOptions): Promise<Pair> {
    const args = appArgs(o);
    args[1] = lab.configs.primary;
    const backup = await Pair.startBackup(lab, o, `${o.tag}-backup.log`);
    let primary: ManagedProcess;
    try {
      primary = await startProcess({
        name: 'intact primary',
        netns: findNode(lab, 'primary').netns,
        argv: intactArgv(['primary', ...args, '--backup-wait', '10000']),
        cwd: REPO_ROOT,
        env: childEnv(),
        logFile: join(o.logDir, `${o.tag}-primary.log`),
        ready: { line: /^serving / },
        readyTimeoutMs: 30_000,
      });
    } catch (e) {
      backup.killSync();
      throw e;
    }
    const pair = new Pair(lab, backup, primary, o);
    const line = await primary.waitForLine(/^serving /, 1000);
    if (!/\(protected by /.test(line)) {
      pair.destroy();
      throw primary.error('ERR_INTACT_TEST', `primary is not protected: ${line}`);
    }
    return pair;
  }

  /** kill -9 of the primary, as a power cut would: no FIN, no RST, no goodbye. */
  killPrimary(): void {
    this.killedAt = Date.now();
    this.primary.killSync();
  }

  /** The backup's {"event":"takeover"} line (throws on takeover-failed or timeout). */
  async takeover(timeoutMs = 10_000): Promise<TakeoverEvent> {
    const line = await this.backup.waitForLine(/"event":"(takeover|takeover-failed)"/, timeoutMs);
    const ev = JSON.parse(line) as TakeoverEvent | { event: 'takeover-failed'; error: string };
    if (ev.event !== 'takeover') throw this.backup.error('ERR_INTACT_TEST', `takeover failed: ${ev.error}`);
    return ev;
  }

  /** Whether the backup ever took over (for cycles where the kill came after the work). */
  tookOver(): boolean {
    return /"event":"takeover"/.test(this.backup.stdout());
  }

  /** Everything in the primary and backup namespaces dies; the client forgets the
   *  VIP's MAC so the next pair starts as on a fresh LAN. */
  async end(): Promise<void> {
    this.destroy();
    await Promise.all([this.primary.exited, this.backup.exited]);
    for (const n of this.lab.nodes) {
      if (n.role === 'client') await nsExec(n.netns, ['ip', 'neigh', 'flush', 'all'], { timeoutMs: 5000 });
    }
  }

  destroy(): void {
    this.primary.killSync();
    this.backup.killSync();
    killNetnsSync(findNode(this.lab, 'primary').netns);
    killNetnsSync(findNode(this.lab, 'backup').netns);
  }
}

/** Waits until `p`'s recent output (stdout and the logs on stderr) matches `re`. */
async function waitForTail(p: ManagedProcess, re: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(p.tail())) {
    if (!p.running) throw p.error('ERR_INTACT_PROCESS_EXITED', `exited before printing ${re}`);
    if (Date.now() > deadline) throw p.error('ERR_INTACT_PROCESS_TIMEOUT', `nothing matching ${re} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
