// One takeover, measured: a protected pair serving scenarios/apps/pending.ts, a client
// holding `pending` bytes on each of `connections` connections (so the backup holds
// them all at the kill), SIGKILL of the primary, and the figures of every step:
//   detectMs    kill (this process's wall clock) -> the backup declares the primary dead
//   rebuildMs, claimMs, restartMs, kickMs, totalMs   the backup's own timing of each step
//   stallMs     at the client: last byte from the primary -> first byte from the backup
//               on a connection probed stop-and-wait across the kill
//   afterTakeoverMs the backup's "takeover" line -> that first byte from the backup
//   recoveredMaxMs  kill -> the reply to a probe every connection sent at the kill
// Shared by takeover-vs-data (figure 4-2) and takeover-vs-connections (figure 4-3).
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { DEFAULT_HEARTBEAT, heartbeatLabel } from '../../shared/config.js';
import { join } from 'node:path';
import { findNode, VIP, type LabPlan } from '../../lab/plan.js';
import { killNetnsSync } from '../../lab/netns.js';
import { startProcess, type ManagedProcess } from '../lib/process.js';
import { tsxArgv, REPO_ROOT } from '../lib/repo.js';
import { writeLabConfig } from '../lib/lab-config.js';
import { childEnv, clientCounters, flushClientNeighbours, killInSteadyState, lastEvent, lostBeforeKill, moved, sleep, startPair, wall, type EventLine } from './pair.js';

export const PENDING_APP = join(REPO_ROOT, 'scenarios/apps/pending.ts');
export const PENDING_PORT = 5001;

export interface TakeoverRunOptions {
  connections: number;
  pending: number;
  logDir: string;
  tag: string;
  /** Read the backup's memory before the connections and with them. */
  memory?: boolean;
  /** Generous bound on the whole client (setup of many connections included). */
  clientTimeoutMs?: number;
  /** Config file (default: the lab's) and its heartbeat figures, "10/80" style. */
  config?: string;
  heartbeat?: string;
}

/** The lab's config with other heartbeat figures (scenario 6 writes its variants so too). */
export function heartbeatConfig(lab: LabPlan, heartbeatIntervalMs: number, deadTimeMs: number, dir: string): string {
  return writeLabConfig(lab, dir, `intact-hb${heartbeatIntervalMs}-dead${deadTimeMs}.json`, { heartbeatIntervalMs, deadTimeMs });
}

export interface TakeoverSample {
  [k: string]: string | number | boolean | null;
  ok: boolean;
  connections: number;
  pendingBytes: number;
  /** Heartbeat interval / dead time of the run, ms. */
  heartbeat: string;
  detectMs: number;
  /** The kill syscall -> the primary seen dead by this process (exit event). */
  killLagMs: number;
  silentMs: number;
  rebuildMs: number;
  claimMs: number;
  restartMs: number;
  kickMs: number;
  totalMs: number;
  stallMs: number;
  /** The backup's "takeover" line -> the client's first byte from the backup. */
  afterTakeoverMs: number;
  recoveredMedianMs: number;
  recoveredMaxMs: number;
  setupMs: number;
  rebuilt: number;
  failed: number;
  verified: boolean;
  verifiedConnections: number;
  resets: number;
  pawsDrops: number;
  challengeAcks: number;
  backupRssBefore: number | null;
  backupRssWith: number | null;
  backupHeapBefore: number | null;
  backupHeapWith: number | null;
  /** The pair lost each other BEFORE the kill (a heartbeat path silent for the dead
   *  time while both were alive): no takeover was measured. */
  spurious: boolean;
  error: string | null;
}

