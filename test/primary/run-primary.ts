// `intact primary` from source (through tsx), for lab tests that must not depend on a
// build or on cli/intact.ts having registered the command yet:
//   node --import tsx test/primary/run-primary.ts --config <file> --app <app> ...
import { Command, CommanderError } from 'commander';
import { registerPrimary } from '../../primary/cli.js';

const program = new Command().name('intact').exitOverride();
registerPrimary(program);
try {
  await program.parseAsync(['node', 'intact', 'primary', ...process.argv.slice(2)]);
} catch (e) {
  if (!(e instanceof CommanderError)) throw e;
  process.exitCode = e.exitCode;
}
