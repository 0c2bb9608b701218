// `intact bench`: intact against the kernel, side by side, on one lab path.
//
// A fresh lab (unique prefix) is built; in the primary namespace the kernel reference
// server (scenarios/servers/kernel-server.ts, on the primary's kernel address) and then
// `intact primary` (on the VIP) serve the same protocol in turn, and the same client
// in the client namespace measures each:
//   bulk to:   bulk-send → sink     (client → server)
//   bulk from: bulk-recv ← source   (server → client)
//   rr:        K stop-and-wait exchanges of 1000 bytes against echo (thesis table 4-2)
// Every transfer is checked by sha256. The lab is torn down whatever happens. An
// intact run that fails (the primary does not start, a transfer stalls or arrives
// wrong) is reported with its error and the log file to read; it never hangs the
// bench: every wait has a timeout, and clients fail after 20 s without progress.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab, type Lab } from '../lab/topology.js';
import { uniquePrefix } from '../lab/plan.js';
import { requireLab } from '../lab/tools.js';
import { createProgress, type Progress } from './lib/progress.js';
import { cpuIdleLabel, machine, type Machine } from './machine.js';
import {
  KERNEL_ADDRESS,
  runScenarioClient,
  startIntactPrimary,
  startKernelServer,
  type ClientOutput,
  type KernelMode,
} from './lib/programs.js';
import type { ManagedProcess } from './lib/process.js';
import { describeExit } from './lib/process.js';
import { quantile } from './lib/stats.js';

// Three repetitions by default: on a small VM the spread between runs is wide (the
// kernel's rr median was seen at 39 and at 102 µs in consecutive runs).
export const FULL = { bytes: 1_000_000_000, exchanges: 5000, repeat: 3 } as const;
export const QUICK = { bytes: 50_000_000, exchanges: 500, repeat: 1 } as const;
/** The thesis' request/response size (table 4-2): 1000 bytes each way. */
export const RR_BYTES = 1000;
const PORTS = { sink: 9, source: 19, echo: 7 } as const;

export interface BenchOptions {
  bytes: number;
  exchanges: number;
  request?: number;
  seed?: number;
  prefix?: string;
  /** Where the programs' logs go (kept after the run). */
  logDir?: string;
  quick?: boolean;
  progress?: Progress;
  /** Run each intact primary under `node --cpu-prof`, profiles written here. */
  cpuProfDir?: string;
  /** sha256 of the kernel's sink: 'wasm' as intact's sink app (default, same work on
   *  both sides), or 'crypto' (OpenSSL: what the kernel path reaches unhindered). */
  kernelSinkHash?: 'wasm' | 'crypto';
  /** Repetitions of every measurement, kernel and intact interleaved; the figures are
   *  the medians over them (default 1). */
  repeat?: number;
}

/** Progress steps of a bench with `repeat` repetitions: lab up, 6 each, lab down. */
export function benchSteps(repeat = 1): number {
  return 2 + 6 * repeat;
}

export interface RunOutcome {
  ok: boolean;
  seconds: number;
  error?: string;
  result?: ClientOutput;
}

export interface BenchResult {
  bench: 'intact';
  ok: boolean;
  quick: boolean;
  /** Repetitions per measurement; the figures are medians over them. */
  repeat: number;
  prefix: string;
  startedAt: string;
  logDir: string;
  machine: Machine;
  bulk: {
    bytes: number;
    seed: number;
    /** The kernel sink's sha256 implementation (intact's sink app uses hash-wasm). */
    kernelSinkHash: 'wasm' | 'crypto';
    toKernelGbps: number | null;
    toIntactGbps: number | null;
    fromKernelGbps: number | null;
    fromIntactGbps: number | null;
    /** intact / kernel, per direction. */
    toRatio: number | null;
    fromRatio: number | null;
    /** Every one of the four transfers ran and its sha256 matched. */
    verified: boolean;
    /** Each client's own result, one per repetition. */
    runs: Record<'toKernel' | 'toIntact' | 'fromKernel' | 'fromIntact', RunOutcome[]>;
  };
  rr: {
    exchanges: number;
    requestBytes: number;
    replyBytes: number;
    /** Median µs per exchange. */
    kernelUs: number | null;
    intactUs: number | null;
    ratio: number | null;
    kernelP95Us: number | null;
    intactP95Us: number | null;
    verified: boolean;
    runs: Record<'kernel' | 'intact', RunOutcome[]>;
  };
  errors: string[];
  durations: { totalSeconds: number; labUpSeconds: number };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
/** The median over the repetitions of one figure; null unless every repetition ran. */
function num(rs: readonly RunOutcome[], key: string): number | null {
  const xs = rs.map((r) => (r.ok && typeof r.result?.[key] === 'number' ? (r.result[key] as number) : NaN));
  if (xs.length === 0 || xs.some(Number.isNaN)) return null;
  return round3(quantile([...xs].sort((a, b) => a - b), 0.5));
}
const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? round3(a / b) : null);

