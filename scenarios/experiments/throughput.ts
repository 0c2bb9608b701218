// Scenario throughput: bulk transfer in each direction with replication on vs off vs
// kernel TCP (the thesis' throughput note: "no obvious difference with and without
// replication"), and issue 4's target: with a backup, at least 90% of without.
//   to   client → server: scenarios/clients/bulk-send.ts into a sink (intact's sink app
//        hashes and checkpoints every chunk; the kernel reference hashes the same way)
//   from server → client: scenarios/clients/bulk-recv.ts from a source
// Every transfer is verified by sha256 at the far end.
import { DEFAULT_BUSY_POLL_US, loadConfig } from '../../shared/config.js';
import { withLab, type Lab } from '../../lab/topology.js';
import { uniquePrefix } from '../../lab/plan.js';
import { requireLab } from '../../lab/tools.js';
import { lineChart } from '../chart.js';
import { defineScenario, type Sample, type ScenarioContext, type ScenarioResult } from '../scenario.js';
import { thesisResults } from '../thesis.js';
import { runScenarioClient } from '../lib/programs.js';
import { quantile } from '../lib/stats.js';
import { busyPollSetting, deadTimeNote, labWithDeadTime, MODE_LABEL, MODE_SHORT, MODES_WITH_REPLAY as MODES, SCENARIO_DEAD_TIME_MS, withServer, type BaseMode as Mode, type ServerSpec } from './modes.js';
import { cpuMsOf, idlePercent, machineCpu, pin, placement, type CpuLayout } from '../lib/cpus.js';

export type Direction = 'to' | 'from';
export const DIRECTIONS: readonly Direction[] = ['to', 'from'];
const DIRECTION_LABEL: Record<Direction, string> = { to: 'client → server', from: 'server → client' };

export const FULL = { bytes: 1_000_000_000, runs: 3 } as const;
export const QUICK = { bytes: 30_000_000, runs: 1 } as const;
/** Issue 4: throughput with a backup at least this fraction of without. */
export const TARGET_RATIO = 0.9;
const SEED = 1;
/** Transfers each server start runs before the measured one. */
export const WARMUP_TRANSFERS = 1;
const WARMUP_NOTE = 'Each server (and backup) start runs one transfer of the same size first, not measured: a fresh process compiles its hot paths and sizes its heap during its first transfer, which a long-running server has done long ago. Measured on 2026-11-22 (with the test stream of then, a JavaScript xorshift since replaced), three 1 GB transfers server → client in a row on one start, replication on: primary 5.64 / 4.71 / 4.05 ms CPU per MB, backup 1.91 / 1.49 / 0.93, 1.46 / 1.69 / 2.06 Gbit/s; off: 3.46 / 3.14 / 2.78 ms per MB.';
const PORT = { to: 9, from: 19 } as const;

export interface ThroughputRow {
  direction: Direction;
  /** Median Gbit/s over runs, null when no run verified. */
  kernel: number | null;
  off: number | null;
  /** Replication on, strict output commit (DESIGN rule 2). */
  on: number | null;
  /** on / off. */
  ratio: number | null;
  targetMet: boolean | null;
  /** Replication on with output replay (replication.outputReplay). */
  replay: number | null;
  /** replay / off, and whether that meets the target. */
  replayRatio: number | null;
  replayTargetMet: boolean | null;
  runs: number;
  /** CPU time per MB moved (ms, every thread, medians over runs) of the server process
   *  (intact's primary or the kernel reference) and of the backup (on only). */
  serverCpuMsPerMB: PerMode;
  backupCpuMsPerMB: number | null;
  /** The backup's CPU per MB with output replay. */
  replayBackupCpuMsPerMB: number | null;
  /** Percent of the machine's CPU left idle during the transfers (median), per mode:
   *  near 0, the run was bound by CPU; well above, by latency or windows. */
  machineIdlePct: PerMode;
  /** off / on of the server's CPU per MB: what on / off would be if the primary's CPU
   *  were the only limit (its host's own, the backup on another). A model, not a
   *  measured throughput. */
  primaryBoundRatio: number | null;
  /** The client's own CPU per MB over the transfer (ms, median), per mode. */
  clientCpuMsPerMB: PerMode;
  /** (server + client) off / (server + backup + client) on, CPU per MB: what on / off
   *  would be if this machine's CPU, shared by all of them, were the only limit. A
   *  model, not a measured throughput. */
  machineBoundRatio: number | null;
  /** The same for replay / off. */
  replayMachineBoundRatio: number | null;
}

