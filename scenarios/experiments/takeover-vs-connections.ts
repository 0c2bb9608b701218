// Scenario 2, takeover-vs-connections (thesis figure 4-3): 1 / 10 / 100 / 1,000 /
// 10,000 connections with 10 KB pending each when the primary is SIGKILLed; each
// takeover step, the client-visible stall on one probed connection, the time until
// every connection has answered again, and the backup's memory per connection.
//
// Memory: the backup runs with a gauge (scenarios/programs/backup-memory.ts, the same
// daemon): RSS and V8 heap after a full GC, once with the primary connected and no
// client connection, once with every connection holding its 10 KB; the difference over
// the count is the backup's cost of one connection (10 KB of held data included).
import { withLab } from '../../lab/topology.js';
import { DEFAULT_HEARTBEAT, heartbeatLabel } from '../../shared/config.js';
import { uniquePrefix } from '../../lab/plan.js';
import { lineChart } from '../chart.js';
import { defineScenario, type ScenarioContext, type ScenarioResult, type Sample } from '../scenario.js';
import { thesisResults } from '../thesis.js';
import { summarize, round } from '../lib/stats.js';
import { figure, figuresJson, levelFigures, medP95 } from './figures.js';
import { heartbeatConfig, takeoverRunWithRetry } from './takeover-run.js';
import { TAKEOVER_MEASURES } from './takeover-vs-data.js';

export const CONNECTION_LEVELS = [1, 10, 100, 1_000, 10_000];
export const QUICK_CONNECTION_LEVELS = [1, 10, 100];
export const PENDING_PER_CONNECTION = 10_000;
const FULL_RUNS = 10;
/** 10,000 connections take ~a minute a run on a 2-core machine: fewer runs there. */
const FULL_RUNS_10K = 3;
const QUICK_RUNS = 1;
/** When the default heartbeats (10/80 ms) keep declaring a loaded pair dead before the
 *  kill, one more attempt with these: the takeover steps do not depend on them. */
const RELAXED = { heartbeatIntervalMs: 50, deadTimeMs: 1000 };

function plan(o: { quick: boolean; runs?: number; levels?: readonly number[] }): Array<{ connections: number; runs: number }> {
  const levels = o.levels ?? (o.quick ? QUICK_CONNECTION_LEVELS : CONNECTION_LEVELS);
  return levels.map((connections) => ({
    connections,
    runs: o.runs ?? (o.quick ? QUICK_RUNS : connections >= 10_000 ? FULL_RUNS_10K : FULL_RUNS),
  }));
}

const MEASURES: Array<[string, string]> = [...TAKEOVER_MEASURES, ['recoveredMaxMs', 'every connection answered again']];

