// Scenario 6, detection: how long the backup takes to declare a SIGKILLed primary dead,
// for several heartbeat settings (a config variant each: the lab's config, copied and
// edited), and how many takeovers happen while the primary is alive but busy — its main
// thread blocked 200 ms out of every 400 ms (scenarios/apps/busy.ts) while clients
// upload through it without pause. Those must be 0.
import { readFileSync } from 'node:fs';
import { DEFAULT_HEARTBEAT, heartbeatLabel } from '../../shared/config.js';
import { STARTUP_DEAD_MS, STARTUP_MS } from '../../shared/heartbeat/detector.js';
import { join } from 'node:path';
import { withLab } from '../../lab/topology.js';
import { uniquePrefix, VIP, type LabPlan } from '../../lab/plan.js';
import { killNetnsSync } from '../../lab/netns.js';
import { findNode } from '../../lab/plan.js';
import { CONFIG, lineChart } from '../chart.js';
import type { Table } from '../report.js';
import { defineScenario, type ScenarioContext, type ScenarioResult, type Sample } from '../scenario.js';
import { thesisResults } from '../thesis.js';
import { runScenarioClient } from '../lib/programs.js';
import { REPO_ROOT } from '../lib/repo.js';
import { summarize, round } from '../lib/stats.js';
import { events, flushClientNeighbours, killInSteadyState, lastEvent, lostBeforeKill, sleep, startPair, wall } from './pair.js';
import { heartbeatConfig, PENDING_APP } from './takeover-run.js';

export interface Setting {
  heartbeatIntervalMs: number;
  deadTimeMs: number;
}

export const SETTINGS: Setting[] = [
  { heartbeatIntervalMs: 10, deadTimeMs: 30 },
  { heartbeatIntervalMs: 10, deadTimeMs: 60 },
  { ...DEFAULT_HEARTBEAT },
  { heartbeatIntervalMs: 20, deadTimeMs: 60 },
  { heartbeatIntervalMs: 50, deadTimeMs: 150 },
];
const FULL_RUNS = 10;
const QUICK_RUNS = 2;
const FULL_BUSY_S = 60;
const QUICK_BUSY_S = 10;
const BUSY_APP = join(REPO_ROOT, 'scenarios/apps/busy.ts');
const BUSY_PORT = 5002;
/** Each upload of the busy phase. */
const UPLOAD_BYTES = 20_000_000;
/** Quiet time between the pair's start and the busy phase. */
const SETTLE_MS = 2000;

export const settingLabel = (s: Setting): string => `${s.heartbeatIntervalMs}/${s.deadTimeMs} ms`;

function runsOf(o: { quick: boolean; runs?: number }): number {
  return o.runs ?? (o.quick ? QUICK_RUNS : FULL_RUNS);
}

const isDefault = (s: Setting): boolean =>
  s.heartbeatIntervalMs === DEFAULT_HEARTBEAT.heartbeatIntervalMs && s.deadTimeMs === DEFAULT_HEARTBEAT.deadTimeMs;

/** Busy phases: every setting at full size; the default alone with --quick. */
function busySettings(quick: boolean): Setting[] {
  return quick ? SETTINGS.filter(isDefault) : SETTINGS;
}

/** The lab's config with other heartbeat figures, written beside the report. */
export function configVariant(lab: LabPlan, s: Setting, dir: string): string {
  return heartbeatConfig(lab, s.heartbeatIntervalMs, s.deadTimeMs, dir);
}

interface DetectSample {
  [k: string]: string | number | boolean | null;
  kind: 'detect';
  setting: string;
  heartbeatIntervalMs: number;
  deadTimeMs: number;
  run: number;
  ok: boolean;
  spurious: boolean;
  detectMs: number;
  /** Silence the backup saw before declaring (its last beat -> its declaration). */
  silentMs: number;
  /** Last beat heard -> the kill (negative: heard before the kill). */
  lastHeardBeforeKillMs: number;
  takeoverMs: number;
  error: string | null;
}

