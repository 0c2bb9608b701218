// Scenario overhead-rr: the pure summary (no root), and `--quick` end to end in a lab
// (root): every file written, counts as asked, every figure positive, every reply
// verified, the replication link's round trip measured, the lab gone afterwards.
// No timing thresholds: whether issue 4's target is met is a figure, not a test.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listNetns } from '../../lab/topology.js';
import { runScenario, type Sample } from '../../scenarios/scenario.js';
import { combineRtts, EXCHANGES_FILE, QUICK, rttPoints, summarizeRr, WORKLOADS } from '../../scenarios/experiments/overhead-rr.js';
import { rootOnly } from '../helpers/root.js';

const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;

t.test('summarizeRr: overhead on totals, added latency on medians, the 1.5 × RTT target', async (t) => {
  const s = (mode: string, medianUs: number, totalUs: number): Sample => ({
    workload: '256→1', mode, medianUs, p95Us: medianUs * 2, totalUs, verified: true,
  });
  const rows = summarizeRr([s('kernel', 40, 200_000), s('off', 100, 500_000), s('on', 160, 600_000)], 50);
  const r = rows.find((x) => x.workload === '256→1')!;
  t.equal(r.addedUs, 60);
  t.equal(r.overheadPct, 20);
  t.equal(r.overheadMedianPct, 60);
  t.equal(r.targetMet, true, '60 µs ≤ 1.5 × 50 µs');
  t.equal(summarizeRr([s('off', 100, 500_000), s('on', 200, 600_000)], 50).find((x) => x.workload === '256→1')!.targetMet, false);
  t.equal(rows.length, WORKLOADS.length, 'one row per workload');
  t.equal(rows.find((x) => x.workload === '1000→1000')!.on, null, 'no samples: null, not zero');
  t.equal(r.replay, null, 'no replay samples: null');
  t.equal(r.replayTargetMet, null);
});

t.test('summarizeRr: output replay against off and the same target', async (t) => {
  const s = (mode: string, medianUs: number): Sample => ({ workload: '256→1', mode, medianUs, p95Us: medianUs * 2, totalUs: medianUs * 1000, verified: true });
  const r = summarizeRr([s('off', 100), s('on', 190), s('replay', 112)], 50).find((x) => x.workload === '256→1')!;
  t.equal(r.targetMet, false, 'strict: +90 µs > 75');
  t.equal(r.replayAddedUs, 12);
  t.equal(r.replayTargetMet, true, 'replay: +12 µs ≤ 75');
});

t.test('summarizeRr: strict without polling against off and the same target', async (t) => {
  const s = (mode: string, medianUs: number): Sample => ({ workload: '4096→1', mode, medianUs, p95Us: medianUs * 2, totalUs: medianUs * 1000, verified: true });
  const r = summarizeRr([s('off', 100), s('on', 150), s('sleep', 170), s('replay', 112)], 50).find((x) => x.workload === '4096→1')!;
  t.equal(r.sleepAddedUs, 70);
  t.equal(r.sleepTargetMet, true, 'sleep: +70 µs ≤ 75');
  t.equal(r.addedUs, 50, 'on is strict at default settings, apart from sleep');
  t.equal(summarizeRr([s('off', 100), s('sleep', 180)], 50).find((x) => x.workload === '4096→1')!.sleepTargetMet, false, 'sleep: +80 µs > 75');
  t.equal(summarizeRr([s('off', 100)], 50).find((x) => x.workload === '4096→1')!.sleep, null, 'no sleep samples: null');
});

t.test('summarizeRr ignores unverified runs and takes the median over runs', async (t) => {
  const rows = summarizeRr([
    { workload: '1024→1', mode: 'off', medianUs: 10, p95Us: 1, totalUs: 1, verified: true },
    { workload: '1024→1', mode: 'off', medianUs: 30, p95Us: 1, totalUs: 1, verified: true },
    { workload: '1024→1', mode: 'off', medianUs: 20, p95Us: 1, totalUs: 1, verified: true },
    { workload: '1024→1', mode: 'off', medianUs: 999, p95Us: 1, totalUs: 1, verified: false },
  ], null);
  const r = rows.find((x) => x.workload === '1024→1')!;
  t.equal(r.off!.medianUs, 20);
  t.equal(r.off!.runs, 3);
  t.equal(r.targetMet, null, 'no round trip: target unknown');
});

