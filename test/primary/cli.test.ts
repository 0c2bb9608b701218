// `intact primary` argument handling: every mistake is caught before a link is opened.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerPrimary, runPrimary } from '../../primary/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'intact-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'config.json');
writeFileSync(
  config,
  JSON.stringify({
    vip: '192.0.2.100',
    primary: { serviceInterface: 'nosuchif0', serviceAddress: '192.0.2.1', replicationAddress: '198.51.100.1' },
    backup: { serviceInterface: 'nosuchif0', serviceAddress: '192.0.2.2', replicationAddress: '198.51.100.2' },
    replication: { key: '00112233445566778899aabbccddeeff' },
  }),
);

const base = { config, app: 'echo', appOpt: [] as string[], gso: true };

t.test('a missing config file is ERR_INTACT_CONFIG', async (t) => {
  await t.rejects(runPrimary({ ...base, config: join(dir, 'none.json') }), { code: 'ERR_INTACT_CONFIG' });
});

t.test('an unknown app is ERR_INTACT_APP', async (t) => {
  await t.rejects(runPrimary({ ...base, app: 'nosuch' }), { code: 'ERR_INTACT_APP' });
});

t.test('a malformed --app-opt is ERR_INTACT_APP_OPTION', async (t) => {
  await t.rejects(runPrimary({ ...base, appOpt: ['justakey'] }), { code: 'ERR_INTACT_APP_OPTION' });
});

t.test("an option the app does not know is ERR_INTACT_APP_OPTION, before the link opens", async (t) => {
  await t.rejects(runPrimary({ ...base, app: 'source', appOpt: ['bytes=lots'] }), {
    code: 'ERR_INTACT_APP_OPTION',
    message: /source: bytes/,
  });
});

t.test('commander: the command, its options, and a bad --port', async (t) => {
  const program = new Command().exitOverride();
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerPrimary(program);
  const cmd = program.commands.find((c) => c.name() === 'primary')!;
  t.ok(cmd);
  const flags = cmd.options.map((o) => o.long);
  for (const f of ['--config', '--app', '--app-opt', '--port']) t.ok(flags.includes(f), f);
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  await t.rejects(program.parseAsync(['node', 'intact', 'primary', '--config', config, '--app', 'echo', '--port', '70000']), {
    code: 'commander.invalidArgument',
  });
  await t.rejects(program.parseAsync(['node', 'intact', 'primary', '--app', 'echo']), {
    code: 'commander.missingMandatoryOptionValue',
  });
});