/** One line for the table: the error's first line, plus the line of the program's own
 *  output that says what went wrong (the log file has the rest). */
function headline(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const [first, ...rest] = text.split('\n');
  const output = rest.slice(rest.indexOf('--- last output ---') + 1).map((l) => l.trim()).filter(Boolean);
  const cause = output.find((l) => /error|ERR_|cannot|not found|failed/i.test(l)) ?? output.at(-1);
  return cause ? `${first} — ${cause.slice(0, 300)}` : first!;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  requireLab(['ip', 'nft']);
  const t0 = performance.now();
  const prefix = o.prefix ?? uniquePrefix('intact-b');
  const logDir = o.logDir ?? join(tmpdir(), 'intact-bench', prefix);
  const seed = o.seed ?? 1;
  const request = o.request ?? RR_BYTES;
  const repeat = o.repeat ?? 1;
  const progress = o.progress ?? createProgress(benchSteps(repeat), { silent: true });
  const bulkTimeoutMs = 60_000 + Math.ceil(o.bytes / 2e6) * 1000; // floor of 2 MB/s
  const rrTimeoutMs = 60_000 + o.exchanges * 20;
  const errors: string[] = [];
  const runs: Record<'toKernel' | 'toIntact' | 'fromKernel' | 'fromIntact' | 'rrKernel' | 'rrIntact', RunOutcome[]> = {
    toKernel: [], toIntact: [], fromKernel: [], fromIntact: [], rrKernel: [], rrIntact: [],
  };
  let labUpSeconds = 0;
  // After intact's primary once failed to start, the other intact steps would only fail
  // the same way (slowly, when it hangs): report them as skipped with the same reason.
  let intactBroken: string | undefined;

  progress.step(`lab up (${prefix})`);
  const tLab = performance.now();
  await withLab({ prefix }, async (lab: Lab) => {
    labUpSeconds = (performance.now() - tLab) / 1000;

    const measure = async (
      label: string,
      server: () => Promise<ManagedProcess>,
      client: () => Promise<ClientOutput>,
      isIntact: boolean,
    ): Promise<RunOutcome> => {
      progress.step(label);
      const ts = performance.now();
      const seconds = () => round3((performance.now() - ts) / 1000);
      if (isIntact && intactBroken) {
        const error = `skipped: ${intactBroken}`;
        errors.push(`${label}: ${error}`);
        return { ok: false, seconds: 0, error };
      }
      let proc: ManagedProcess;
      try {
        proc = await server();
      } catch (e) {
        const error = headline(e);
        if (isIntact) intactBroken = `intact primary did not start (${error})`;
        errors.push(`${label}: ${error}`);
        progress.note(`failed: ${error}`);
        return { ok: false, seconds: seconds(), error };
      }
      let outcome: RunOutcome;
      try {
        const result = await client();
        outcome = { ok: result.ok, seconds: seconds(), result };
        if (!result.ok) {
          outcome.error = result.error ?? 'the data did not verify (sha256 or length differs)';
        }
      } catch (e) {
        outcome = { ok: false, seconds: seconds(), error: headline(e) };
      }
      const crashed = !proc.running ? proc.exit : undefined;
      const exit = await proc.stop();
      if (crashed) outcome = { ...outcome, ok: false, error: `${proc.name} exited during the run (${describeExit(crashed)})${outcome.error ? `; ${outcome.error}` : ''}` };
      else if (isIntact && exit.code !== 0 && exit.signal !== 'SIGTERM') progress.note(`${proc.name} stopped with ${describeExit(exit)}`);
      if (!outcome.ok) {
        const where = proc.logFile ? ` (log: ${proc.logFile})` : '';
        errors.push(`${label}: ${outcome.error}${where}`);
        progress.note(`failed: ${outcome.error}`);
      } else {
        const r = outcome.result!;
        progress.note(typeof r.gbps === 'number' ? `${r.gbps} Gbit/s` : `median ${String(r.medianUs)} µs`);
      }
      return outcome;
    };

    const kernel = (mode: KernelMode, extra: Parameters<typeof startKernelServer>[2] = {}) => () =>
      startKernelServer(lab, mode, extra, logDir);
    const intact = (app: string, appOpts: Record<string, number> = {}) => () =>
      startIntactPrimary(
        lab,
        { app, appOpts, nodeArgs: o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir, '--cpu-prof-name', `primary-${app}.cpuprofile`] : [] },
        logDir,
      );
    const bulkArgs = (host: string, port: number) => ['--host', host, '--port', String(port), '--bytes', String(o.bytes), '--seed', String(seed)];
    const send = (host: string, tag: string) => () =>
      runScenarioClient(lab, 'bulk-send', bulkArgs(host, PORTS.sink), { timeoutMs: bulkTimeoutMs, logDir, logName: `client-send-${tag}.log` });
    const recv = (host: string, tag: string) => () =>
      runScenarioClient(lab, 'bulk-recv', bulkArgs(host, PORTS.source), { timeoutMs: bulkTimeoutMs, logDir, logName: `client-recv-${tag}.log` });
    const rr = (host: string, tag: string) => () =>
      runScenarioClient(
        lab,
        'rr',
        ['--host', host, '--port', String(PORTS.echo), '--exchanges', String(o.exchanges), '--request', String(request), '--seed', String(seed)],
        { timeoutMs: rrTimeoutMs, logDir, logName: `client-rr-${tag}.log` },
      );
    const MB = `${Math.round(o.bytes / 1e6)} MB`;
    for (let i = 1; i <= repeat; i++) {
      const nth = repeat > 1 ? ` (${i}/${repeat})` : '';
      runs.toKernel.push(
        await measure(`kernel sink${nth}: ${MB} client → ${KERNEL_ADDRESS}`, kernel('sink', { port: PORTS.sink, hash: o.kernelSinkHash ?? 'wasm' }), send(KERNEL_ADDRESS, 'kernel'), false),
      );
      runs.toIntact.push(await measure(`intact sink${nth}: ${MB} client → ${lab.vip}`, intact('sink'), send(lab.vip, 'intact'), true));
      runs.fromKernel.push(
        await measure(`kernel source${nth}: ${MB} ${KERNEL_ADDRESS} → client`, kernel('source', { port: PORTS.source, bytes: o.bytes, seed }), recv(KERNEL_ADDRESS, 'kernel'), false),
      );
      runs.fromIntact.push(await measure(`intact source${nth}: ${MB} ${lab.vip} → client`, intact('source', { bytes: o.bytes, seed }), recv(lab.vip, 'intact'), true));
      runs.rrKernel.push(await measure(`kernel echo${nth}: ${o.exchanges} × ${request} B exchanges`, kernel('echo', { port: PORTS.echo }), rr(KERNEL_ADDRESS, 'kernel'), false));
      runs.rrIntact.push(await measure(`intact echo${nth}: ${o.exchanges} × ${request} B exchanges`, intact('echo'), rr(lab.vip, 'intact'), true));
    }
    progress.step('lab down');
  });
  progress.done();

  const bulk = {
    toKernelGbps: num(runs.toKernel, 'gbps'),
    toIntactGbps: num(runs.toIntact, 'gbps'),
    fromKernelGbps: num(runs.fromKernel, 'gbps'),
    fromIntactGbps: num(runs.fromIntact, 'gbps'),
  };
  const rrFig = {
    kernelUs: num(runs.rrKernel, 'medianUs'),
    intactUs: num(runs.rrIntact, 'medianUs'),
    kernelP95Us: num(runs.rrKernel, 'p95Us'),
    intactP95Us: num(runs.rrIntact, 'p95Us'),
  };
  const bulkRuns = { toKernel: runs.toKernel, toIntact: runs.toIntact, fromKernel: runs.fromKernel, fromIntact: runs.fromIntact };
  const bulkVerified = Object.values(bulkRuns).every((rs) => rs.length === repeat && rs.every((r) => r.ok && r.result?.verified === true));
  const rrVerified = [...runs.rrKernel, ...runs.rrIntact].every((r) => r.ok) && runs.rrKernel.length === repeat && runs.rrIntact.length === repeat;
  return {
    bench: 'intact',
    ok: errors.length === 0 && bulkVerified && rrVerified,
    quick: o.quick ?? false,
    repeat,
    prefix,
    startedAt: new Date(Date.now() - (performance.now() - t0)).toISOString(),
    logDir,
    machine: machine(),
    bulk: {
      bytes: o.bytes,
      seed,
      kernelSinkHash: o.kernelSinkHash ?? 'wasm',
      ...bulk,
      toRatio: ratio(bulk.toIntactGbps, bulk.toKernelGbps),
      fromRatio: ratio(bulk.fromIntactGbps, bulk.fromKernelGbps),
      verified: bulkVerified,
      runs: bulkRuns,
    },
    rr: {
      exchanges: o.exchanges,
      requestBytes: request,
      replyBytes: request,
      ...rrFig,
      ratio: ratio(rrFig.intactUs, rrFig.kernelUs),
      verified: rrVerified,
      runs: { kernel: runs.rrKernel, intact: runs.rrIntact },
    },
    errors,
    durations: { totalSeconds: round3((performance.now() - t0) / 1000), labUpSeconds: round3(labUpSeconds) },
  };
}