/** A figure per mode (null: no verified run). */
export type PerMode = Record<Mode, number | null>;

const CPU_FIELDS = { server: 'serverCpuMsPerMB', backup: 'backupCpuMsPerMB', client: 'clientCpuMsPerMB' } as const;

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** One row per direction from the per-run samples. Pure (tested without a lab). */
export function summarizeThroughput(samples: readonly Sample[]): ThroughputRow[] {
  return DIRECTIONS.map((d) => {
    /** Median of a figure over this direction's verified runs of `mode`. */
    const median = (mode: Mode, field: string): number | null => {
      const xs = samples.filter((s) => s.direction === d && s.mode === mode && s.verified === true && typeof s[field] === 'number' && Number.isFinite(s[field]))
        .map((s) => s[field] as number);
      return xs.length ? r3(quantile(xs.sort((a, b) => a - b), 0.5)) : null;
    };
    const fig = (mode: Mode) => median(mode, 'gbps');
    const off = fig('off');
    const on = fig('on');
    const replay = fig('replay');
    const ratio = on !== null && off !== null && off > 0 ? r3(on / off) : null;
    const replayRatio = replay !== null && off !== null && off > 0 ? r3(replay / off) : null;
    const cpu = (mode: Mode, who: keyof typeof CPU_FIELDS) => median(mode, CPU_FIELDS[who]);
    /** A figure for each mode, as the row's per-mode fields hold it. */
    const perMode = (f: (mode: Mode) => number | null): PerMode => ({ kernel: f('kernel'), off: f('off'), on: f('on'), replay: f('replay') });
    const serverCpu = perMode((m) => cpu(m, 'server'));
    const clientCpu = perMode((m) => cpu(m, 'client'));
    const backupCpu = cpu('on', 'backup');
    const replayBackupCpu = cpu('replay', 'backup');
    const offTotal = serverCpu.off !== null && clientCpu.off !== null ? serverCpu.off + clientCpu.off : null;
    const backedTotal = (m: 'on' | 'replay', backup: number | null) => {
      const s = serverCpu[m];
      const c = clientCpu[m];
      return s !== null && c !== null && backup !== null ? s + c + backup : null;
    };
    const onTotal = backedTotal('on', backupCpu);
    const replayTotal = backedTotal('replay', replayBackupCpu);
    return {
      direction: d,
      kernel: fig('kernel'),
      off,
      on,
      ratio,
      targetMet: ratio === null ? null : ratio >= TARGET_RATIO,
      replay,
      replayRatio,
      replayTargetMet: replayRatio === null ? null : replayRatio >= TARGET_RATIO,
      runs: samples.filter((s) => s.direction === d && s.mode === 'on').length,
      serverCpuMsPerMB: serverCpu,
      backupCpuMsPerMB: backupCpu,
      replayBackupCpuMsPerMB: replayBackupCpu,
      machineIdlePct: perMode((m) => median(m, 'machineIdlePct')),
      primaryBoundRatio: serverCpu.off !== null && serverCpu.on !== null && serverCpu.on > 0 ? r3(serverCpu.off / serverCpu.on) : null,
      clientCpuMsPerMB: clientCpu,
      machineBoundRatio: offTotal !== null && onTotal !== null && onTotal > 0 ? r3(offTotal / onTotal) : null,
      replayMachineBoundRatio: offTotal !== null && replayTotal !== null && replayTotal > 0 ? r3(offTotal / replayTotal) : null,
    };
  });
}

/** Why a client's transfer did not succeed, from its JSON line. */
function whyFailed(out: { error?: string }): string {
  return out.error ?? 'the data did not verify (sha256 or length differs)';
}

function spec(d: Direction, bytes: number): ServerSpec {
  return d === 'to'
    ? { kernel: { mode: 'sink', opts: { port: PORT.to } }, app: 'sink', primaryArgs: ['--port', String(PORT.to)] }
    : {
        kernel: { mode: 'source', opts: { port: PORT.from, bytes, seed: SEED } },
        app: 'source',
        appOpts: { bytes, seed: SEED },
        primaryArgs: ['--port', String(PORT.from)],
      };
}

