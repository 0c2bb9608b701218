// The scenario framework's writers, without a lab: CSV, the report, the chart, and the
// runner writing every file of a (fake) scenario. No root needed.
import t from 'tap';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toCsv } from '../../scenarios/csv.js';
import { formatReport, mdTable } from '../../scenarios/report.js';
import { lineChart, renderSvg } from '../../scenarios/chart.js';
import { defineScenario, runScenario, findScenario, commandLine, timestamp } from '../../scenarios/scenario.js';
import { levelFigures, bytesLabel, medP95 } from '../../scenarios/experiments/figures.js';
import { cpuIdleLabel, machine } from '../../scenarios/machine.js';
import { configSetting, levelList } from '../../scenarios/scenario-cli.js';
import { checkConfigPatch, mergeConfig } from '../../lab/topology.js';
import { thesisResults } from '../../scenarios/thesis.js';

t.test('CSV: header is the union of keys in first-seen order', async (t) => {
  const csv = toCsv([{ a: 1, b: 'x' }, { b: 'y', c: true }]);
  t.equal(csv, 'a,b,c\r\n1,x,\r\n,y,true\r\n');
});

t.test('CSV: quotes commas, quotes and newlines; empties for null and NaN', async (t) => {
  const csv = toCsv([{ s: 'a,b', q: 'say "hi"', n: 'l1\nl2', z: null, nan: NaN }]);
  t.equal(csv.split('\r\n')[1], '"a,b","say ""hi""","l1\nl2",,');
});

t.test('Markdown table escapes pipes and aligns figures right', async (t) => {
  const md = mdTable({ columns: ['level', 'ms'], rows: [['a|b', 1.5]] });
  t.equal(md, '| level | ms |\n| --- | ---: |\n| a\\|b | 1.5 |');
});