// ------------------------------------------------------------------ the table

function cell(x: number | null, unit: string, digits: number): string {
  return x === null ? 'failed' : `${x.toFixed(digits)} ${unit}`;
}

/** The human-readable report of a bench run. */
export function formatBench(r: BenchResult): string {
  const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(0)} %`);
  const times = (x: number | null) => (x === null ? '—' : `${x.toFixed(2)} ×`);
  const rows: [string, string, string, string][] = [
    ['', 'kernel', 'intact', 'intact/kernel'],
    ['bulk client → server', cell(r.bulk.toKernelGbps, 'Gbit/s', 2), cell(r.bulk.toIntactGbps, 'Gbit/s', 2), pct(r.bulk.toRatio)],
    ['bulk server → client', cell(r.bulk.fromKernelGbps, 'Gbit/s', 2), cell(r.bulk.fromIntactGbps, 'Gbit/s', 2), pct(r.bulk.fromRatio)],
    [`rr ${r.rr.requestBytes} B echo (median)`, cell(r.rr.kernelUs, 'µs', 1), cell(r.rr.intactUs, 'µs', 1), times(r.rr.ratio)],
    [`rr ${r.rr.requestBytes} B echo (p95)`, cell(r.rr.kernelP95Us, 'µs', 1), cell(r.rr.intactP95Us, 'µs', 1), ''],
  ];
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = [
    `intact bench${r.quick ? ' (quick)' : ''}: ${Math.round(r.bulk.bytes / 1e6)} MB each way, ${r.rr.exchanges} stop-and-wait exchanges` +
      `${r.repeat > 1 ? `, median of ${r.repeat} runs` : ''} (lab ${r.prefix})`,
    '',
    ...rows.map((row) => `  ${row[0].padEnd(w[0]!)}  ${row[1].padStart(w[1]!)}  ${row[2].padStart(w[2]!)}  ${row[3].padStart(w[3]!)}`),
    '',
    `  the kernel sink hashes with ${r.bulk.kernelSinkHash === 'wasm' ? 'hash-wasm, as intact\'s sink app does' : 'OpenSSL (node:crypto); intact\'s sink app uses hash-wasm'}`,
    `  sha256: ${r.bulk.verified ? 'all four transfers verified' : 'NOT verified (see errors)'}; rr replies ${r.rr.verified ? 'verified' : 'NOT verified'}`,
    `  machine: ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.kernel}, node ${r.machine.node}; idle CPUs: ${cpuIdleLabel(r.machine.cpuIdle)}`,
    `  took ${r.durations.totalSeconds.toFixed(1)} s; logs in ${r.logDir}`,
  ];
  if (r.errors.length) lines.push('', 'errors:', ...r.errors.map((e) => `  - ${e}`));
  return lines.join('\n') + '\n';
}
