// `intact backup`: the backup daemon for one primary (same config, same app).
//
//   intact backup --config lab.json --app http --app-opt root=/srv
import type { Command } from 'commander';
import { loadService, serviceOptions, type ServiceCliOptions } from '../cli/service-options.js';
import { logger } from '../shared/log.js';
import { BackupDaemon } from './daemon.js';

const log = logger('backup');

export type BackupCliOptions = ServiceCliOptions;

export function registerBackup(program: Command): void {
  const cmd = program
    .command('backup')
    .description('run the backup daemon: mirror the primary, take over its VIP and connections when it dies');
  serviceOptions(cmd, 'backup')
    .action(async (opts: BackupCliOptions) => {
      await runBackup(opts);
    });
}

export async function runBackup(opts: BackupCliOptions, signal?: AbortSignal): Promise<void> {
  const { config, app: prepared } = await loadService(opts);
  const daemon = new BackupDaemon({ config, app: prepared, netns: opts.netns, gso: opts.gso });
  await daemon.start();
  await new Promise<void>((resolve) => {
    const stop = (why: string) => {
      log.info({ why }, 'stopping');
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    signal?.addEventListener('abort', () => stop('aborted'), { once: true });
  });
  await daemon.close();
}