function perConnection(samples: readonly Sample[], conns: number, before: string, withKey: string): number {
  const xs = samples
    .filter((s) => s.connections === conns && s.ok === true && typeof s[before] === 'number' && typeof s[withKey] === 'number')
    .map((s) => ((s[withKey] as number) - (s[before] as number)) / conns);
  return summarize(xs).median;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const levels = plan(ctx);
  const samples: Sample[] = [];
  const errors: string[] = [];
  const maxRuns = Math.max(...levels.map((l) => l.runs));
  await withLab({ prefix: ctx.prefix ?? uniquePrefix('intact-s'), config: ctx.config }, async (lab) => {
    const relaxed = { config: heartbeatConfig(lab, RELAXED.heartbeatIntervalMs, RELAXED.deadTimeMs, ctx.outDir), heartbeat: `${RELAXED.heartbeatIntervalMs}/${RELAXED.deadTimeMs}` };
    for (let r = 1; r <= maxRuns; r++) {
      for (const { connections, runs } of levels) {
        if (r > runs) continue;
        ctx.progress.step(`run ${r}/${runs}: ${connections} connection(s) x 10 KB pending`);
        const attempts = await takeoverRunWithRetry(lab, {
          connections, pending: PENDING_PER_CONNECTION, logDir: ctx.logDir, tag: `${connections}c-${r}`, memory: true,
          clientTimeoutMs: 120_000 + connections * 60,
        }, (s) => {
          if (s.ok) {
            ctx.progress.note(`detect ${s.detectMs.toFixed(1)} ms, takeover ${s.totalMs.toFixed(2)} ms, stall ${s.stallMs.toFixed(1)} ms, ` +
              `all answered ${s.recoveredMaxMs.toFixed(1)} ms, backup +${(((s.backupRssWith ?? 0) - (s.backupRssBefore ?? 0)) / 1e6).toFixed(1)} MB RSS`);
          } else ctx.progress.note(`${s.spurious ? 'SPURIOUS (run again)' : 'FAILED'}: ${s.error}`);
        }, 3, relaxed);
        for (const s of attempts) {
          samples.push({ run: r, ...s });
          if (!s.ok) errors.push(`${connections} connection(s), run ${r}: ${s.error}`);
        }
      }
    }
  });

  const measures = MEASURES.map(([m]) => m);
  // A relaxed run's detection reflects its own dead time: not in the detect figure.
  const forFigures = samples.map((s) => (s.heartbeat === heartbeatLabel(DEFAULT_HEARTBEAT) ? s : { ...s, detectMs: NaN }));
  const figs = levelFigures(forFigures, 'connections', measures);
  const label = Object.fromEntries(MEASURES);
  const memory = Object.fromEntries(levels.map(({ connections }) => [String(connections), {
    rssPerConnectionBytes: round(perConnection(samples, connections, 'backupRssBefore', 'backupRssWith'), 0),
    heapPerConnectionBytes: round(perConnection(samples, connections, 'backupHeapBefore', 'backupHeapWith'), 0),
  }]));
  const kb = (x: number) => (Number.isFinite(x) ? (x / 1024).toFixed(1) : '–');
  const okRuns = (c: number) => samples.filter((s) => s.connections === c && s.ok === true).length;
  const digits = (m: string) => (['rebuildMs', 'claimMs', 'restartMs', 'kickMs', 'totalMs'].includes(m) ? 3 : 1);
  const table = {
    columns: ['connections', 'ok runs', ...MEASURES.map(([, l]) => `${l} ms (median / p95)`), 'backup RSS / conn (KiB)', 'backup heap / conn (KiB)'],
    rows: levels.map(({ connections, runs }) => [
      connections, `${okRuns(connections)}/${runs}`,
      ...measures.map((m) => medP95(figure(figs, connections, m), digits(m))),
      kb(memory[String(connections)]!.rssPerConnectionBytes), kb(memory[String(connections)]!.heapPerConnectionBytes),
    ]),
  };
  const total = (c: number) => figure(figs, c, 'totalMs')?.median ?? NaN;
  // Levels may come from --levels: the slope spans the smallest and the largest run.
  const counts = levels.map((l) => l.connections);
  const top = Math.max(...counts);
  const bottom = Math.min(...counts);
  const perConnMs = top > bottom ? (total(top) - total(bottom)) / (top - bottom) : NaN;
  const thesis = thesisResults();
  const comparison = [
    {
      measure: 'takeover time vs connections, 10 KB pending each (rebuild..kick, excluding detection)',
      ours: levels.map(({ connections }) => `${connections}: ${total(connections).toFixed(2)} ms`).join('; ') +
        (Number.isFinite(perConnMs) ? `; slope ~${(perConnMs * 1000).toFixed(1)} µs per connection (${bottom} to ${top})` : ''),
      thesis: thesis.figure_4_3_takeover_vs_connections,
      note: 'figure 4-3 is a plot; its shape (linear growth) is compared',
    },
    {
      measure: 'connections a backup can hold',
      ours: `${okRuns(top) > 0 ? top : 'fewer than ' + top} connections taken over in this run`,
      thesis: thesis.limits.max_sockets ?? 'about 40',
      note: 'the thesis\' limit came from a 19 MB kernel submap',
    },
    {
      measure: 'backup memory per connection',
      ours: `${kb(memory[String(top)]!.rssPerConnectionBytes)} KiB RSS, ${kb(memory[String(top)]!.heapPerConnectionBytes)} KiB heap at ${top} connections (10 KB of held data included)`,
      thesis: thesis.limits.buffers_per_socket ?? 'about 400 KB',
      note: 'ours grows with the data held (bounded by storeBytesPerConnection); the thesis preallocated fixed buffers',
    },
  ];
  const chartData = figs.map((f) => ({ connections: f.level, measure: label[f.measure], median: f.median, p95: f.p95 }))
    .filter((d) => Number.isFinite(d.median) && d.median > 0);
  const chart = lineChart({
    title: 'Takeover vs number of connections (10 KB pending each)',
    subtitle: 'median (line) and p95 (tick); log-log scale',
    data: chartData,
    x: { field: 'connections', title: 'connections', type: 'quantitative', log: true },
    y: { field: 'median', title: 'milliseconds', log: true },
    series: { field: 'measure', title: 'step', sort: MEASURES.map(([, l]) => l) },
    upper: { field: 'p95', title: 'p95 ms' },
  });
  const spurious = samples.filter((s) => s.spurious === true).length;
  return {
    ok: levels.every((l) => okRuns(l.connections) === l.runs) && samples.every((s) => s.ok === true || s.spurious === true),
    samples,
    summary: {
      levels: levels.map((l) => l.connections), runsPerLevel: Object.fromEntries(levels.map((l) => [String(l.connections), l.runs])),
      pendingPerConnection: PENDING_PER_CONNECTION, figures: figuresJson(figs), memory, takeoverUsPerConnection: round(perConnMs * 1000, 2),
      failedRuns: samples.filter((s) => s.ok !== true && s.spurious !== true).length, spuriousDetections: spurious,
    },
    table,
    comparison,
    chart,
    notes: [
      `spurious failure detections before the kill (the pair declared each other dead while both were alive; the run was made again): ${spurious}.`,
      'one client namespace opens every connection (200 at a time), sends "hold 10000" and 10 KB on each, and waits until each has read "held" (the backup then holds the 10 KB); the app never checkpoints, so the backup holds and replays it all.',
      'stall: on the first connection, probed stop-and-wait (1 byte, 1 ms apart) across the kill; "every connection answered again": each other connection sends one probe the moment the client sees the kill, and this is the kill -> the last reply.',
      'memory: backup RSS and V8 heap after a full GC (node --expose-gc), with the primary connected and no client connection vs with every connection holding its data, divided by the count; median over the runs. Small counts are noise (a page or a GC arena is more than one connection).',
      `after 3 spurious detections in a row, a run is made once more with heartbeat ${RELAXED.heartbeatIntervalMs} ms / dead time ${RELAXED.deadTimeMs} ms (the samples' "heartbeat" column says which; its detect figure then reflects that dead time): ${samples.filter((s) => s.heartbeat !== heartbeatLabel(DEFAULT_HEARTBEAT)).length} such run(s).`,
      `runs per level: ${levels.map((l) => `${l.connections}: ${l.runs}`).join(', ')}.`,
    ],
    errors: errors.filter((e) => !e.includes('spurious failure detection')),
  };
}

export const takeoverVsConnections = defineScenario({
  name: 'takeover-vs-connections',
  title: 'Takeover time vs number of connections',
  thesisRef: 'figure 4-3',
  description:
    'Many connections, 10 KB pending on each, when the primary is killed with SIGKILL: failure detection, each takeover step, ' +
    'the client-visible stall, the time until every connection answers again, and the backup\'s memory per connection.',
  steps: (o) => plan(o).reduce((a, l) => a + l.runs, 0),
  levels: 'connection counts',
  run,
});
