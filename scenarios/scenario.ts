// The experiment runner: a registry of scenarios and the one way each is run. A
// scenario measures and returns its samples, a summary, a table of our figures, the
// thesis' figures beside ours and a chart spec; the runner owns the rest — the output
// directory, progress, and the files every scenario writes:
//   samples.json  samples.csv  summary.json  chart.svg  chart.vl.json  report.md
// Adding a scenario: a file in scenarios/experiments/ exporting a ScenarioDefinition,
// listed in scenarios/experiments/index.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderSvg, type ChartSpec } from './chart.js';
import { toCsv, type Sample } from './csv.js';
import { machine, type Machine } from './machine.js';
import { formatReport, type ComparisonRow, type Table } from './report.js';
import { thesisResults } from './thesis.js';
import { createProgress, type Progress, type ProgressOptions } from './lib/progress.js';
import { IntactError } from '../shared/errors.js';
import { checkConfigPatch, type ConfigPatch } from '../lab/topology.js';
import { checkLayout, type CpuLayout } from './lib/cpus.js';

export type { Sample } from './csv.js';

export interface ScenarioOptions {
  /** Reduced sizes and repetitions: a check that it works, in well under a minute each. */
  quick?: boolean;
  /** Repetitions per level (default: the scenario's, fewer with --quick). */
  runs?: number;
  /** Output directory (default results/<name>-<timestamp>/ in the working directory). */
  out?: string;
  /** Lab prefix (default a fresh unique one). */
  prefix?: string;
  /** Settings merged over the lab's config (`--set`). */
  config?: ConfigPatch;
  /** Only these levels (`--levels`), for a scenario that has levels (ScenarioDefinition.levels). */
  levels?: number[];
  /** Where the processes run (`--cpus`), for a scenario that places them (ScenarioDefinition.cpuLayouts). */
  cpus?: CpuLayout;
  /** Progress on stderr; `silent` for tests. */
  progress?: ProgressOptions;
}

export interface ScenarioContext {
  readonly name: string;
  readonly quick: boolean;
  readonly runs: number | undefined;
  readonly prefix: string | undefined;
  /** Settings merged over the lab's config (`--set`): pass to withLab. */
  readonly config: ConfigPatch | undefined;
  /** The levels asked for (`--levels`); undefined: the scenario's own. */
  readonly levels: number[] | undefined;
  /** Where the processes run (`--cpus`; default shared). */
  readonly cpus: CpuLayout;
  readonly outDir: string;
  /** Where programs' logs go (outDir/logs). */
  readonly logDir: string;
  readonly progress: Progress;
}

export interface ScenarioResult {
  ok: boolean;
  samples: Sample[];
  /** The scenario's figures (JSON-able), merged into summary.json. */
  summary: Record<string, unknown>;
  table: Table;
  comparison: ComparisonRow[];
  chart: ChartSpec;
  notes: string[];
  errors: string[];
}

