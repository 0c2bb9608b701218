// `intact backup`: the backup daemon for one primary (same config, same app).
//
//   intact backup --config lab.json --app http --app-opt root=/srv
import type { Command } from 'commander';
import { collect, parsePort } from '../cli/options.js';
import { loadConfig } from '../shared/config.js';
import { logger } from '../shared/log.js';
import { loadApp, parseAppOptPairs, prepareApp } from '../primary/app.js';
import { BackupDaemon } from './daemon.js';

const log = logger('backup');

export interface BackupCliOptions {
  config: string;
  app: string;
  appOpt: string[];
  port?: number;
  netns?: string;
  gso: boolean;
}



export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('run the backup daemon: mirror the primary, take over its VIP and connections when it dies')
    .requiredOption('--config <file>', 'deployment config (JSON; the same file as the primary)')
    .requiredOption('--app <name-or-module>', 'the same app as the primary: built-in (echo, sink, source, http, kv) or a module path')
    .option('--app-opt <key=value>', 'app option, repeatable (as the primary)', collect, [])
    .option('--port <n>', "port the app serves (default: the app's)", parsePort)
    .option('--netns <name>', 'open the service interface inside this network namespace')
    .option('--no-gso', 'send MSS-sized frames instead of GSO super-frames')
    .action(async (opts: BackupCliOptions) => {
      await runBackup(opts);
    });
}

export async function runBackup(opts: BackupCliOptions, signal?: AbortSignal): Promise<void> {
  const config = loadConfig(opts.config);
  const app = await loadApp(opts.app);
  const prepared = prepareApp(app, { port: opts.port, options: parseAppOptPairs(opts.appOpt ?? []) });
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