/** Signs, before the kill, that the pair already declared each other dead. */
async function memory(backup: ManagedProcess, seq: number): Promise<EventLine> {
  process.kill(backup.pid, 'SIGUSR2');
  const line = await backup.waitForLine(new RegExp(`"event":"memory","seq":${seq},`), 30_000);
  return JSON.parse(line) as EventLine;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

export async function takeoverRun(lab: LabPlan, o: TakeoverRunOptions): Promise<TakeoverSample> {
  const killFile = join(o.logDir, `kill-${o.tag}`);
  rmSync(killFile, { force: true });
  rmSync(`${killFile}.takeover`, { force: true });
  await flushClientNeighbours(lab);
  const sample: TakeoverSample = {
    ok: false, connections: o.connections, pendingBytes: o.pending, heartbeat: o.heartbeat ?? heartbeatLabel(DEFAULT_HEARTBEAT),
    detectMs: NaN, killLagMs: NaN, silentMs: NaN, rebuildMs: NaN, claimMs: NaN, restartMs: NaN, kickMs: NaN, totalMs: NaN,
    stallMs: NaN, afterTakeoverMs: NaN, recoveredMedianMs: NaN, recoveredMaxMs: NaN, setupMs: NaN,
    rebuilt: 0, failed: 0, verified: false, verifiedConnections: 0, resets: 0, pawsDrops: 0, challengeAcks: 0,
    backupRssBefore: null, backupRssWith: null, backupHeapBefore: null, backupHeapWith: null, spurious: false, error: null,
  };
  const pair = await startPair(lab, { app: PENDING_APP, config: o.config, logDir: o.logDir, tag: o.tag, memoryGauge: o.memory });
  let client: ManagedProcess | undefined;
  let killed = false;
  try {
    if (o.memory) {
      const m = await memory(pair.backup, 1);
      sample.backupRssBefore = num(m.rss);
      sample.backupHeapBefore = num(m.heapUsed);
    }
    const before = await clientCounters(lab);
    const timeoutMs = o.clientTimeoutMs ?? 120_000;
    client = await startProcess({
      name: 'client', netns: findNode(lab, 'client').netns, cwd: REPO_ROOT, env: childEnv(),
      argv: tsxArgv('scenarios/clients/pending-probe.ts', [
        '--host', VIP, '--port', String(PENDING_PORT), '--connections', String(o.connections),
        '--pending', String(o.pending), '--kill-file', killFile, '--timeout-ms', String(timeoutMs),
      ]),
      logFile: join(o.logDir, `client-${o.tag}.log`), ready: { line: /^held / }, readyTimeoutMs: timeoutMs,
    });
    if (o.memory) {
      const m = await memory(pair.backup, 2);
      sample.backupRssWith = num(m.rss);
      sample.backupHeapWith = num(m.heapUsed);
    }
    // Witness probes answered by the primary first, so the stall has a "before".
    await client.waitForLine(/^probing/, 30_000);
    await sleep(20);
    const kill = await killInSteadyState(pair);
    if ('spurious' in kill) {
      sample.spurious = true;
      sample.error = kill.spurious;
      return sample;
    }
    const { killAt } = kill;
    killed = true;
    // When the kernel reported it dead (plus this loop's latency): on a loaded machine a
    // SIGKILL can land tens of ms after the syscall (a task in uninterruptible sleep).
    const diedAt = pair.primary.exited.then(() => wall());
    // The instant, written whole (rename) so the client never reads half a number.
    writeFileSync(`${killFile}.tmp`, String(killAt));
    renameSync(`${killFile}.tmp`, killFile);
    await pair.backup.waitForLine(/"event":"takeover"/, 60_000);
    writeFileSync(`${killFile}.takeover`, '');
    await client.waitExit(timeoutMs + 15_000);
    sample.killLagMs = (await diedAt) - killAt;
    const out = JSON.parse(client.stdout().trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    const after = await clientCounters(lab);
    const m = moved(before, after);
    const dead = lastEvent(pair.backup, 'primary-dead');
    const tk = lastEvent(pair.backup, 'takeover');
    Object.assign(sample, {
      detectMs: num(dead?.detectedAt) - killAt,
      silentMs: num(dead?.silentMs),
      rebuildMs: num(tk?.rebuildMs), claimMs: num(tk?.claimMs), restartMs: num(tk?.restartMs),
      kickMs: num(tk?.kickMs), totalMs: num(tk?.totalMs),
      rebuilt: num(tk?.connections), failed: num(tk?.failed),
      stallMs: num(out.stallMs), afterTakeoverMs: num(out.firstFromBackupAt) - num(tk?.at), recoveredMedianMs: num(out.recoveredMedianMs), recoveredMaxMs: num(out.recoveredMaxMs),
      setupMs: num(out.setupMs), verified: out.verified === true, verifiedConnections: num(out.verifiedConnections),
      resets: m.TcpEstabResets, pawsDrops: m.TcpExtPAWSEstab, challengeAcks: m.TcpExtTCPChallengeACK,
    });
    sample.ok = out.ok === true && sample.verified && sample.rebuilt === o.connections && sample.failed === 0 &&
      sample.resets === 0 && sample.pawsDrops === 0 && sample.challengeAcks === 0;
    if (!sample.ok) {
      sample.error = out.ok !== true ? `client: ${String(out.error)}`
        : `rebuilt ${sample.rebuilt}/${o.connections} (failed ${sample.failed}); client counters moved: ${JSON.stringify(m)}`;
    }
  } catch (e) {
    sample.error = (e as Error).message.split('\n')[0] ?? String(e);
    // A client that failed during setup, on a pair that had already lost each other,
    // is the same spurious detection, seen from the client.
    const lost = killed ? undefined : lostBeforeKill(pair.backup, pair.primary);
    if (lost) {
      sample.spurious = true;
      sample.error = `spurious failure detection before the kill (${lost}); ${sample.error}`;
    }
  } finally {
    if (client?.running) await client.stop(1000);
    await pair.stop();
    // Whatever the primary left (nothing, normally: it was the one killed).
    killNetnsSync(findNode(lab, 'primary').netns);
  }
  return sample;
}

/** Attempts at one measurement: a spurious detection before the kill measured no
 *  takeover, so it is recorded and the run made again (at most `attempts` times); if
 *  every attempt was spurious and `relaxed` is given, once more with that config (the
 *  takeover steps do not depend on the dead time; the sample says which was used). */
export async function takeoverRunWithRetry(
  lab: LabPlan,
  o: TakeoverRunOptions,
  onAttempt: (s: TakeoverSample, attempt: number) => void,
  attempts = 3,
  relaxed?: { config: string; heartbeat: string },
): Promise<TakeoverSample[]> {
  const out: TakeoverSample[] = [];
  for (let a = 1; a <= attempts; a++) {
    const s = await takeoverRun(lab, { ...o, tag: a === 1 ? o.tag : `${o.tag}-retry${a - 1}` });
    out.push(s);
    onAttempt(s, a);
    if (!s.spurious) return out;
  }
  if (relaxed) {
    const s = await takeoverRun(lab, { ...o, ...relaxed, tag: `${o.tag}-relaxed` });
    out.push(s);
    onAttempt(s, attempts + 1);
  }
  return out;
}
