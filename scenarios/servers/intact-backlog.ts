// `intact primary` with a listen backlog: what the setup scenario (thesis table 4-1:
// backlog 0 and 50) runs, because `intact primary` has no --backlog flag and
// serveApp() listens with the default. The same steps as primary/cli.ts's runPrimary —
// protection first (unless --no-backup), then the app's server — except that the
// server listens with { backlog }. Prints the same "serving ..." line when ready.
//   node --import tsx scenarios/servers/intact-backlog.ts --config F --app echo --backlog 0 [--no-backup]
// Note what the figure then shows: intact's listener hands an established connection
// to the app at once when the server has a connection handler (shared/tcp/listener.ts),
// so the backlog only bounds connections nobody accepts yet; it is passed faithfully.
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../shared/config.js';
import { loadApp, parseAppOptPairs, prepareApp } from '../../primary/app.js';
import { openServiceRuntime } from '../../primary/runtime.js';
import { createServer } from '../../primary/server.js';
import { Protection } from '../../primary/replication/protect.js';

const int = (min: number, max: number) => (v: string): number => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
  return n;
};

const o = new Command()
  .name('intact-backlog')
  .requiredOption('--config <file>', 'deployment config')
  .requiredOption('--app <name-or-module>', 'built-in app or module path')
  .option('--app-opt <key=value>', 'app option, repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[])
  .option('--port <n>', "port (default: the app's)", int(1, 65535))
  .requiredOption('--backlog <n>', 'listen backlog', int(0, 65535))
  .option('--no-backup', 'serve without replication')
  .option('--backup-wait <ms>', 'how long to wait for the backup at start', int(0, 600_000), 5000)
  .parse()
  .opts<{ config: string; app: string; appOpt: string[]; port?: number; backlog: number; backup: boolean; backupWait: number }>();

const config = loadConfig(o.config);
const app = await loadApp(o.app);
const prepared = prepareApp(app, { port: o.port, options: parseAppOptPairs(o.appOpt) });
const runtime = openServiceRuntime({ ifname: config.primary.serviceInterface, vip: config.vip, gso: true, stackOptions: config.tcp });
let protection: Protection | undefined;
if (o.backup) {
  protection = new Protection(runtime, config, app.name);
  protection.on('conflict', () => process.kill(process.pid, 'SIGTERM'));
  await protection.start(o.backupWait);
}
const server = createServer({ ...app.serverOptions, runtime }, (socket) => {
  socket.on('error', () => {});
  prepared.instance.connection(socket);
});
await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen({ port: prepared.port, backlog: o.backlog }, () => resolve());
});
const how = protection?.isProtected
  ? `protected by the backup at ${config.backup.replicationAddress}`
  : o.backup ? 'unprotected: backup not reachable' : 'unprotected: --no-backup';
process.stdout.write(`serving ${app.name} on ${runtime.vip}:${prepared.port} backlog ${o.backlog} (${how})\n`);

const stop = async () => {
  process.once('SIGTERM', () => process.exit(1));
  const closed = new Promise<void>((r) => server.close(() => r()));
  await prepared.instance.close?.();
  for (const s of server.connections()) s.destroy();
  await closed;
  await protection?.close();
  await runtime.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