function steps(o: { quick: boolean; runs?: number }): number {
  const runs = o.runs ?? (o.quick ? QUICK.runs : FULL.runs);
  return 2 + DIRECTIONS.length * MODES.length * runs;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  requireLab(['ip', 'nft']);
  const size = ctx.quick ? QUICK : FULL;
  const runs = ctx.runs ?? size.runs;
  const bytes = size.bytes;
  const prefix = ctx.prefix ?? uniquePrefix('intact-st');
  const samples: Sample[] = [];
  const errors: string[] = [];
  const retries: string[] = [];
  const timeoutMs = 60_000 + Math.ceil(bytes / 2e6) * 1000; // a floor of 2 MB/s
  const where = placement(ctx.cpus);
  let outputReplay = false;
  let busyPollUs = DEFAULT_BUSY_POLL_US;
  ctx.progress.step(`lab up (${prefix})`);
  await withLab({ prefix, config: ctx.config }, async (labUp: Lab) => {
    const lab = labWithDeadTime(labUp, ctx.logDir, SCENARIO_DEAD_TIME_MS);
    // What the servers run with (a --set changes it), for the report.
    ({ outputReplay, busyPollUs } = loadConfig(lab.configs.primary).replication);
    for (let i = 1; i <= runs; i++) {
      for (const d of DIRECTIONS) {
        for (const mode of MODES) {
          const label = `${Math.round(bytes / 1e6)} MB ${DIRECTION_LABEL[d]}, ${MODE_LABEL[mode]}${runs > 1 ? ` (${i}/${runs})` : ''}`;
          ctx.progress.step(label);
          const tag = `bulk-${d}-${mode}-${i}`;
          try {
            const { out, cpuMs, idlePct } = await withServer(lab, mode, spec(d, bytes), ctx.logDir, tag, async (s) => {
              // procs: the server (intact's primary or the kernel's), then the backup.
              await pin(s.procs[0]!.pid, where.server);
              if (s.procs[1]) await pin(s.procs[1].pid, where.backup);
              const transfer = (logName: string) => runScenarioClient(
                lab,
                d === 'to' ? 'bulk-send' : 'bulk-recv',
                ['--host', s.host, '--port', String(PORT[d]), '--bytes', String(bytes), '--seed', String(SEED)],
                { timeoutMs, logDir: ctx.logDir, logName, cpus: where.client },
              );
              // Unmeasured first: a server just started compiles its hot paths and sizes
              // its heap during its first transfer (WARMUP_NOTE).
              for (let w = 1; w <= WARMUP_TRANSFERS; w++) {
                const warm = await transfer(`client-${tag}-warmup${w}.log`);
                if (!warm.ok) throw new Error(`warm-up transfer: ${whyFailed(warm)}`);
              }
              const before = s.procs.map((p) => cpuMsOf(p.pid));
              const machineBefore = machineCpu();
              const out = await transfer(`client-${tag}.log`);
              const idlePct = idlePercent(machineBefore, machineCpu());
              // A process that died meanwhile voids the run (withServer); NaN until then.
              const cpuMs = s.procs.map((p, i) => (p.running ? cpuMsOf(p.pid) - before[i]! : Number.NaN));
              return { out, cpuMs, idlePct };
            },
              (why) => {
                retries.push(`${label}: ${why}`);
                ctx.progress.note(`void run, once more: ${why}`);
              },
            );
            if (!out.ok) throw new Error(whyFailed(out));
            samples.push({
              direction: d, mode, run: i, bytes: out.bytes as number, seconds: out.seconds as number,
              gbps: out.gbps as number, connectMs: out.connectMs as number, verified: out.verified === true,
              serverCpuMsPerMB: r3(cpuMs[0]! / (bytes / 1e6)),
              backupCpuMsPerMB: cpuMs[1] === undefined ? null : r3(cpuMs[1] / (bytes / 1e6)),
              clientCpuMsPerMB: typeof out.cpuMs === 'number' ? r3(out.cpuMs / (bytes / 1e6)) : null,
              machineIdlePct: idlePct,
            });
            ctx.progress.note(`${String(out.gbps)} Gbit/s`);
          } catch (e) {
            const msg = `${label}: ${(e as Error).message.split('\n')[0]}`;
            errors.push(msg);
            ctx.progress.note(`failed: ${msg}`);
          }
        }
      }
    }
    ctx.progress.step('lab down');
  });
  return result(samples, errors, retries, bytes, runs, ctx.cpus, outputReplay, busyPollUs);
}