t.test('report: our figures, the thesis beside them with its source, the command', async (t) => {
  const md = formatReport({
    title: 'T', name: 'n', description: 'D', thesisRef: 'figure 4-2', thesisSource: 'Rui Li, thesis', ok: true, quick: false,
    command: 'intact scenario n', startedAt: '2025-01-01T00:00:00Z', durationS: 1, machine: machine(),
    table: { columns: ['x', 'y'], rows: [[1, 2]] },
    comparison: [{ measure: 'takeover', ours: '3 ms', thesis: 'grows', note: 'shape' }],
    notes: ['n1'], errors: [], files: ['report.md'], chartFile: 'chart.svg',
  });
  t.match(md, /^# T/);
  t.match(md, /\| takeover \| 3 ms \| grows \| shape \|/);
  t.match(md, /Thesis figures from: Rui Li, thesis/);
  t.match(md, /```\nintact scenario n\n```/);
  t.match(md, /!\[chart\]\(chart\.svg\)/);
  t.notMatch(md, /## Errors/);
});

t.test('report: the machine section says how idle CPUs wait', async (t) => {
  const m = { ...machine(), cpuIdle: { driver: 'haltpoll', governor: 'haltpoll', guestHaltPollNs: 0 } };
  const md = formatReport({
    title: 'T', name: 'n', description: 'D', thesisRef: '', thesisSource: '', ok: true, quick: false,
    command: 'intact scenario n', startedAt: '2025-01-01T00:00:00Z', durationS: 1, machine: m,
    table: { columns: ['x'], rows: [[1]] }, comparison: [], notes: [], errors: [], files: [],
  });
  t.match(md, /\| idle CPUs \| haltpoll \/ haltpoll, guest halt polling 0 ns \|/);
  t.equal(cpuIdleLabel({ driver: null, governor: null, guestHaltPollNs: null }), 'no cpuidle driver');
  t.equal(cpuIdleLabel({ driver: 'intel_idle', governor: 'menu', guestHaltPollNs: null }), 'intel_idle / menu');
});

t.test('chart: a line chart renders to SVG headless', async (t) => {
  const svg = await renderSvg(lineChart({
    title: 'c', data: [{ x: 'a', y: 1, m: 'p', u: 2 }, { x: 'b', y: 3, m: 'p', u: 4 }],
    x: { field: 'x', title: 'x' }, y: { field: 'y', title: 'y', log: true }, series: { field: 'm', title: 'm' }, upper: { field: 'u', title: 'u' },
  }));
  t.match(svg, /^<svg /);
  t.match(svg, /<\/svg>$/);
});

t.test('figures: median and p95 per level over ok samples only', async (t) => {
  const figs = levelFigures([
    { lvl: 1, ok: true, m: 10 }, { lvl: 1, ok: true, m: 20 }, { lvl: 1, ok: false, m: 1000 }, { lvl: 2, ok: true, m: NaN },
  ], 'lvl', ['m']);
  t.same(figs, [{ level: 1, measure: 'm', median: 15, p95: 19.5, n: 2 }, { level: 2, measure: 'm', median: NaN, p95: NaN, n: 0 }]);
  t.equal(medP95(figs[0]), '15.0 / 19.5');
  t.equal(medP95(figs[1]), '–');
  t.same([0, 10_000, 1_000_000, 1500].map(bytesLabel), ['0', '10 KB', '1 MB', '1500 B']);
});

t.test('thesis figures are read from the copy in the project, source kept', async (t) => {
  t.match(thesisResults().source, /Rui Li/);
});

t.test('names: timestamp is file-safe, the command line reproduces the options', async (t) => {
  t.equal(timestamp(new Date('2025-01-31T12:00:05.123Z')), '2025-01-31T12-00-05');
  t.equal(commandLine('x', { quick: true, runs: 3 }), 'intact scenario x --quick --runs 3');
  t.equal(commandLine('x', { config: { takeover: { warmup: false }, backup: { rxRingFrames: 256 } } }),
    'intact scenario x --set takeover.warmup=false --set backup.rxRingFrames=256');
});

t.test('--set: dotted paths become one nested patch; values are JSON when they parse', async (t) => {
  let p = configSetting('takeover.warmup=false');
  p = configSetting('backup.rxRingFrames=256', p);
  p = configSetting('takeover.pmtuKick=true', p);
  p = configSetting('logDir=/tmp/x', p);
  t.same(p, { takeover: { warmup: false, pmtuKick: true }, backup: { rxRingFrames: 256 }, logDir: '/tmp/x' });
  for (const bad of ['warmup', '=1', 'a..b=1', 'a.=1', '__proto__.x=1']) t.throws(() => configSetting(bad), /expected <key\.path>=<value>/, bad);
});

t.test('--levels: positive whole numbers, duplicates dropped; a scenario without levels refuses them', async (t) => {
  t.same(levelList('1000, 10000,1000'), [1000, 10000]);
  t.same(levelList('10000,1,100'), [1, 100, 10000], 'smallest first');
  for (const bad of ['', '0', '1.5', 'a', '10,,20', '-3']) t.throws(() => levelList(bad), /positive whole numbers/, bad);
  t.equal(commandLine('x', { levels: [1000, 10000] }), 'intact scenario x --levels 1000,10000');
  await t.rejects(runScenario('overhead-rr', { levels: [5], progress: { silent: true } }), { code: 'ERR_INTACT_USAGE', message: /takeover-vs-connections/ });
});

t.test('mergeConfig: objects merged key by key, other values replaced, the base untouched', async (t) => {
  const base = { replication: { port: 1, key: 'k' }, takeover: { pmtuKick: true }, list: [1] };
  const merged = mergeConfig(base, { replication: { port: 2 }, list: [2], takeover: { warmup: false } });
  t.same(merged, { replication: { port: 2, key: 'k' }, takeover: { pmtuKick: true, warmup: false }, list: [2] });
  t.same(base, { replication: { port: 1, key: 'k' }, takeover: { pmtuKick: true }, list: [1] });
  const hostile = mergeConfig(base, JSON.parse('{"takeover": {"__proto__": {"pmtuKick": false, "x": 1}}}') as Record<string, unknown>);
  t.equal(Object.getPrototypeOf(hostile.takeover), Object.prototype, 'no prototype replaced');
  t.same(hostile.takeover, { pmtuKick: true });
});

t.test('--set of a setting the scenario sets itself is refused', async (t) => {
  await t.rejects(runScenario('throughput', { config: { replication: { deadTimeMs: 50 } }, progress: { silent: true } }),
    { code: 'ERR_INTACT_USAGE', message: /replication\.deadTimeMs itself/ });
  await t.rejects(runScenario('detection', { config: { replication: { heartbeatIntervalMs: 5 } }, progress: { silent: true } }), { code: 'ERR_INTACT_USAGE' });
});

t.test('--set of a value the config refuses fails before any lab or output exists', async (t) => {
  const dir = join(tmpdir(), `intact-scenario-bad-set-${process.pid}`);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Would need root and minutes if it built the lab first; refused at once, no files.
  await t.rejects(runScenario('throughput', { config: { tcp: { sndBuf: 10 } }, out: dir, progress: { silent: true } }),
    { code: 'ERR_INTACT_CONFIG', message: /tcp\.sndBuf/ });
  t.notOk(existsSync(dir), 'no output directory was made');
  t.doesNotThrow(() => checkConfigPatch({ tcp: { sndBuf: 1 << 20 } }), 'a valid setting passes');
  t.throws(() => checkConfigPatch({ replication: { port: 'x' } }), { code: 'ERR_INTACT_CONFIG' });
});

t.test('runner: writes every file and a summary of a scenario', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-scenario-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  defineScenario({
    name: 'fake-for-test', title: 'Fake', thesisRef: 'nothing', description: 'a fake', steps: () => 2,
    async run(ctx) {
      ctx.progress.step('one');
      ctx.progress.step('two');
      return {
        ok: true, samples: [{ level: 1, ms: 2.5, ok: true }, { level: 2, ms: 3.5, ok: true }], summary: { answer: 42 },
        table: { columns: ['level', 'ms'], rows: [[1, 2.5]] }, comparison: [],
        chart: lineChart({ title: 'f', data: [{ l: '1', v: 2.5, s: 'a' }], x: { field: 'l', title: 'l' }, y: { field: 'v', title: 'v' }, series: { field: 's', title: 's' } }),
        notes: [], errors: [],
      };
    },
  });
  t.equal(findScenario('fake-for-test').title, 'Fake');
  t.throws(() => findScenario('no-such-scenario'), { code: 'ERR_INTACT_INVALID_ARG' });
  const { summary } = await runScenario('fake-for-test', { out: dir, progress: { silent: true } });
  for (const f of ['samples.json', 'samples.csv', 'summary.json', 'chart.svg', 'chart.vl.json', 'report.md']) {
    t.ok(existsSync(join(dir, f)), f);
  }
  t.equal(summary.ok, true);
  t.equal(summary.answer, 42);
  const onDisk = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  t.equal(onDisk.scenario, 'fake-for-test');
  t.equal(onDisk.machine.cpus > 0, true);
  t.equal(readFileSync(join(dir, 'samples.csv'), 'utf8').trim().split('\r\n').length, 3);
  t.equal(JSON.parse(readFileSync(join(dir, 'samples.json'), 'utf8')).length, 2);
});

t.test('runner: a scenario that throws yields ok false and the error, files still written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-scenario-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  defineScenario({
    name: 'fake-failing', title: 'Failing', thesisRef: 'nothing', description: 'fails', steps: () => 1,
    async run() {
      throw new Error('lab exploded');
    },
  });
  const { summary } = await runScenario('fake-failing', { out: dir, progress: { silent: true } });
  t.equal(summary.ok, false);
  t.match(summary.errors.join(' '), /lab exploded/);
  t.match(readFileSync(join(dir, 'report.md'), 'utf8'), /lab exploded/);
});

t.test('CLI: --list names every scenario; an unknown one fails before any lab', async (t) => {
  const { Command } = await import('commander');
  const { registerScenario } = await import('../../scenarios/scenario-cli.js');
  const program = new Command().name('intact').exitOverride();
  registerScenario(program);
  let out = '';
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'intact', 'scenario', '--list']);
  } finally {
    process.stdout.write = write;
  }
  for (const n of ['takeover-vs-data', 'takeover-vs-connections', 'detection']) t.match(out, n);
  await t.rejects(program.parseAsync(['node', 'intact', 'scenario', 'no-such-scenario']), { code: 'ERR_INTACT_INVALID_ARG' });
});
