// `intact bench` without cli/intact.ts (for the tests, and until the command is wired
// there):  node --import tsx scenarios/run-bench.ts [--quick] [--json] ...
import { Command } from 'commander';
import { registerBench } from './cli.js';

const program = new Command().name('intact');
registerBench(program);
await program.parseAsync(['node', 'intact', 'bench', ...process.argv.slice(2)]);