t.test('combineRtts: the median of several measurements of the link', async (t) => {
  const r = (tcpMedianUs: number, pingMedianUs: number | null) => ({
    tcpMedianUs, tcpP95Us: tcpMedianUs * 2, tcpExchanges: 10, tcpRequestBytes: 64, tcpReplyBytes: 16, pingMedianUs, pingCount: 5,
  });
  const c = combineRtts([r(30, 50), r(90, null), r(40, 70)])!;
  t.equal(c.tcpMedianUs, 40);
  t.equal(c.tcpP95Us, 80);
  t.equal(c.pingMedianUs, 60, 'a failed ping is left out, not counted as zero');
  t.same(c.tcpMediansUs, [30, 90, 40]);
  t.equal(c.measurements, 3);
  t.equal(combineRtts([]), null);
});

t.test('overhead-rr --quick writes its files with sane figures', rootOnly(), async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'intact-orr-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const prefix = `intact-t${Math.floor(Math.random() * 0xfffff).toString(16)}`;
  const { summary } = await runScenario('overhead-rr', { quick: true, out, prefix, progress: { silent: true } });
  t.notOk((await listNetns()).some((ns) => ns.startsWith(prefix + '-')), 'the lab is gone afterwards');
  for (const f of ['samples.json', 'samples.csv', 'summary.json', 'chart.svg', 'report.md']) t.ok(existsSync(join(out, f)), f);
  t.same(summary.errors, [], 'no step failed');
  t.equal(summary.ok, true);

  const samples = JSON.parse(readFileSync(join(out, 'samples.json'), 'utf8')) as Sample[];
  const rr = samples.filter((s) => s.workload !== 'replication link');
  t.equal(samples.length - rr.length, rttPoints(true), 'the replication link measured at the start and at the end');
  t.equal(rr.length, WORKLOADS.length * 5 * QUICK.runs, 'one sample per workload, mode and run');
  t.same([...new Set(rr.map((s) => s.mode))].sort(), ['kernel', 'off', 'on', 'replay', 'sleep']);
  for (const s of rr) {
    t.equal(s.exchanges, QUICK.exchanges, `${s.workload} ${s.mode}: exchanges as asked`);
    t.equal(s.verified, true, `${s.workload} ${s.mode}: replies verified`);
    t.ok(positive(s.medianUs) && positive(s.totalUs), `${s.workload} ${s.mode}: positive figures`);
  }
  const j = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
    replicationLink: { tcpMedianUs: number } | null;
    targetBudgetUs: number;
    targetMet: boolean | null;
    rows: Array<{ addedUs: number | null; overheadPct: number | null }>;
  };
  t.ok(positive(j.replicationLink?.tcpMedianUs), 'replication link round trip measured');
  t.ok(positive(j.targetBudgetUs));
  t.type(j.targetMet, 'boolean', 'the target is decided, one way or the other');
  t.ok(j.rows.every((r) => typeof r.addedUs === 'number' && typeof r.overheadPct === 'number'));
  const csv = readFileSync(join(out, 'samples.csv'), 'utf8');
  t.equal(csv.trim().split('\r\n').length, samples.length + 1, 'CSV: a header and one line per sample');
  const exchanges = readFileSync(join(out, EXCHANGES_FILE), 'utf8').trim().split('\r\n');
  t.equal(exchanges.length, 1 + rr.length * QUICK.exchanges, 'every timed exchange of every run, raw');
  t.ok(exchanges.slice(1).every((l) => Number(l.split(',').at(-1)) > 0), 'positive exchange times');
  t.match(readFileSync(join(out, 'chart.svg'), 'utf8'), /<svg/);
  t.match(readFileSync(join(out, 'report.md'), 'utf8'), /table 4-2.*4%/);
});
