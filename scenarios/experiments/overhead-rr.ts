// Scenario overhead-rr: what replication costs a request/response exchange (thesis
// tables 4-2 and 4-3), and issue 4's latency target.
//
// Workloads, each K stop-and-wait exchanges on one connection (scenarios/clients/rr.ts):
//   1000 B → 1000 B       table 4-2 (the thesis' echo of 1000-byte messages)
//   256 B, 1 KB, 4 KB, 16 KB → 1 B     table 4-3
// against five servers (experiments/modes.ts): kernel TCP, intact with replication
// off (--no-backup), on (protected by a running backup, strict, default settings: each
// host polls the replication link up to replication.busyPollUs after its traffic), on
// with that polling off (sleep), and on with output replay. intact serves
// scenarios/apps/rr.ts; the kernel reference its rr mode: the same replies.
// In the same lab, the replication link's own round trip (kernel TCP stop-and-wait of
// small messages between the primary and backup namespaces, and ping). Issue 4: per
// exchange, the latency replication adds (on − off, medians) must be at most 1.5× it.
// The thesis reports total time per run and overhead = (backup − normal) / normal: so
// do we, on the summed exchange times; the medians are the robust per-exchange figures.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BUSY_POLL_US, loadConfig } from '../../shared/config.js';
import { withLab, type Lab } from '../../lab/topology.js';
import { uniquePrefix } from '../../lab/plan.js';
import { requireLab } from '../../lab/tools.js';
import { lineChart } from '../chart.js';
import { defineScenario, type Sample, type ScenarioContext, type ScenarioResult } from '../scenario.js';
import { thesisResults } from '../thesis.js';
import { runScenarioClient } from '../lib/programs.js';
import { quantile } from '../lib/stats.js';
import { REPO_ROOT } from '../lib/repo.js';
import { deadTimeNote, labWithDeadTime, measureReplicationRtt, busyPollSetting, MODE_LABEL, MODE_SHORT, MODES_RR as MODES, SCENARIO_DEAD_TIME_MS, withServer, type LinkRtt, type Mode } from './modes.js';

export interface RrWorkload {
  /** "4-2 1000/1000" style id. */
  id: string;
  table: '4-2' | '4-3';
  request: number;
  reply: number;
}

export const WORKLOADS: readonly RrWorkload[] = [
  { id: '1000→1000', table: '4-2', request: 1000, reply: 1000 },
  { id: '256→1', table: '4-3', request: 256, reply: 1 },
  { id: '1024→1', table: '4-3', request: 1024, reply: 1 },
  { id: '4096→1', table: '4-3', request: 4096, reply: 1 },
  { id: '16384→1', table: '4-3', request: 16384, reply: 1 },
];

// Warm-up: untimed exchanges before the timed ones, the same for every mode. Measured
// (per-500-exchange medians of one run with replication on): 430, 363, 230, 126, 86 us,
// then steady; without replication ~2,000 exchanges pass before the latency settles. What
// a long-running server costs per exchange is the steady state, not V8 compiling the
// path on a 2-core machine shared by client, primary and backup.
export const FULL = { exchanges: 5000, warmup: 3000, runs: 3, rttExchanges: 5000, pings: 100 } as const;
export const QUICK = { exchanges: 300, warmup: 100, runs: 1, rttExchanges: 500, pings: 50 } as const;
/** Issue 4: added latency per exchange at most this many replication round trips. */
export const TARGET_RTT_FACTOR = 1.5;

const RR_APP = `${REPO_ROOT}/scenarios/apps/rr.ts`;
/** Written beside the runner's files: every exchange of every run, µs. */
export const EXCHANGES_FILE = 'exchanges.csv';
const PORT = 7;

export interface RrFigures {
  runs: number;
  /** Median over runs of each run's median µs per exchange. */
  medianUs: number;
  p95Us: number;
  /** Mean over runs of the run's total time (sum of its exchanges, µs). */
  totalUs: number;
}