async function detectOnce(lab: LabPlan, s: Setting, config: string, run: number, tag: string, logDir: string): Promise<DetectSample> {
  const sample: DetectSample = {
    kind: 'detect', setting: settingLabel(s), heartbeatIntervalMs: s.heartbeatIntervalMs, deadTimeMs: s.deadTimeMs, run,
    ok: false, spurious: false, detectMs: NaN, silentMs: NaN, lastHeardBeforeKillMs: NaN, takeoverMs: NaN, error: null,
  };
  await flushClientNeighbours(lab);
  const pair = await startPair(lab, { app: PENDING_APP, config, logDir, tag });
  try {
    // The kill must land in a steady state: past the detector's start-up window.
    const kill = await killInSteadyState(pair);
    if ('spurious' in kill) {
      sample.spurious = true;
      sample.error = kill.spurious;
      return sample;
    }
    const { killAt } = kill;
    await pair.backup.waitForLine(/"event":"takeover"/, 30_000);
    const dead = lastEvent(pair.backup, 'primary-dead');
    const tk = lastEvent(pair.backup, 'takeover');
    sample.detectMs = Number(dead?.detectedAt) - killAt;
    sample.silentMs = Number(dead?.silentMs);
    sample.lastHeardBeforeKillMs = Number(dead?.lastHeardAt) - killAt;
    sample.takeoverMs = Number(tk?.totalMs);
    sample.ok = Number.isFinite(sample.detectMs) && sample.detectMs > 0;
    if (!sample.ok) sample.error = `detection instant ${sample.detectMs} ms after the kill`;
  } catch (e) {
    sample.error = (e as Error).message.split('\n')[0] ?? String(e);
  } finally {
    await pair.stop();
    killNetnsSync(findNode(lab, 'primary').netns);
  }
  return sample;
}

interface BusySample {
  [k: string]: string | number | boolean | null;
  kind: 'busy';
  setting: string;
  heartbeatIntervalMs: number;
  deadTimeMs: number;
  ok: boolean;
  seconds: number;
  uploads: number;
  uploadsVerified: number;
  uploadedBytes: number;
  spurious: boolean;
  falseTakeovers: number;
  falseDeadDeclarations: number;
  pathDowns: number;
  /** The primary declared its (alive) backup lost: it then serves unprotected. */
  primaryLostBackup: number;
  primaryAlive: boolean;
  error: string | null;
}

