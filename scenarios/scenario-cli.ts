// `intact scenario <name> [--quick] [--json] [--out <dir>]`: the commander layer over
// scenarios/scenario.ts. Progress goes to stderr; stdout carries the result: a short
// human summary, or with --json the summary as one JSON object.
import { Command } from 'commander';
import { positiveInt, prefixArg } from '../cli/options.js';
import { findScenario, runScenario, scenarioNames } from './experiments/index.js';



interface ScenarioCliOptions {
  quick?: boolean;
  json?: boolean;
  out?: string;
  runs?: number;
  prefix?: string;
  list?: boolean;
}

export function registerScenario(program: Command): void {
  program
    .command('scenario')
    .description('run one experiment in a fresh lab; writes samples, summary, chart and a report beside the thesis\' figures')
    .argument('[name]', `scenario: ${scenarioNames().join(', ')}`)
    .option('--quick', 'reduced sizes and repetitions: checks that it works, not the experiment')
    .option('--json', 'print the summary as one JSON object on stdout')
    .option('--out <dir>', 'output directory (default results/<name>-<timestamp>/)')
    .option('--runs <n>', 'repetitions per level (default: the scenario\'s; 10 for the takeover scenarios)', positiveInt)
    .option('--prefix <prefix>', 'lab prefix (default: a fresh unique one)', prefixArg)
    .option('--list', 'list the scenarios and exit')
    .action(async (name: string | undefined, opts: ScenarioCliOptions) => {
      if (opts.list || !name) {
        for (const n of scenarioNames()) {
          const d = findScenario(n);
          process.stdout.write(`${n.padEnd(26)} ${d.title} (thesis ${d.thesisRef})\n`);
        }
        if (!name && !opts.list) process.exitCode = 2;
        return;
      }
      findScenario(name); // an unknown name fails before any lab is built
      const { summary } = await runScenario(name, { quick: opts.quick, runs: opts.runs, out: opts.out, prefix: opts.prefix });
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary) + '\n');
      } else {
        process.stdout.write(`${summary.ok ? 'OK' : 'FAILED'}: ${summary.title} — ${summary.outDir}/report.md\n`);
        for (const e of summary.errors.slice(0, 10)) process.stdout.write(`  error: ${e.split('\n')[0]}\n`);
      }
      if (!summary.ok) process.exitCode = 1;
    });
}
