// `intact primary`: serve an app on the VIP from the primary host.
//
//   intact primary --config lab.json --app http --app-opt root=/srv --port 8080
//
// With a backup in the config it waits (--backup-wait) for the replication link and
// says whether it serves protected or not. On
// SIGTERM/SIGINT the app stops, open connections are closed (FIN, or RST where the
// kernel would), the last segments leave, and the process exits 0; a second signal
// exits at once.
import type { Command } from 'commander';
import { nonNegativeMs } from '../cli/options.js';
import { loadService, serviceOptions, type ServiceCliOptions } from '../cli/service-options.js';
import { logger } from '../shared/log.js';
import { cpuIdle, haltsAtOnce, type CpuIdle } from '../shared/cpu-idle.js';
import type { Config } from '../shared/config.js';
import { serveApp } from './app.js';
import { openServiceRuntime } from './runtime.js';
import { Protection } from './replication/protect.js';

const log = logger('primary');

export interface PrimaryCliOptions extends ServiceCliOptions {
  /** false (--no-backup): serve without replication even though the config names a backup. */
  backup?: boolean;
  /** How long to wait for the backup at start before serving unprotected (ms). */
  backupWait?: number;
}



export function registerPrimary(program: Command): void {
  const cmd = program
    .command('primary')
    .description('serve an app on the VIP with the user-space TCP stack (the primary role)');
  serviceOptions(cmd, 'primary')
    .option('--no-backup', 'serve without replication (unprotected) even though the config names a backup')
    .option('--backup-wait <ms>', 'how long to wait for the backup at start before serving unprotected', nonNegativeMs, 5000)
    .action(async (opts: PrimaryCliOptions) => {
      await runPrimary(opts);
    });
}

/** What to tell the operator at start about waking idle CPUs, if anything: strict mode
 *  without busy polling on a VM whose idle CPUs halt at once pays two wake-ups per
 *  exchange (README: Experiments). */
export function wakeUpHint(r: Pick<Config['replication'], 'outputReplay' | 'busyPollUs'>, idle: CpuIdle): string | undefined {
  if (r.outputReplay || r.busyPollUs > 0 || !haltsAtOnce(idle)) return undefined;
  return 'idle CPUs here halt without polling (guest_halt_poll_ns 0): each strict exchange waits for the backup and then this host to wake, tens of µs each; /sys/module/haltpoll/parameters/guest_halt_poll_ns (e.g. 200000) or replication.busyPollUs (default 200, 0 here) removes that (README: Experiments)';
}

/** Runs until SIGTERM/SIGINT (or `signal` aborts, for tests and embedding). */
export async function runPrimary(opts: PrimaryCliOptions, signal?: AbortSignal): Promise<void> {
  const { config, app: prepared } = await loadService(opts);
  const app = prepared.app;
  const runtime = openServiceRuntime({
    ifname: config.primary.serviceInterface,
    vip: config.vip,
    netns: opts.netns,
    gso: opts.gso,
    ringFrames: config.primary.rxRingFrames,
    stackOptions: config.tcp,
  });
  // Protection first: the mirror must be on the stack before the first SYN arrives.
  let protection: Protection | undefined;
  let served;
  try {
    if (opts.backup !== false) {
      protection = new Protection(runtime, config, app.name);
      protection.on('conflict', () => {
        log.error('the VIP moved to another host: exiting');
        process.exitCode = 3;
        process.kill(process.pid, 'SIGTERM');
      });
      await protection.start(opts.backupWait ?? 5000);
    }
    served = await serveApp(prepared, { runtime });
  } catch (e) {
    await protection?.close();
    await runtime.close();
    throw e;
  }
  const how = protection?.isProtected
    ? `protected by the backup at ${config.backup.replicationAddress}${config.replication.outputReplay ? ', output replay' : ''}`
    : opts.backup === false ? 'unprotected: --no-backup' : 'unprotected: backup not reachable';
  const line = `serving ${app.name} on ${runtime.vip}:${served.port} (${how})`;
  log.warn({ app: app.name, vip: runtime.vip, port: served.port, link: runtime.link.name }, line);
  // Also on stdout, one line, for scripts and tests that wait for readiness.
  process.stdout.write(line + '\n');
  if (protection?.isProtected) {
    const idle = cpuIdle();
    const hint = wakeUpHint(config.replication, idle);
    if (hint) log.info({ cpuIdle: idle }, hint);
  }

  await new Promise<void>((resolve) => {
    const stop = (why: string) => {
      log.info({ why }, 'stopping');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      // A second signal while closing: leave now.
      const force = () => process.exit(1);
      process.once('SIGTERM', force);
      process.once('SIGINT', force);
      resolve();
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.once('SIGTERM', onTerm);
    process.once('SIGINT', onInt);
    if (signal) {
      if (signal.aborted) stop('aborted');
      else signal.addEventListener('abort', () => stop('aborted'), { once: true });
    }
  });
  await served.close();
  await protection?.close();
  await runtime.close();
  log.info('stopped');
}
