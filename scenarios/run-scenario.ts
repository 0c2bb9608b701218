// `intact scenario` without cli/intact.ts (tests, and before it is wired in):
//   node --import tsx scenarios/run-scenario.ts takeover-vs-data --quick
import { Command } from 'commander';
import { registerScenario } from './scenario-cli.js';

const program = new Command().name('intact').exitOverride();
registerScenario(program);
await program.parseAsync(['node', 'intact', 'scenario', ...process.argv.slice(2)]);
