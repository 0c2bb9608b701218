// The `intact` command: one program, a subcommand per role. Each area of the tree
// registers its own subcommands, so this file only assembles them.
import { Command, CommanderError } from 'commander';
import { isIntactError } from '../shared/errors.js';
import { registerLab } from '../lab/cli.js';
import { registerPrimary } from '../primary/cli.js';
import { registerBackup } from '../backup-daemon/cli.js';
import { registerDemo } from '../scenarios/demo.js';
import { registerBench } from '../scenarios/cli.js';
import { registerScenario } from '../scenarios/scenario-cli.js';

const program = new Command();
program
  .name('intact')
  .description('Keep TCP connections intact across server failures.')
  .showHelpAfterError()
  .exitOverride();

registerLab(program);
registerPrimary(program);
registerBackup(program);
registerDemo(program);
registerBench(program);
registerScenario(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode;
  } else if (isIntactError(e)) {
    process.stderr.write(`intact: ${e.message} (${e.code})\n`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