export interface ScenarioDefinition {
  name: string;
  title: string;
  /** The thesis figure or table re-created ("figure 4-2"). */
  thesisRef: string;
  description: string;
  /** Progress steps for these options (the bar's total). */
  steps(o: { quick: boolean; runs?: number; levels?: number[] }): number;
  /** What `--levels` chooses in this scenario ("connection counts"); absent: it has no
   *  levels to choose, and `--levels` is refused. */
  levels?: string;
  /** It places its processes on CPUs as `--cpus` says (scenarios/lib/cpus.ts); absent:
   *  `--cpus` other than shared is refused. */
  cpuLayouts?: boolean;
  /** Config settings (dotted paths) the scenario sets itself, e.g. the dead time it
   *  measures with: `--set` of one of them is refused, since the run would not use it. */
  controls?: readonly string[];
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/** How a run was made: goes into summary.json and the report. */
export interface RunMeta {
  quick: boolean;
  command: string;
  startedAt: string;
  durationS: number;
  machine: Machine;
}

export interface ScenarioSummary extends RunMeta {
  scenario: string;
  title: string;
  ok: boolean;
  outDir: string;
  files: string[];
  errors: string[];
  [k: string]: unknown;
}

const registry = new Map<string, ScenarioDefinition>();

export function defineScenario(d: ScenarioDefinition): ScenarioDefinition {
  if (registry.has(d.name)) throw new IntactError('ERR_INTACT_INVALID_ARG', `scenario ${d.name} registered twice`);
  registry.set(d.name, d);
  return d;
}

export function scenarioNames(): string[] {
  return [...registry.keys()];
}

export function findScenario(name: string): ScenarioDefinition {
  const d = registry.get(name);
  if (!d) {
    throw new IntactError('ERR_INTACT_INVALID_ARG', `unknown scenario "${name}": one of ${scenarioNames().join(', ') || '(none registered)'}`);
  }
  return d;
}

/** "2025-01-31T12-00-05": sortable, and a valid file name everywhere. */
export function timestamp(d = new Date()): string {
  return d.toISOString().slice(0, 19).replace(/:/g, '-');
}

/** The command line that reproduces a run (what the report prints). */
export function commandLine(name: string, o: ScenarioOptions): string {
  const parts = ['intact', 'scenario', name];
  if (o.quick) parts.push('--quick');
  if (o.runs !== undefined) parts.push('--runs', String(o.runs));
  if (o.levels !== undefined) parts.push('--levels', o.levels.join(','));
  if (o.cpus !== undefined && o.cpus !== 'shared') parts.push('--cpus', o.cpus);
  if (o.out !== undefined) parts.push('--out', o.out);
  for (const [path, value] of flattenPatch(o.config ?? {})) parts.push('--set', `${path}=${JSON.stringify(value)}`);
  return parts.join(' ');
}

/** [["takeover.warmup", false], ...] from { takeover: { warmup: false } }. */
function flattenPatch(p: ConfigPatch, at = ''): Array<[string, unknown]> {
  return Object.entries(p).flatMap(([k, v]) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? flattenPatch(v as ConfigPatch, `${at}${k}.`) : [[`${at}${k}`, v] as [string, unknown]]);
}

export interface WrittenRun {
  summary: ScenarioSummary;
  result: ScenarioResult;
}

/** Writes every file of a finished run into `outDir`; returns the file names. */
export async function writeOutputs(
  def: ScenarioDefinition,
  outDir: string,
  result: ScenarioResult,
  meta: RunMeta,
): Promise<ScenarioSummary> {
  mkdirSync(outDir, { recursive: true });
  const files = ['samples.json', 'samples.csv', 'summary.json', 'chart.svg', 'chart.vl.json', 'report.md'];
  const errors = [...result.errors];
  writeFileSync(join(outDir, 'samples.json'), JSON.stringify(result.samples, null, 1) + '\n');
  writeFileSync(join(outDir, 'samples.csv'), toCsv(result.samples));
  writeFileSync(join(outDir, 'chart.vl.json'), JSON.stringify(result.chart, null, 1) + '\n');
  try {
    writeFileSync(join(outDir, 'chart.svg'), await renderSvg(result.chart));
  } catch (e) {
    errors.push(`chart: ${(e as Error).message}`);
    files.splice(files.indexOf('chart.svg'), 1);
  }
  // The scenario's figures first: the runner's fields are the contract and win.
  const summary: ScenarioSummary = {
    ...result.summary,
    scenario: def.name,
    title: def.title,
    ok: result.ok && errors.length === 0,
    ...meta,
    outDir,
    files,
    errors,
  };
  writeFileSync(join(outDir, 'summary.json'), JSON.stringify(summary, null, 1) + '\n');
  const thesis = thesisResults();
  writeFileSync(join(outDir, 'report.md'), formatReport({
    title: def.title,
    name: def.name,
    description: def.description,
    thesisRef: def.thesisRef,
    thesisSource: thesis.source,
    ok: summary.ok,
    quick: meta.quick,
    command: meta.command,
    startedAt: meta.startedAt,
    durationS: meta.durationS,
    machine: meta.machine,
    table: result.table,
    comparison: result.comparison,
    notes: result.notes,
    errors,
    files,
    chartFile: files.includes('chart.svg') ? 'chart.svg' : undefined,
  }));
  return summary;
}

/** Runs one scenario and writes its files. Never throws for a failed measurement: the
 *  failure is in summary.errors and ok is false. */
export async function runScenario(name: string, o: ScenarioOptions = {}): Promise<WrittenRun> {
  const def = findScenario(name);
  if (o.levels !== undefined && def.levels === undefined) {
    throw new IntactError('ERR_INTACT_USAGE', `scenario ${name} has no levels to choose: --levels applies to ${scenarioNames().filter((n) => findScenario(n).levels).join(', ')}`);
  }
  const overridden = flattenPatch(o.config ?? {}).map(([path]) => path).filter((path) => def.controls?.includes(path));
  if (overridden.length > 0) {
    throw new IntactError('ERR_INTACT_USAGE', `scenario ${name} sets ${overridden.join(', ')} itself: --set of ${overridden.length > 1 ? 'them' : 'it'} would not be used`);
  }
  // A setting the config refuses fails here, before a lab is built for it.
  if (o.config !== undefined) checkConfigPatch(o.config);
  const cpus = o.cpus ?? 'shared';
  if (cpus !== 'shared') {
    if (!def.cpuLayouts) throw new IntactError('ERR_INTACT_USAGE', `scenario ${name} does not place its processes: --cpus applies to ${scenarioNames().filter((n) => findScenario(n).cpuLayouts).join(', ')}`);
    checkLayout(cpus);
  }
  const quick = o.quick ?? false;
  const started = new Date();
  const outDir = resolve(o.out ?? join('results', `${name}-${timestamp(started)}`));
  const logDir = join(outDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const progress = createProgress(def.steps({ quick, runs: o.runs, levels: o.levels }), o.progress);
  let result: ScenarioResult;
  try {
    result = await def.run({ name, quick, runs: o.runs, prefix: o.prefix, config: o.config, levels: o.levels, cpus, outDir, logDir, progress });
  } catch (e) {
    result = {
      ok: false, samples: [], summary: {}, table: { columns: [], rows: [] }, comparison: [],
      chart: { data: { values: [] }, mark: 'point' } as ChartSpec, notes: [],
      errors: [`${(e as Error).message}`],
    };
  } finally {
    progress.done();
  }
  const summary = await writeOutputs(def, outDir, result, {
    quick,
    command: commandLine(name, o),
    startedAt: started.toISOString(),
    durationS: (Date.now() - started.getTime()) / 1000,
    machine: machine(),
  });
  return { summary, result };
}
