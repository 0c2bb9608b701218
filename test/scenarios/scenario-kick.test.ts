// Scenario kick: the pure pieces (the plan, the mechanism read from counters, the
// verdicts) without root, and `--quick` end to end in a lab (root): every planned
// connection measured, the client's own timers seen as what they are (TLP with one
// segment out, RTO with several once the early TLP has gone), the ICMP fragmentation-
// needed kick making it resend at once, and no kick ever judged invalid by the client.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listNetns } from '../../lab/topology.js';
import { uniquePrefix } from '../../lab/plan.js';
import { runScenario } from '../../scenarios/experiments/index.js';
import {
  IMMEDIATE_MS, QUICK_OUTAGES, REQUESTS, VARIANTS, kickPlan, mechanismOf, readNetnsCounters, segmentsOf, adoptable, verdicts, type CellFigure,
} from '../../scenarios/experiments/kick.js';
import { checkFiles } from './scenario-helpers.js';
import { rootOnly } from '../helpers/root.js';

t.test('kickPlan: every variant once per request, outage and run, the order rotated by run', async (t) => {
  const plans = kickPlan(2, [100, 300]);
  t.equal(plans.length, 2 * REQUESTS.length * 2 * VARIANTS.length);
  t.same(plans.map((p) => p.index), plans.map((_, i) => i), 'indexes are the connection order');
  for (const v of VARIANTS) t.equal(plans.filter((p) => p.variant === v).length, 2 * REQUESTS.length * 2, `${v} planned in every case`);
  t.not(plans[0]!.variant, plans.find((p) => p.run === 2)!.variant, 'run 2 starts with another variant');
});

t.test('mechanismOf: which counter moved between the kick and the resend', async (t) => {
  t.equal(mechanismOf({ TcpExtTCPLossProbes: 1, TcpRetransSegs: 1 }, 90), 'TLP');
  t.equal(mechanismOf({ TcpExtTCPTimeouts: 1, TcpRetransSegs: 1 }, 90), 'RTO');
  t.equal(mechanismOf({ TcpExtTCPTimeouts: 1, TcpRetransSegs: 1, IcmpInDestUnreachs: 4 }, 0.2), 'RTO revert (RFC 6069)');
  t.equal(mechanismOf({ TcpExtTCPTimeouts: 1, TcpRetransSegs: 1, IcmpInDestUnreachs: 4 }, 50), 'RTO', 'a late resend after an ICMP is the timer');
  t.equal(mechanismOf({ TcpExtTCPSlowStartRetrans: 7, TcpRetransSegs: 7, IcmpInDestUnreachs: 1 }, 0.1), 'PMTU (tcp_simple_retransmit)');
  t.equal(mechanismOf({ TcpExtTCPFastRetrans: 1 }, 1), 'fast retransmit');
  t.equal(mechanismOf({}, 1), 'unknown');
  t.equal(mechanismOf(undefined, 1), 'unknown (counters unread)');
});

t.test('segmentsOf: payload per segment with timestamps', async (t) => {
  t.equal(segmentsOf(100), 1);
  t.equal(segmentsOf(1448), 1);
  t.equal(segmentsOf(1449), 2);
  t.equal(segmentsOf(10_000), 7);
});

t.test('readNetnsCounters reads this namespace\'s counters by nstat\'s names', async (t) => {
  const c = readNetnsCounters(process.pid);
  t.type(c.TcpRetransSegs, 'number');
  t.type(c.TcpExtTCPLossProbes, 'number');
  t.type(c.IcmpInDestUnreachs, 'number');
  t.notOk(Object.values(c).some((x) => Number.isNaN(x)), 'every value a number');
});

/** One case's figures for verdicts(): 4 runs, all completed, none faster than none. */
const cell = (variant: CellFigure['variant'], o: Partial<CellFigure>): CellFigure => ({
  request: 100, outageMs: 100, variant, n: 4, runs: 4, medianMs: 100, p95Ms: 110, dropMedianMs: 200, dropP95Ms: 220, gainMs: 0,
  stallMedianMs: 201, immediate: 0, mechanisms: {}, lossProbes: 4, retransSegs: 4, challengeAcks: 0, pawsEstab: 0, ...o,
});

t.test('verdicts: sooner beyond the jitter works; slower harms; a challenge ACK rejects', async (t) => {
  const v = verdicts([
    cell('none', {}),
    cell('ack', { gainMs: 5, dropMedianMs: 195, dropP95Ms: 205 }),
    cell('dupack3', { gainMs: 30, dropMedianMs: 170, dropP95Ms: 230 }),
    cell('icmp-frag', { gainMs: 100, dropMedianMs: 100, dropP95Ms: 105, immediate: 4 }),
    cell('probe', { gainMs: -40, dropMedianMs: 240, dropP95Ms: 250 }),
    cell('old-data', { gainMs: 100, dropMedianMs: 100, dropP95Ms: 105, challengeAcks: 1 }),
  ]);
  const of = (name: string) => v.find((x) => x.variant === name)!;
  t.same(of('ack').works, [], 'a gain within the jitter is not a kick that works');
  t.same(of('dupack3').works, [], 'nor one whose p95 comes after none\'s median');
  t.equal(of('icmp-frag').works.length, 1);
  t.equal(of('icmp-frag').works[0]!.noneDropMedianMs, 200);
  t.equal(of('probe').harms.length, 1);
  t.equal(of('old-data').rejected, true);
  t.equal(adoptable(of('icmp-frag')), true);
  for (const name of ['ack', 'probe', 'old-data']) t.equal(adoptable(of(name)), false, name);
});