async function busyOnce(lab: LabPlan, s: Setting, config: string, seconds: number, logDir: string, attempt: number): Promise<BusySample> {
  const sample: BusySample = {
    kind: 'busy', setting: settingLabel(s), heartbeatIntervalMs: s.heartbeatIntervalMs, deadTimeMs: s.deadTimeMs,
    ok: false, spurious: false, seconds, uploads: 0, uploadsVerified: 0, uploadedBytes: 0, falseTakeovers: 0, falseDeadDeclarations: 0,
    pathDowns: 0, primaryLostBackup: 0, primaryAlive: false, error: null,
  };
  await flushClientNeighbours(lab);
  const tag = `busy-${s.heartbeatIntervalMs}-${s.deadTimeMs}${attempt > 1 ? `-retry${attempt - 1}` : ''}`;
  const pair = await startPair(lab, { app: BUSY_APP, config, logDir, tag });
  let eventsBefore = 0;
  try {
    // Settle first: a detection in the first seconds after start is not the busy
    // primary's doing; it is reported as spurious and the phase made again.
    await sleep(SETTLE_MS);
    const lost = lostBeforeKill(pair.backup, pair.primary);
    if (lost) {
      sample.spurious = true;
      sample.error = `spurious failure detection before the busy phase (${lost})`;
      return sample;
    }
    eventsBefore = events(pair.backup).length;
    const end = performance.now() + seconds * 1000;
    let n = 0;
    while (performance.now() < end) {
      n++;
      const out = await runScenarioClient(lab, 'bulk-send', ['--host', VIP, '--port', String(BUSY_PORT), '--bytes', String(UPLOAD_BYTES), '--seed', String(n)], {
        timeoutMs: Math.round(Math.max(10_000, end - performance.now() + 30_000)), logDir, logName: `client-${tag}-${n}.log`,
      });
      sample.uploads++;
      if (out.ok && out.verified === true) {
        sample.uploadsVerified++;
        sample.uploadedBytes += UPLOAD_BYTES;
      }
      if (!pair.primary.running) break;
    }
    sample.primaryAlive = pair.primary.running;
  } catch (e) {
    sample.error = (e as Error).message.split('\n')[0] ?? String(e);
  } finally {
    const ev = events(pair.backup).slice(eventsBefore);
    sample.falseTakeovers = ev.filter((e) => e.event === 'takeover').length;
    sample.falseDeadDeclarations = ev.filter((e) => e.event === 'primary-dead').length;
    sample.pathDowns = ev.filter((e) => e.event === 'path-down').length;
    // Counted before the pair stops: stopping takes the backup down first, which the
    // primary rightly reports as a lost backup; that one is not the busy phase's.
    try {
      sample.primaryLostBackup = (readFileSync(pair.primary.logFile!, 'utf8').match(/BACKUP LOST/g) ?? []).length;
    } catch {
      // no log: counted as 0
    }
    await pair.stop();
    killNetnsSync(findNode(lab, 'primary').netns);
  }
  if (sample.spurious) return sample;
  sample.ok = sample.error === null && sample.primaryAlive && sample.falseTakeovers === 0 && sample.uploads > 0 &&
    sample.uploadsVerified === sample.uploads;
  if (!sample.ok && sample.error === null) {
    sample.error = `${sample.falseTakeovers} takeover(s) while the primary was alive; ${sample.uploadsVerified}/${sample.uploads} uploads verified; primary ${sample.primaryAlive ? 'alive' : 'gone'}`;
  }
  return sample;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const runs = runsOf(ctx);
  const busySeconds = ctx.quick ? QUICK_BUSY_S : FULL_BUSY_S;
  const samples: Sample[] = [];
  const errors: string[] = [];
  await withLab({ prefix: ctx.prefix ?? uniquePrefix('intact-s'), config: ctx.config }, async (lab) => {
    const configs = new Map(SETTINGS.map((s) => [settingLabel(s), configVariant(lab, s, ctx.outDir)]));
    for (let r = 1; r <= runs; r++) {
      for (const s of SETTINGS) {
        ctx.progress.step(`run ${r}/${runs}: heartbeat ${s.heartbeatIntervalMs} ms, dead time ${s.deadTimeMs} ms`);
        for (let attempt = 1; attempt <= 3; attempt++) {
          const x = await detectOnce(lab, s, configs.get(settingLabel(s))!, r, `hb${s.heartbeatIntervalMs}-${s.deadTimeMs}-${r}${attempt > 1 ? `-retry${attempt - 1}` : ''}`, ctx.logDir);
          samples.push(x);
          if (x.ok) ctx.progress.note(`detected ${x.detectMs.toFixed(1)} ms after the kill`);
          else {
            ctx.progress.note(`${x.spurious ? 'SPURIOUS (run again)' : 'FAILED'}: ${x.error}`);
            if (!x.spurious) errors.push(`${settingLabel(s)}, run ${r}: ${x.error}`);
          }
          if (!x.spurious) break;
        }
      }
    }
    for (const s of busySettings(ctx.quick)) {
      ctx.progress.step(`busy primary for ${busySeconds} s: heartbeat ${s.heartbeatIntervalMs} ms, dead time ${s.deadTimeMs} ms`);
      for (let attempt = 1; attempt <= 3; attempt++) {
        const b = await busyOnce(lab, s, configs.get(settingLabel(s))!, busySeconds, ctx.logDir, attempt);
        samples.push(b);
        if (b.spurious) {
          ctx.progress.note(`SPURIOUS (run again): ${b.error}`);
          continue;
        }
        ctx.progress.note(`${b.falseTakeovers} false takeover(s), ${b.uploadsVerified}/${b.uploads} uploads verified, ${b.pathDowns} path-down(s)`);
        if (!b.ok) errors.push(`busy ${settingLabel(s)}: ${b.error}`);
        break;
      }
    }
  });

  const detect = samples.filter((s) => s.kind === 'detect');
  const busy = samples.filter((s) => s.kind === 'busy' && s.spurious !== true);
  const busySpurious = samples.filter((s) => s.kind === 'busy' && s.spurious === true).length;
  const perSetting = SETTINGS.map((s) => {
    const at = detect.filter((x) => x.setting === settingLabel(s));
    const ok = at.filter((x) => x.ok === true);
    const st = summarize(ok.map((x) => Number(x.detectMs)));
    const silent = summarize(ok.map((x) => Number(x.silentMs)));
    const b = busy.find((x) => x.setting === settingLabel(s));
    return {
      setting: settingLabel(s), ...s, runs: ok.length, spurious: at.filter((x) => x.spurious === true).length,
      detectMedianMs: round(st.median, 1), detectP95Ms: round(st.p95, 1), detectMinMs: round(st.min, 1), detectMaxMs: round(st.max, 1),
      silentMedianMs: round(silent.median, 1),
      busy: b ? { seconds: b.seconds, falseTakeovers: b.falseTakeovers, falseDeadDeclarations: b.falseDeadDeclarations, pathDowns: b.pathDowns, primaryLostBackup: b.primaryLostBackup, uploads: b.uploads, uploadsVerified: b.uploadsVerified } : null,
    };
  });
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
  const table: Table = {
    columns: ['heartbeat / dead time', 'ok runs', 'detect ms median', 'p95', 'min', 'max', 'spurious detections (idle)', `busy ${busySeconds} s: false takeovers`, 'busy: path-downs', 'busy: primary lost backup', 'busy: uploads verified'],
    rows: perSetting.map((p) => [
      p.setting, `${p.runs}/${runs}`, fmt(p.detectMedianMs), fmt(p.detectP95Ms), fmt(p.detectMinMs), fmt(p.detectMaxMs), p.spurious,
      p.busy ? Number(p.busy.falseTakeovers) : 'not run', p.busy ? Number(p.busy.pathDowns) : '–', p.busy ? Number(p.busy.primaryLostBackup) : '–',
      p.busy ? `${p.busy.uploadsVerified}/${p.busy.uploads}` : '–',
    ]),
  };
  const thesis = thesisResults();
  const falseTotal = busy.reduce((a, b) => a + Number(b.falseTakeovers), 0);
  const comparison = [
    ...perSetting.map((p) => ({
      measure: `detection, heartbeat ${p.heartbeatIntervalMs} ms, dead time ${p.deadTimeMs} ms`,
      ours: `${fmt(p.detectMedianMs)} ms median, ${fmt(p.detectP95Ms)} ms p95`,
      thesis: `~${thesis.failure_detection.detection_s_approx * 1000} ms (heartbeat ${thesis.failure_detection.heartbeat_interval_s * 1000} ms, checked every ${thesis.failure_detection.check_interval_s * 1000} ms)`,
      note: 'kill -> the backup declares the primary dead',
    })),
    {
      measure: 'takeovers while the primary is alive and busy',
      ours: `${falseTotal} in ${busy.length} busy run(s) of ${busySeconds} s (${busy.map((b) => b.setting).join(', ')})`,
      thesis: 'not reported',
      note: 'must be 0',
    },
  ];
  const chartData = detect.filter((x) => x.ok === true).map((x) => ({ setting: x.setting, detectMs: x.detectMs, kind: 'kill -> declared dead' }))
    .concat(SETTINGS.map((s) => ({ setting: settingLabel(s), detectMs: s.deadTimeMs, kind: 'configured dead time' })));
  const chart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Failure detection time by heartbeat setting', subtitle: 'each run (point), median (tick), configured dead time (square)' },
    width: 480, height: 300, background: 'white', config: CONFIG,
    data: { values: chartData },
    layer: [
      { transform: [{ filter: "datum.kind != 'configured dead time'" }], mark: { type: 'point', opacity: 0.7, filled: true, size: 70 },
        encoding: { x: { field: 'setting', type: 'ordinal', title: 'heartbeat / dead time', sort: SETTINGS.map(settingLabel), axis: { labelAngle: 0 } },
          y: { field: 'detectMs', type: 'quantitative', title: 'milliseconds' }, xOffset: { field: 'kind' }, color: { field: 'kind', type: 'nominal', title: '' } } },
      { transform: [{ filter: "datum.kind != 'configured dead time'" }], mark: { type: 'tick', thickness: 2, size: 40, color: 'black', opacity: 0.5 },
        encoding: { x: { field: 'setting', type: 'ordinal', sort: SETTINGS.map(settingLabel) }, y: { aggregate: 'median', field: 'detectMs', type: 'quantitative' } } },
      { transform: [{ filter: "datum.kind == 'configured dead time'" }], mark: { type: 'square', size: 80, filled: true },
        encoding: { x: { field: 'setting', type: 'ordinal', sort: SETTINGS.map(settingLabel) }, y: { field: 'detectMs', type: 'quantitative' }, color: { field: 'kind', type: 'nominal', title: '' } } },
    ],
  } as unknown as ReturnType<typeof lineChart>;
  const spurious = detect.filter((x) => x.spurious === true).length;
  return {
    ok: perSetting.every((p) => p.runs === runs) && busy.every((b) => b.ok === true) && busy.length === busySettings(ctx.quick).length,
    samples,
    summary: { runsPerSetting: runs, busySeconds, settings: perSetting, falseTakeovers: falseTotal, spuriousDetectionsIdle: spurious + busySpurious },
    table,
    comparison,
    chart,
    notes: [
      'detect: from the SIGKILL of the primary (this process\'s clock) to the instant the backup\'s detector declared it dead (its "primary-dead" event\'s detectedAt); both paths (replication link and service LAN) must be silent for the dead time.',
      `the kill lands at least ${STARTUP_MS + 200} ms after the backup first heard the primary: during a peer's first ${STARTUP_MS} ms the detector waits ${STARTUP_DEAD_MS} ms of silence instead of the dead time (a starting process is at its busiest: loading and compiling code), so a primary that dies that young is declared dead ~${STARTUP_DEAD_MS} ms after its death.`,
      'detect can be shorter than the dead time: the silence the detector times starts at the last beat heard before the kill, up to one heartbeat interval earlier.',
      'each setting is a config variant: the lab\'s intact.json with replication.heartbeatIntervalMs and deadTimeMs edited (files beside this report).',
      `busy: the primary serves scenarios/apps/busy.ts (the sink, with its main thread blocked 200 ms out of every 400 ms once a client connects) while a client uploads ${UPLOAD_BYTES / 1e6} MB after ${UPLOAD_BYTES / 1e6} MB through it, verifying each receipt; a "takeover" event in the backup during that time is a false takeover. ${ctx.quick ? `With --quick only the default setting (${heartbeatLabel(DEFAULT_HEARTBEAT)}) is run busy, for 10 s.` : 'Every setting is run busy for 60 s.'}`,
      `spurious detections (idle): the pair declared each other dead while both were idle, before the kill or in the ${SETTLE_MS / 1000} s before a busy phase (the run was made again): ${spurious} + ${busySpurious}. They say how much CPU contention on the machine the setting tolerates.`,
    ],
    errors,
  };
}

export const detection = defineScenario({
  name: 'detection',
  title: 'Failure detection time and false takeovers',
  thesisRef: 'section 4 (failure detection: 0.2 s heartbeats, checked every second)',
  description:
    'The primary is killed with SIGKILL under several heartbeat settings; the time until the backup declares it dead is measured. ' +
    'Then the primary is kept alive but busy (its main thread blocked, clients uploading through it) and takeovers are counted: there must be none.',
  steps: (o) => runsOf(o) * SETTINGS.length + busySettings(o.quick).length,
  run,
  controls: ['replication.heartbeatIntervalMs', 'replication.deadTimeMs'],
});
