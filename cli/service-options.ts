// The options `intact primary` and `intact backup` share: the two roles must name the
// same config and the same app, so both declare and load them here, one way.
import type { Command } from 'commander';
import { loadConfig, type Config } from '../shared/config.js';
import { BUILTIN_APPS, loadApp, parseAppOptPairs, prepareApp, type PreparedApp } from '../primary/app.js';
import { collect, parsePort } from './options.js';

export interface ServiceCliOptions {
  config: string;
  app: string;
  appOpt: string[];
  port?: number;
  /** Open the service link inside this network namespace instead of the current one. */
  netns?: string;
  gso: boolean;
}

export function serviceOptions(cmd: Command, role: 'primary' | 'backup'): Command {
  const same = role === 'backup' ? ' (the same as the primary)' : '';
  return cmd
    .requiredOption('--config <file>', `deployment config, JSON${role === 'backup' ? '; the same file as the primary' : ' (see lab/two-hosts.example.json)'}`)
    .requiredOption('--app <name-or-module>', `built-in app (${BUILTIN_APPS.join(', ')}) or a module path${same}`)
    .option('--app-opt <key=value>', `app option, repeatable (e.g. root=/srv, bytes=1000000, seed=7)${same}`, collect, [])
    .option('--port <n>', "port the app serves (default: the app's)", parsePort)
    .option('--netns <name>', 'open the service interface inside this network namespace')
    .option('--no-gso', 'send MSS-sized frames instead of GSO super-frames');
}

/** The config and the app, loaded and checked, ready for serveApp. */
export async function loadService(opts: ServiceCliOptions): Promise<{ config: Config; app: PreparedApp }> {
  const config = loadConfig(opts.config);
  const app = prepareApp(await loadApp(opts.app), { port: opts.port, options: parseAppOptPairs(opts.appOpt ?? []) });
  return { config, app };
}