t.test('verdicts: a case whose runs all failed counts against the kick; window tricks and unknowable TSecr are never adoptable', async (t) => {
  const fast = { gainMs: 100, dropMedianMs: 100, dropP95Ms: 105 };
  const v = verdicts([
    cell('none', {}), cell('none', { outageMs: 300 }),
    cell('icmp-frag', fast), cell('icmp-frag', { outageMs: 300, n: 0, gainMs: Number.NaN, dropMedianMs: Number.NaN }),
    cell('window-update', fast), cell('zero-window', fast), cell('dupack3-tsecr', fast), cell('icmp-unreach', fast),
  ]);
  const of = (name: string) => v.find((x) => x.variant === name)!;
  t.same(of('icmp-frag').failed, [{ request: 100, outageMs: 300, runs: 4, ok: 0 }]);
  t.equal(adoptable(of('icmp-frag')), false, 'it works at 100 ms but every run failed at 300 ms');
  for (const name of ['window-update', 'zero-window', 'dupack3-tsecr']) {
    t.equal(of(name).works.length, 1, `${name} measured as working`);
    t.equal(adoptable(of(name)), false, `${name} never adopted`);
    t.match(of(name).notAdoptable, /shrink|TSval/);
  }
  t.equal(adoptable(of('icmp-unreach')), true);
});

t.test('verdicts: a case where fewer than half the runs completed is not judged, and counts against the kick', async (t) => {
  const fast = { gainMs: 100, dropMedianMs: 100, dropP95Ms: 105 };
  const v = verdicts([
    cell('none', { n: 10, runs: 10 }),
    cell('icmp-frag', { ...fast, n: 1, runs: 10 }),
    cell('icmp-unreach', { ...fast, n: 5, runs: 10 }),
  ]);
  const of = (name: string) => v.find((x) => x.variant === name)!;
  t.same(of('icmp-frag').works, [], 'one good run in ten shows nothing');
  t.same(of('icmp-frag').failed, [{ request: 100, outageMs: 100, runs: 10, ok: 1 }]);
  t.equal(adoptable(of('icmp-frag')), false);
  t.equal(of('icmp-unreach').works.length, 1, 'half the runs is enough to judge');
  t.equal(adoptable(of('icmp-unreach')), true);
});

t.test('kick --quick measures every variant and finds the kick that works', rootOnly(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-kick-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const prefix = uniquePrefix('intact-t');
  const { summary } = await runScenario('kick', { quick: true, out: dir, prefix, progress: { silent: true } });
  t.notOk((await listNetns()).some((ns) => ns.startsWith(prefix + '-')), 'the lab is gone afterwards');
  const samples = checkFiles(t, dir);
  t.same(summary.errors, [], 'no connection failed');
  t.equal(summary.ok, true);
  const runs = summary.runsPerCase as number;
  t.equal(samples.length, runs * REQUESTS.length * QUICK_OUTAGES.length * VARIANTS.length, 'one sample per planned connection');
  for (const s of samples) {
    t.equal(s.ok, true, `${s.variant} ${s.request} B run ${s.run}`);
    t.ok(Number(s.kickToResendMs) >= 0, 'the resend came after the kick');
    t.ok(Number(s.outageActualMs) >= Number(s.outageMs) - 1, 'the kick waited for the whole outage (libuv timers: ms granularity)');
    t.equal(s.connChallengeACK, 0, `${s.variant}: no challenge ACK`);
    t.equal(s.connPAWSEstab, 0, `${s.variant}: nothing dropped by PAWS`);
  }
  const of = (variant: string, request: number) => samples.filter((s) => s.variant === variant && s.request === request);
  const [one, several] = REQUESTS as [number, number];
  // The client's own timers: a lone segment waits for its tail-loss probe; several get an
  // early probe inside the outage (2*SRTT + 2 ms), so the RTO resends after it.
  for (const s of of('none', one)) t.equal(s.mechanism, 'TLP', 'one segment out: the TLP resends it');
  for (const s of of('none', several)) {
    t.equal(s.mechanism, 'RTO', 'several out: the RTO resends after the early TLP');
    t.ok(Number(s.outageSegments) >= 2, 'the early TLP came inside the outage');
  }
  // Fragmentation needed with a smaller MTU: full-sized segments are resent at once.
  for (const s of of('icmp-frag', several)) {
    t.ok(Number(s.kickToResendMs) < IMMEDIATE_MS, `resent ${s.kickToResendMs} ms after the ICMP`);
    t.equal(s.mechanism, 'PMTU (tcp_simple_retransmit)');
    t.equal(s.resendSeqOff, 0, 'from the first dropped byte');
  }
  // ...but never a segment no longer than the new MSS: the one-segment request waits.
  for (const s of of('icmp-frag', one)) t.ok(Number(s.kickToResendMs) >= IMMEDIATE_MS, 'a short segment is not resent by it');
  const working = summary.working as string[];
  t.ok(working.includes('icmp-frag'), 'icmp-frag is found to work');
  t.notOk(working.includes('ack'), 'a pure ACK is not');
});
