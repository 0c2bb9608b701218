// Scenario throughput: the pure summary (no root), and `--quick` end to end in a lab
// (root): files written, one verified transfer per direction and mode, positive
// figures, the lab gone. No timing thresholds: the 90% target is a figure.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listNetns } from '../../lab/topology.js';
import { runScenario, type Sample } from '../../scenarios/scenario.js';
import { QUICK, summarizeThroughput } from '../../scenarios/experiments/throughput.js';
import { rootOnly } from '../helpers/root.js';

const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;

t.test('summarizeThroughput: medians over verified runs, on/off against 90%', async (t) => {
  const s = (direction: string, mode: string, gbps: number, verified = true): Sample => ({ direction, mode, gbps, verified });
  const rows = summarizeThroughput([
    s('to', 'kernel', 4), s('to', 'off', 2), s('to', 'off', 3), s('to', 'off', 2.5), s('to', 'on', 2.4), s('to', 'on', 9, false),
    s('from', 'off', 2), s('from', 'on', 1),
  ]);
  const to = rows.find((r) => r.direction === 'to')!;
  t.equal(to.off, 2.5);
  t.equal(to.on, 2.4, 'the unverified run is not counted');
  t.equal(to.ratio, 0.96);
  t.equal(to.targetMet, true);
  const from = rows.find((r) => r.direction === 'from')!;
  t.equal(from.ratio, 0.5);
  t.equal(from.targetMet, false);
  t.equal(from.kernel, null);
});

t.test('summarizeThroughput: CPU per MB medians, and the primary-bound ratio off / on of the server\'s CPU', async (t) => {
  const s = (mode: string, server: number, backup: number | null = null): Sample => ({ direction: 'to', mode, gbps: 1, verified: true, serverCpuMsPerMB: server, backupCpuMsPerMB: backup });
  const rows = summarizeThroughput([s('kernel', 3), s('off', 6), s('off', 6.4), s('off', 6.2), s('on', 6.9, 3), s('on', 7.1, 2.8), s('on', 7, 2.9)]);
  const to = rows.find((r) => r.direction === 'to')!;
  t.same(to.serverCpuMsPerMB, { kernel: 3, off: 6.2, on: 7, replay: null });
  t.equal(to.backupCpuMsPerMB, 2.9);
  t.equal(to.primaryBoundRatio, 0.886);
  const from = rows.find((r) => r.direction === 'from')!;
  t.equal(from.primaryBoundRatio, null, 'no runs: no model');
  t.same(to.machineIdlePct, { kernel: null, off: null, on: null, replay: null }, 'not measured: null, not 0');
});

t.test('summarizeThroughput: the machine-bound ratio from server, backup and client CPU per MB', async (t) => {
  const s = (mode: string, server: number, client: number | null, backup: number | null = null): Sample =>
    ({ direction: 'from', mode, gbps: 1, verified: true, serverCpuMsPerMB: server, clientCpuMsPerMB: client, backupCpuMsPerMB: backup });
  const rows = summarizeThroughput([s('off', 0.7, 0.6), s('off', 0.8, 0.7), s('on', 1.3, 0.6, 0.6), s('on', 1.2, 0.7, 0.5)]);
  const from = rows.find((r) => r.direction === 'from')!;
  t.same(from.clientCpuMsPerMB, { kernel: null, off: 0.65, on: 0.65, replay: null });
  t.equal(from.machineBoundRatio, 0.571, '(0.75 + 0.65) / (1.25 + 0.55 + 0.65)');
  const none = summarizeThroughput([s('off', 0.7, null), s('on', 1.3, 0.6, 0.6)]).find((r) => r.direction === 'from')!;
  t.equal(none.machineBoundRatio, null, 'a client that reported no CPU: no model');
});