/** What each layout means for the figures (scenarios/lib/cpus.ts). */
const LAYOUT_NOTE: Record<CpuLayout, string> = {
  'shared': 'Client, primary and backup share this machine\'s CPUs (the scheduler\'s choice): with a backup, three busy processes share what two share without, so on / off also measures the backup\'s CPU, which a backup on its own host would not take from anyone.',
  'primary-alone': 'CPU layout primary-alone: the server (intact\'s primary, or the kernel\'s) alone on CPU 1, the client and the backup on CPU 0 (taskset). The primary\'s host has its CPU to itself, as in a two-host deployment, so on / off is what replication costs the primary; the client shares its CPU with the backup in "on" only, which can only lower "on".',
};

export function result(samples: Sample[], errors: string[], retries: string[], bytes: number, runs: number, cpus: CpuLayout = 'shared', outputReplay = false, busyPollUs = DEFAULT_BUSY_POLL_US): ScenarioResult {
  const rows = summarizeThroughput(samples);
  const cell = (x: number | null) => (x === null ? 'failed' : x.toFixed(3));
  const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
  const cpuCell = (x: number | null) => (x === null ? '—' : x.toFixed(2));
  const idleCell = (x: number | null) => (x === null ? '—' : x.toFixed(0));
  const thesis = thesisResults() as unknown as { throughput: string };
  const targetMet = rows.every((r) => r.targetMet === true);
  const replayTargetMet = rows.every((r) => r.replayTargetMet === true);
  const modes = (f: (m: Mode) => string) => MODES.map(f).join(' / ');
  return {
    ok: errors.length === 0 && rows.every((r) => r.kernel !== null && r.off !== null && r.on !== null && r.replay !== null),
    samples,
    summary: { bytes, runs, warmupTransfers: WARMUP_TRANSFERS, seed: SEED, deadTimeMs: SCENARIO_DEAD_TIME_MS, cpuLayout: cpus, outputReplay, busyPollUs, retries, targetRatio: TARGET_RATIO, targetMet, replayTargetMet, rows },
    table: {
      columns: ['direction', 'kernel Gbit/s', 'intact off Gbit/s', 'intact on Gbit/s', 'on / off', `target ≥ ${TARGET_RATIO * 100}%`,
        'intact replay Gbit/s', 'replay / off', `replay target ≥ ${TARGET_RATIO * 100}%`, 'off / kernel',
        `server CPU ms/MB ${modes((m) => m)}`, 'backup CPU ms/MB on / replay', `client CPU ms/MB ${modes((m) => m)}`, 'primary-bound on / off (model)',
        'machine-bound on / off, replay / off (model)', `machine idle % ${modes((m) => m)}`],
      rows: rows.map((r) => [
        DIRECTION_LABEL[r.direction], cell(r.kernel), cell(r.off), cell(r.on), pct(r.ratio),
        r.targetMet === null ? '—' : r.targetMet ? 'met' : 'NOT met',
        cell(r.replay), pct(r.replayRatio), r.replayTargetMet === null ? '—' : r.replayTargetMet ? 'met' : 'NOT met',
        pct(r.off !== null && r.kernel ? r.off / r.kernel : null),
        modes((m) => cpuCell(r.serverCpuMsPerMB[m])),
        `${cpuCell(r.backupCpuMsPerMB)} / ${cpuCell(r.replayBackupCpuMsPerMB)}`,
        modes((m) => cpuCell(r.clientCpuMsPerMB[m])),
        pct(r.primaryBoundRatio), `${pct(r.machineBoundRatio)}, ${pct(r.replayMachineBoundRatio)}`,
        modes((m) => idleCell(r.machineIdlePct[m])),
      ]),
    },
    comparison: [
      ...rows.map((r) => ({
        measure: `bulk ${DIRECTION_LABEL[r.direction]}: with replication / without`,
        ours: `${pct(r.ratio)} (${cell(r.on)} vs ${cell(r.off)} Gbit/s)`,
        thesis: 'no obvious difference',
        note: r.direction === 'to' ? 'thesis: 5000 packets of 1 KB sent without waiting, asynchronous replication' : 'the thesis measured only the client → server direction',
      })),
      ...rows.map((r) => ({
        measure: `bulk ${DIRECTION_LABEL[r.direction]}: with replication and output replay / without`,
        ours: `${pct(r.replayRatio)} (${cell(r.replay)} vs ${cell(r.off)} Gbit/s)`,
        thesis: 'no obvious difference',
        note: 'output replay: the app\'s output leaves unreplicated; after a takeover the restored app writes it again',
      })),
      {
        measure: `issue 4: with a backup ≥ ${TARGET_RATIO * 100}% of without, each direction (strict)`,
        ours: targetMet ? 'MET' : 'NOT MET',
        thesis: '—',
        note: rows.map((r) => `${r.direction}: ${pct(r.ratio)}`).join(', '),
      },
      {
        measure: `issue 4: the same with output replay`,
        ours: replayTargetMet ? 'MET' : 'NOT MET',
        thesis: '—',
        note: rows.map((r) => `${r.direction}: ${pct(r.replayRatio)}`).join(', '),
      },
    ],
    chart: lineChart({
      title: 'Bulk transfer throughput',
      subtitle: `${Math.round(bytes / 1e6)} MB per transfer, sha256-verified; median over ${runs} run(s)`,
      data: rows.flatMap((r) =>
        MODES.flatMap((m) => (r[m] !== null ? [{ direction: DIRECTION_LABEL[r.direction], series: MODE_SHORT[m], gbps: r[m] }] : [])),
      ),
      x: { field: 'direction', title: 'direction', sort: DIRECTIONS.map((d) => DIRECTION_LABEL[d]) },
      y: { field: 'gbps', title: 'Gbit/s' },
      series: { field: 'series', title: 'server', sort: MODES.map((m) => MODE_SHORT[m]) },
    }),
    notes: [
      `${Math.round(bytes / 1e6)} MB per transfer, ${runs} run(s) per mode and direction, modes interleaved; figures are medians over runs. Thesis: ${thesis.throughput}.`,
      'on = `intact primary` protected by a running `intact backup`, strict (no byte is acknowledged to the client, nor sent to it, before the backup confirms holding it); replay = the same with output replay (`replication.outputReplay` in the primary\'s config): input as strict, but the source\'s bytes leave unreplicated (after a takeover the backup\'s app writes them again; only the FIN and a checkpoint\'s output are replicated); off = `--no-backup`; kernel = Node net on the primary namespace\'s kernel.' +
        (outputReplay ? ' This run had `--set replication.outputReplay=true`: "on" ran with output replay too.' : ''),
      'The sinks (intact\'s app and the kernel reference) sha256 with hash-wasm (~330 MB/s here), which bounds every client → server figure on this machine, the kernel\'s included. The sources generate the seeded stream with AES-128-CTR (~5 GB/s, shared/stream.ts) and the client verifies it with OpenSSL\'s sha256.',
      LAYOUT_NOTE[cpus],
      busyPollUs > 0
        ? `${busyPollSetting(busyPollUs)}: with a backup, the primary and the backup poll the replication link for up to ${busyPollUs} µs after its traffic instead of sleeping, yielding the CPU to any other runnable process each round; in a bulk transfer the gaps are short, so each polls throughout.`
        : `${busyPollSetting(busyPollUs)}: the primary and the backup sleep between replication messages.`,
      WARMUP_NOTE,
      'machine idle %: the share of all CPUs\' time that was idle during the measured transfer (/proc/stat), median over runs. Near 0 the run was bound by CPU, and with the client, the primary and the backup on one machine "on" pays for the backup\'s CPU too; well above 0 it was bound by latency or windows.',
      'CPU ms/MB: user + system time of the server process (every thread, from /proc, 10 ms steps) over the transfer, per MB moved, and of the backup. "primary-bound on / off" = off\'s server CPU per MB / on\'s: the ratio a primary whose own CPU is the only limit would see (a backup on another host, a client that keeps up). A model from measured CPU, not a measured throughput. The kernel\'s network work (softirq on the veth pairs) is charged to whichever process runs when it happens, so the kernel reference\'s CPU and the split between processes are approximate.',
      '"machine-bound on / off" = (server + client CPU per MB, off) / (server + backup + client, on): the ratio if this machine\'s CPU, which the client, the primary and the backup share here, were the only limit. Close to the measured on / off, the machine ran out of CPU; the client\'s CPU is its own process.cpuUsage() over the transfer.',
      deadTimeNote(retries),
    ],
    errors,
  };
}

export const throughput = defineScenario({
  name: 'throughput',
  title: 'Bulk throughput with and without replication (thesis throughput note)',
  thesisRef: 'throughput note of chapter 4',
  description:
    'Bulk transfers in each direction — a client sending to a sink, a client reading from a source — against kernel TCP, intact without replication and intact protected by a running backup, ' +
    'each transfer verified by sha256. Issue 4 asks that replication keep at least 90% of the throughput without it.',
  steps,
  run,
  cpuLayouts: true,
  controls: ['replication.deadTimeMs'],
});