export interface RrRow {
  workload: string;
  table: string;
  request: number;
  reply: number;
  kernel: RrFigures | null;
  off: RrFigures | null;
  on: RrFigures | null;
  /** on − off, medians (µs): the latency replication adds per exchange. */
  addedUs: number | null;
  /** (on − off) / off on total time, %: the thesis' overhead. */
  overheadPct: number | null;
  /** The same on medians, %. */
  overheadMedianPct: number | null;
  /** addedUs ≤ 1.5 × the replication link's round trip. */
  targetMet: boolean | null;
  /** Strict, neither host polling the replication link (replication.busyPollUs = 0):
   *  both sleep between messages. sleep − off, medians (µs), and the same target. */
  sleep: RrFigures | null;
  sleepAddedUs: number | null;
  sleepTargetMet: boolean | null;
  /** Replication on with output replay (replication.outputReplay): the reply leaves
   *  without waiting for the backup. */
  replay: RrFigures | null;
  /** replay − off, medians (µs), and the same target. */
  replayAddedUs: number | null;
  replayTargetMet: boolean | null;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const med = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

/** Folds the per-run samples into one row per workload. Pure (tested without a lab). */
export function summarizeRr(samples: readonly Sample[], rttUs: number | null): RrRow[] {
  return WORKLOADS.map((w) => {
    const fig = (mode: Mode): RrFigures | null => {
      const rs = samples.filter((s) => s.workload === w.id && s.mode === mode && s.verified === true);
      if (rs.length === 0) return null;
      return {
        runs: rs.length,
        medianUs: r1(med(rs.map((s) => s.medianUs as number))),
        p95Us: r1(med(rs.map((s) => s.p95Us as number))),
        totalUs: Math.round(rs.reduce((a, s) => a + (s.totalUs as number), 0) / rs.length),
      };
    };
    const kernel = fig('kernel');
    const off = fig('off');
    const on = fig('on');
    const sleep = fig('sleep');
    const replay = fig('replay');
    const addedUs = on && off ? r1(on.medianUs - off.medianUs) : null;
    const sleepAddedUs = sleep && off ? r1(sleep.medianUs - off.medianUs) : null;
    const replayAddedUs = replay && off ? r1(replay.medianUs - off.medianUs) : null;
    return {
      workload: w.id,
      table: w.table,
      request: w.request,
      reply: w.reply,
      kernel,
      off,
      on,
      addedUs,
      overheadPct: on && off ? r1(((on.totalUs - off.totalUs) / off.totalUs) * 100) : null,
      overheadMedianPct: on && off ? r1(((on.medianUs - off.medianUs) / off.medianUs) * 100) : null,
      targetMet: addedUs !== null && rttUs !== null ? addedUs <= TARGET_RTT_FACTOR * rttUs : null,
      sleep,
      sleepAddedUs,
      sleepTargetMet: sleepAddedUs !== null && rttUs !== null ? sleepAddedUs <= TARGET_RTT_FACTOR * rttUs : null,
      replay,
      replayAddedUs,
      replayTargetMet: replayAddedUs !== null && rttUs !== null ? replayAddedUs <= TARGET_RTT_FACTOR * rttUs : null,
    };
  });
}

function steps(o: { quick: boolean; runs?: number }): number {
  const runs = o.runs ?? (o.quick ? QUICK.runs : FULL.runs);
  return 2 + rttPoints(o.quick) + WORKLOADS.length * MODES.length * runs;
}

/** How many times the replication link's round trip is measured in a run. */
export function rttPoints(quick: boolean): number {
  return quick ? 2 : WORKLOADS.length + 1;
}

export interface CombinedRtt extends LinkRtt {
  /** Each measurement's TCP median, µs, in order. */
  tcpMediansUs: number[];
  measurements: number;
}

/** Several measurements of the link as one: the median of each figure. Pure. */
export function combineRtts(rs: readonly LinkRtt[]): CombinedRtt | null {
  if (rs.length === 0) return null;
  const m = (xs: number[]) => r1(med(xs));
  const pings = rs.map((r) => r.pingMedianUs).filter((x): x is number => x !== null);
  return {
    tcpMedianUs: m(rs.map((r) => r.tcpMedianUs)),
    tcpP95Us: m(rs.map((r) => r.tcpP95Us)),
    tcpExchanges: rs[0]!.tcpExchanges,
    tcpRequestBytes: rs[0]!.tcpRequestBytes,
    tcpReplyBytes: rs[0]!.tcpReplyBytes,
    pingMedianUs: pings.length ? m(pings) : null,
    pingCount: rs[0]!.pingCount,
    tcpMediansUs: rs.map((r) => r.tcpMedianUs),
    measurements: rs.length,
  };
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  requireLab(['ip', 'nft']);
  const size = ctx.quick ? QUICK : FULL;
  const runs = ctx.runs ?? size.runs;
  const prefix = ctx.prefix ?? uniquePrefix('intact-so');
  const samples: Sample[] = [];
  const errors: string[] = [];
  const retries: string[] = [];
  // Every timed exchange, one CSV line each: the raw figures behind each run's median.
  const exchangeLines: string[] = ['workload,request,reply,mode,run,exchange,us'];
  const rtts: LinkRtt[] = [];
  let busyPollUs = DEFAULT_BUSY_POLL_US;
  ctx.progress.step(`lab up (${prefix})`);
  await withLab({ prefix, config: ctx.config }, async (labUp: Lab) => {
    const lab = labWithDeadTime(labUp, ctx.logDir, SCENARIO_DEAD_TIME_MS);
    // What the servers run with (a --set changes it), for the report.
    busyPollUs = loadConfig(lab.configs.primary).replication.busyPollUs;
    // The yardstick drifts with the machine's load as much as the figures do: measured
    // before every workload (quick: before the first) and once at the end; the target
    // uses the median of these medians.
    const measureRtt = async (k: number) => {
      ctx.progress.step(`replication link round trip (${k})`);
      try {
        const r = await measureReplicationRtt(lab, { exchanges: size.rttExchanges, pings: size.pings }, ctx.logDir);
        rtts.push(r);
        ctx.progress.note(`kernel TCP rr median ${r.tcpMedianUs} µs, ping median ${r.pingMedianUs ?? '—'} µs`);
        samples.push({
          workload: 'replication link', table: '', request: r.tcpRequestBytes, reply: r.tcpReplyBytes, mode: 'kernel', run: k,
          exchanges: r.tcpExchanges, medianUs: r.tcpMedianUs, p95Us: r.tcpP95Us, totalUs: null, verified: true,
          pingMedianUs: r.pingMedianUs,
        });
      } catch (e) {
        errors.push(`replication link round trip (${k}): ${(e as Error).message.split('\n')[0]}`);
      }
    };
    for (const [wi, w] of WORKLOADS.entries()) {
      if (wi === 0 || !ctx.quick) await measureRtt(rtts.length + 1);
      for (let i = 1; i <= runs; i++) {
        // Modes interleaved within a run: slow drift of the machine hits all three.
        for (const mode of MODES) {
          const label = `${w.id} B, ${MODE_LABEL[mode]}${runs > 1 ? ` (${i}/${runs})` : ''}`;
          ctx.progress.step(label);
          const tag = `rr-${w.request}-${w.reply}-${mode}-${i}`;
          try {
            const out = await withServer(
              lab,
              mode,
              {
                kernel: { mode: 'rr', opts: { port: PORT, request: w.request, reply: w.reply } },
                app: RR_APP,
                appOpts: { request: w.request, reply: w.reply },
                primaryArgs: ['--port', String(PORT)],
              },
              ctx.logDir,
              tag,
              (s) =>
                runScenarioClient(
                  lab,
                  'rr',
                  ['--host', s.host, '--port', String(PORT), '--exchanges', String(size.exchanges), '--warmup', String(size.warmup), '--request', String(w.request), '--reply', String(w.reply), '--samples'],
                  { timeoutMs: 60_000 + size.exchanges * 40, logDir: ctx.logDir, logName: `client-${tag}.log` },
                ),
              (why) => {
                retries.push(`${label}: ${why}`);
                ctx.progress.note(`void run, once more: ${why}`);
              },
            );
            if (!out.ok) throw new Error(out.error ?? 'replies did not verify');
            exchangeLines.push(...(out.us as number[] ?? []).map((us, k) => `${w.id},${w.request},${w.reply},${mode},${i},${k + 1},${us}`));
            samples.push({
              workload: w.id, table: w.table, request: w.request, reply: w.reply, mode, run: i,
              exchanges: out.exchanges as number, medianUs: out.medianUs as number, p95Us: out.p95Us as number,
              meanUs: out.meanUs as number, totalUs: Math.round((out.seconds as number) * 1e6), verified: out.verified === true,
            });
            ctx.progress.note(`median ${String(out.medianUs)} µs, total ${(out.seconds as number).toFixed(3)} s`);
          } catch (e) {
            const msg = `${label}: ${(e as Error).message.split('\n')[0]}`;
            errors.push(msg);
            ctx.progress.note(`failed: ${msg}`);
          }
        }
      }
    }
    await measureRtt(rtts.length + 1);
    ctx.progress.step('lab down');
  });
  writeFileSync(join(ctx.outDir, EXCHANGES_FILE), exchangeLines.join('\r\n') + '\r\n');
  return result(samples, combineRtts(rtts), errors, retries, size.exchanges, runs, size.warmup, busyPollUs);
}

function fmtUs(f: RrFigures | null): string {
  return f ? `${f.medianUs.toFixed(1)}` : 'failed';
}

export function result(samples: Sample[], rtt: CombinedRtt | null, errors: string[], retries: string[], exchanges: number, runs: number, warmup: number, busyPollUs = DEFAULT_BUSY_POLL_US): ScenarioResult {
  const rttUs = rtt ? rtt.tcpMedianUs : null;
  const rows = summarizeRr(samples, rttUs);
  const thesis = thesisResults() as unknown as {
    table_4_2_request_response_us: { normal_avg: number; backup_avg: number; overhead_pct: number };
    table_4_3_overhead_by_size: { rows: Array<{ size_bytes: number; normal_us: number; backup_us: number; overhead_pct: number }> };
  };
  const t42 = thesis.table_4_2_request_response_us;
  const budgetUs = rttUs !== null ? r1(TARGET_RTT_FACTOR * rttUs) : null;
  const targetRows = rows.filter((r) => r.targetMet !== null);
  const targetMet = targetRows.length === rows.length && targetRows.every((r) => r.targetMet);
  const sleepTargetMet = rows.every((r) => r.sleepTargetMet === true);
  const replayTargetMet = rows.every((r) => r.replayTargetMet === true);

  const comparison = rows.map((r) => {
    const thesisRow = r.table === '4-2'
      ? { normal_us: t42.normal_avg, backup_us: t42.backup_avg, overhead_pct: t42.overhead_pct }
      : thesis.table_4_3_overhead_by_size.rows.find((x) => x.size_bytes === r.request);
    const ours = r.on && r.off
      ? `${r.overheadPct}% (total ${(r.off.totalUs / 1e6).toFixed(3)} → ${(r.on.totalUs / 1e6).toFixed(3)} s; median +${r.addedUs} µs)`
      : 'failed';
    return {
      measure: `table ${r.table}: overhead of replication, ${r.workload} B, ${exchanges} exchanges`,
      ours,
      thesis: thesisRow ? `${thesisRow.overhead_pct}% (total ${(thesisRow.normal_us / 1e6).toFixed(3)} → ${(thesisRow.backup_us / 1e6).toFixed(3)} s)` : '—',
      note: r.table === '4-2' ? 'thesis: 5,000 exchanges, 100 Mbit/s Ethernet, asynchronous replication' : 'thesis: asynchronous replication; ours waits for the backup (strict)',
    };
  });
  comparison.push({
    measure: `issue 4: added latency per exchange ≤ 1.5 × replication round trip (strict, replication.busyPollUs = ${busyPollUs})`,
    ours: budgetUs === null ? 'round trip not measured' : `${targetMet ? 'MET' : 'NOT MET'}: worst +${Math.max(...rows.map((r) => r.addedUs ?? -Infinity))} µs vs budget ${budgetUs} µs`,
    thesis: '—',
    note: rttUs === null ? '' : `replication link kernel TCP rr median ${rttUs} µs`,
  });
  comparison.push({
    measure: 'issue 4: the same, strict, with replication.busyPollUs = 0 (no polling)',
    ours: budgetUs === null ? 'round trip not measured' : `${sleepTargetMet ? 'MET' : 'NOT MET'}: worst +${Math.max(...rows.map((r) => r.sleepAddedUs ?? -Infinity))} µs vs budget ${budgetUs} µs`,
    thesis: '—',
    note: 'both hosts sleep between replication messages: each exchange waits for the backup and then the primary to wake',
  });
  comparison.push({
    measure: 'issue 4: the same with output replay',
    ours: budgetUs === null ? 'round trip not measured' : `${replayTargetMet ? 'MET' : 'NOT MET'}: worst +${Math.max(...rows.map((r) => r.replayAddedUs ?? -Infinity))} µs vs budget ${budgetUs} µs`,
    thesis: '—',
    note: 'the reply leaves at once; the request is still acknowledged only once the backup holds it',
  });

  const table = {
    columns: ['workload (request→reply)', 'kernel median µs', 'off median µs', 'on median µs', 'on − off µs', 'target ≤ µs', 'met', 'overhead (total) %', 'overhead (median) %', 'on p95 µs',
      'sleep median µs', 'sleep − off µs', 'sleep met', 'replay median µs', 'replay − off µs', 'replay met'],
    rows: rows.map((r) => [
      r.workload, fmtUs(r.kernel), fmtUs(r.off), fmtUs(r.on), r.addedUs ?? '—', budgetUs ?? '—',
      r.targetMet === null ? '—' : r.targetMet ? 'yes' : 'NO', r.overheadPct ?? '—', r.overheadMedianPct ?? '—', r.on ? r.on.p95Us : '—',
      fmtUs(r.sleep), r.sleepAddedUs ?? '—', r.sleepTargetMet === null ? '—' : r.sleepTargetMet ? 'yes' : 'NO',
      fmtUs(r.replay), r.replayAddedUs ?? '—', r.replayTargetMet === null ? '—' : r.replayTargetMet ? 'yes' : 'NO',
    ]),
  };
  // One point per workload and mode (medians over runs): the run-by-run figures are in samples.
  const chartData = rows.flatMap((r) =>
    MODES.flatMap((m) => (r[m] ? [{ workload: r.workload, series: MODE_SHORT[m], medianUs: r[m]!.medianUs, p95Us: r[m]!.p95Us }] : [])),
  );
  const notes = [
    `${exchanges} timed exchanges per run (after ${warmup} untimed warm-up ones: V8 compiles the path during the first ~2,000), ${runs} run(s) per mode, modes interleaved; figures are medians over runs (totals: means). Every exchange's time is in ${EXCHANGES_FILE}.`,
    'on = `intact primary` protected by a running `intact backup` (strict mode: no byte reaches the wire before the backup holds it); replay = the same with output replay (`replication.outputReplay`: the reply leaves at once, unreplicated, and the request is acknowledged only once the backup holds it, as in strict mode); off = `intact primary --no-backup`; kernel = Node net on the primary namespace\'s kernel.',
    'intact serves scenarios/apps/rr.ts, which checkpoints every 256 KB of input at a request boundary (the store stays bounded); the kernel reference answers the same bytes.',
    rtt
      ? `Replication link round trip: kernel TCP stop-and-wait ${rtt.tcpRequestBytes} B → ${rtt.tcpReplyBytes} B between the namespaces (Node on both ends, like the replication channel), ${rtt.tcpExchanges} exchanges, measured ${rtt.measurements} time(s) through the run (medians ${rtt.tcpMediansUs.join(', ')} µs): median ${rtt.tcpMedianUs} µs (p95 ${rtt.tcpP95Us}); ping median ${rtt.pingMedianUs ?? '—'} µs.`
      : 'Replication link round trip: not measured (see errors).',
    'The thesis replicated asynchronously (NetVM remote writes, no wait for the backup), so its overhead excludes a round trip to the backup; intact waits for the backup\'s confirmation before the reply may leave.',
    busyPollUs > 0
      ? `${busyPollSetting(busyPollUs)} in on and replay: after its replication traffic the primary and the backup poll the link for up to ${busyPollUs} µs instead of sleeping (the window adapted to the gaps between messages, yielding the CPU to any other runnable process each round), so no exchange waits for an idle CPU to wake (see "machine" for how this machine's idle CPUs wait). A polling primary also reads the client's next request sooner, which off (no link, no polling) does not. off and kernel sleep as usual, and the link's round trip above is measured between sleeping processes.`
      : `${busyPollSetting(busyPollUs)} in on and replay: the primary and the backup sleep between replication messages.`,
    'sleep = on with replication.busyPollUs = 0 on both hosts: each exchange with a backup pays two wake-ups of an idle CPU more than without (the backup\'s for the batch, the primary\'s for the CONFIRM).',
    deadTimeNote(retries),
  ];
  return {
    ok: errors.length === 0 && rows.every((r) => r.kernel && r.off && r.on && r.sleep && r.replay),
    samples,
    summary: {
      exchanges,
      runs,
      deadTimeMs: SCENARIO_DEAD_TIME_MS,
      retries,
      replicationLink: rtt,
      busyPollUs,
      targetRttFactor: TARGET_RTT_FACTOR,
      targetBudgetUs: budgetUs,
      targetMet: budgetUs === null ? null : targetMet,
      sleepTargetMet: budgetUs === null ? null : sleepTargetMet,
      replayTargetMet: budgetUs === null ? null : replayTargetMet,
      rows,
    },
    table,
    comparison,
    chart: lineChart({
      title: 'Request/response: median µs per exchange',
      subtitle: `${exchanges} stop-and-wait exchanges, median over ${runs} run(s); ticks: p95; log scale`,
      data: chartData,
      x: { field: 'workload', title: 'request → reply (bytes)', sort: WORKLOADS.map((w) => w.id) },
      y: { field: 'medianUs', title: 'µs per exchange (median)', log: true },
      series: { field: 'series', title: 'server', sort: MODES.map((m) => MODE_SHORT[m]) },
      upper: { field: 'p95Us', title: 'p95 µs' },
    }),
    notes,
    errors,
  };
}

export const overheadRr = defineScenario({
  name: 'overhead-rr',
  title: 'Replication overhead on request/response (thesis tables 4-2, 4-3)',
  thesisRef: 'tables 4-2 and 4-3',
  description:
    'Stop-and-wait exchanges on one connection — 1000 B requests with 1000 B replies (table 4-2), and 256 B / 1 KB / 4 KB / 16 KB requests with a 1-byte reply (table 4-3) — ' +
    'against kernel TCP, intact without replication and intact protected by a running backup (strict at default settings, strict with neither host polling the replication link, output replay). The overhead is (on − off) / off of the total time, as the thesis reports it. ' +
    'The replication link\'s own round trip is measured in the same lab: issue 4 asks that replication add at most 1.5 × that round trip per exchange.',
  steps,
  run,
  controls: ['replication.deadTimeMs'],
});