t.test('summarizeThroughput: output replay beside strict, each against off and the target', async (t) => {
  const s = (mode: string, gbps: number, server: number, client: number, backup: number | null = null): Sample =>
    ({ direction: 'from', mode, gbps, verified: true, serverCpuMsPerMB: server, clientCpuMsPerMB: client, backupCpuMsPerMB: backup });
  const rows = summarizeThroughput([s('off', 8, 0.8, 0.8), s('on', 4.8, 1.4, 0.8, 0.7), s('replay', 7.6, 0.9, 0.8, 0.2)]);
  const from = rows.find((r) => r.direction === 'from')!;
  t.equal(from.ratio, 0.6, 'strict');
  t.equal(from.targetMet, false);
  t.equal(from.replay, 7.6);
  t.equal(from.replayRatio, 0.95, 'replay / off');
  t.equal(from.replayTargetMet, true);
  t.equal(from.replayBackupCpuMsPerMB, 0.2);
  t.equal(from.replayMachineBoundRatio, 0.842, '(0.8 + 0.8) / (0.9 + 0.8 + 0.2)');
  t.equal(from.machineBoundRatio, 0.552, 'strict: (0.8 + 0.8) / (1.4 + 0.8 + 0.7)');
});

t.test('summarizeThroughput: the machine\'s idle share, median per mode', async (t) => {
  const s = (mode: string, idle: number | null): Sample => ({ direction: 'from', mode, gbps: 1, verified: true, machineIdlePct: idle });
  const rows = summarizeThroughput([s('off', 30), s('off', 40), s('off', 35), s('on', 2), s('on', null), s('on', 4)]);
  t.same(rows.find((r) => r.direction === 'from')!.machineIdlePct, { kernel: null, off: 35, on: 3, replay: null });
});

t.test('throughput --quick writes its files with sane figures', rootOnly(), async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'intact-tp-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const prefix = `intact-t${Math.floor(Math.random() * 0xfffff).toString(16)}`;
  const { summary } = await runScenario('throughput', { quick: true, out, prefix, progress: { silent: true } });
  t.notOk((await listNetns()).some((ns) => ns.startsWith(prefix + '-')), 'the lab is gone afterwards');
  for (const f of ['samples.json', 'samples.csv', 'summary.json', 'chart.svg', 'report.md']) t.ok(existsSync(join(out, f)), f);
  t.same(summary.errors, [], 'no step failed');
  t.equal(summary.ok, true);
  const samples = JSON.parse(readFileSync(join(out, 'samples.json'), 'utf8')) as Sample[];
  t.equal(samples.length, 2 * 4 * QUICK.runs, 'one sample per direction, mode and run');
  for (const s of samples) {
    t.equal(s.bytes, QUICK.bytes, `${s.direction} ${s.mode}: every byte`);
    t.equal(s.verified, true, `${s.direction} ${s.mode}: sha256 verified`);
    t.ok(positive(s.gbps), `${s.direction} ${s.mode}: positive throughput`);
    t.ok(positive(s.serverCpuMsPerMB), `${s.direction} ${s.mode}: the server's CPU was counted`);
    if (s.mode === 'on' || s.mode === 'replay') t.ok(positive(s.backupCpuMsPerMB), `${s.direction} ${s.mode}: the backup's CPU was counted`);
    t.ok(positive(s.clientCpuMsPerMB), `${s.direction} ${s.mode}: the client's CPU was counted`);
    t.ok(typeof s.machineIdlePct === 'number' && s.machineIdlePct >= 0 && s.machineIdlePct <= 100, `${s.direction} ${s.mode}: the machine's idle share was read`);
    const warmup = readFileSync(join(out, 'logs', `client-bulk-${s.direction}-${s.mode}-${s.run}-warmup1.log`), 'utf8');
    t.match(warmup, /"verified":true/, `${s.direction} ${s.mode}: an unmeasured, verified transfer came first`);
  }
  const j = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { targetMet: boolean; rows: Array<{ ratio: number | null; machineBoundRatio: number | null }> };
  t.type(j.targetMet, 'boolean');
  t.ok(j.rows.every((r) => positive(r.ratio)));
  t.ok(j.rows.every((r) => positive(r.machineBoundRatio)), 'the machine-bound model has every figure it needs');
  t.match(readFileSync(join(out, 'chart.svg'), 'utf8'), /<svg/);
  t.match(readFileSync(join(out, 'report.md'), 'utf8'), /no obvious difference/);
});
