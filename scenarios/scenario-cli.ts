// `intact scenario <name> [--quick] [--json] [--out <dir>]`: the commander layer over
// scenarios/scenario.ts. Progress goes to stderr; stdout carries the result: a short
// human summary, or with --json the summary as one JSON object.
import { Command, InvalidArgumentError, Option } from 'commander';
import { CPU_LAYOUTS, type CpuLayout } from './lib/cpus.js';
import { positiveInt, prefixArg } from '../cli/options.js';
import type { ConfigPatch } from '../lab/topology.js';
import { findScenario, runScenario, scenarioNames } from './experiments/index.js';

/** `--set takeover.warmup=false`: one config setting for the lab, added to `acc`. The
 *  value is JSON when it parses as JSON (numbers, booleans, quoted strings), else the
 *  text itself. Exported for tests. */
export function configSetting(text: string, acc: ConfigPatch = {}): ConfigPatch {
  const eq = text.indexOf('=');
  const path = eq > 0 ? text.slice(0, eq).split('.') : [];
  if (path.length === 0 || path.some((k) => !/^[A-Za-z][A-Za-z0-9]*$/.test(k))) {
    throw new InvalidArgumentError(`expected <key.path>=<value>, e.g. takeover.warmup=false (got "${text}")`);
  }
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // plain text
  }
  let node = acc;
  for (const k of path.slice(0, -1)) {
    const next = node[k];
    node = node[k] = typeof next === 'object' && next !== null && !Array.isArray(next) ? (next as ConfigPatch) : {};
  }
  node[path.at(-1)!] = value;
  return acc;
}

interface ScenarioCliOptions {
  quick?: boolean;
  json?: boolean;
  out?: string;
  runs?: number;
  prefix?: string;
  list?: boolean;
  set?: ConfigPatch;
  levels?: number[];
  cpus?: CpuLayout;
}

/** `--levels 1000,10000`: positive whole numbers, each once, smallest first (the order
 *  the scenarios run and chart their levels in). */
export function levelList(text: string): number[] {
  const xs = text.split(',').map((x) => x.trim());
  const out: number[] = [];
  for (const x of xs) {
    const n = Number(x);
    if (x === '' || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected positive whole numbers separated by commas (got "${text}")`);
    if (!out.includes(n)) out.push(n);
  }
  return out.sort((a, b) => a - b);
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
    .option('--set <key=value>', 'a config setting for the lab, repeatable (e.g. takeover.warmup=false, backup.rxRingFrames=256): A/B runs of one setting; validated like a config file', (v, acc: ConfigPatch) => configSetting(v, acc), undefined)
    .option('--levels <n,...>', 'only these levels, for scenarios that have them (takeover-vs-connections: connection counts)', levelList)
    .addOption(new Option('--cpus <layout>', 'where the processes run (throughput): shared (the scheduler\'s choice) or primary-alone (the server alone on CPU 1, client and backup on CPU 0: the primary\'s host to itself, as on two hosts)').choices(CPU_LAYOUTS))
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
      const { summary } = await runScenario(name, { quick: opts.quick, runs: opts.runs, out: opts.out, prefix: opts.prefix, config: opts.set, levels: opts.levels, cpus: opts.cpus });
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary) + '\n');
      } else {
        process.stdout.write(`${summary.ok ? 'OK' : 'FAILED'}: ${summary.title} — ${summary.outDir}/report.md\n`);
        for (const e of summary.errors.slice(0, 10)) process.stdout.write(`  error: ${e.split('\n')[0]}\n`);
      }
      if (!summary.ok) process.exitCode = 1;
    });
}
