// Scenario kick (DESIGN takeover step 5): what makes a Linux client (SACK, RACK-TLP)
// resend the bytes it sent to a primary that died before acknowledging them, at once,
// instead of when its own timers fire. The takeover cannot resend those bytes itself:
// only the client holds them.
//
// No intact primary or backup here: the "server" is kick-responder.ts, a responder built
// from raw frames in the lab's primary namespace, so the experiment chooses every segment
// the client sees. Per connection: handshake, warm-up exchanges (the client's SRTT), then
// the client's next request is dropped — never acknowledged — for the outage, then one
// kick variant is sent and the time from the kick to the client's first resend of the
// dropped bytes is measured at the responder, with the client kernel's own counters read
// around it (/proc/<pid>/net/{snmp,netstat} of a process in the client namespace: the
// same counters `nstat` shows, read in microseconds, so each can be attributed to one
// connection and to the instant of the kick).
//
// Variants, request sizes and outages are interleaved run by run, so a drift of the
// (shared, 2-core) machine spreads over all of them instead of biasing one.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { withLab, nsExec } from '../../lab/topology.js';
import { findNode, uniquePrefix, VIP, SERVICE_IF, type LabPlan } from '../../lab/plan.js';
import { openLink, type NativeLink } from '../../native/index.js';
import { arpOrIpv4To } from '../../native/bpf.js';
import { ipv4ToU32 } from '../../shared/wire/addr.js';
import { CONFIG, type ChartSpec } from '../chart.js';
import type { Table } from '../report.js';
import { defineScenario, type ScenarioContext, type ScenarioResult, type Sample } from '../scenario.js';
import { startProcess, type ManagedProcess } from '../lib/process.js';
import { REPO_ROOT, tsxArgv } from '../lib/repo.js';
import { round, summarize } from '../lib/stats.js';
import { childEnv } from './pair.js';
import { KickResponder, VARIANTS, type ConnPlan, type ConnRecord, type Counters, type KickVariant, type SegmentSeen } from './kick-responder.js';

export { VARIANTS, type KickVariant } from './kick-responder.js';

/** The dropped request: one segment, or several (the TLP timeout differs: 2*SRTT +
 *  rto_min with one packet out, 2*SRTT + 2 ms with more, tcp_schedule_loss_probe). */
export const REQUESTS = [100, 10_000];
export const FULL_OUTAGES = [100, 300, 1000];
export const QUICK_OUTAGES = [100];
const FULL_RUNS = 10;
const QUICK_RUNS = 2;
const PORT = 5100;
const WARMUP = 5;
const WARMUP_REQUEST = 100;
const REPLY = 100;
/** The client's payload per full segment (MSS 1460 less 12 bytes of timestamps). */
const SEGMENT_PAYLOAD = 1448;
const RESEND_CAP_MS = 5000;

export function outagesOf(quick: boolean): number[] {
  return quick ? QUICK_OUTAGES : FULL_OUTAGES;
}

function runsOf(o: { quick: boolean; runs?: number }): number {
  return o.runs ?? (o.quick ? QUICK_RUNS : FULL_RUNS);
}

export function segmentsOf(request: number): number {
  return Math.ceil(request / SEGMENT_PAYLOAD);
}

export const requestLabel = (request: number): string => {
  const n = segmentsOf(request);
  return `${request} B (${n} segment${n === 1 ? '' : 's'})`;
};

/** The plan, interleaved: round by round, and inside a round request by request and
 *  outage by outage, with the variants' order rotated each round. */
export function kickPlan(runs: number, outages: readonly number[]): ConnPlan[] {
  const plans: ConnPlan[] = [];
  for (let r = 1; r <= runs; r++) {
    for (const request of REQUESTS) {
      for (const outageMs of outages) {
        for (let k = 0; k < VARIANTS.length; k++) {
          const variant = VARIANTS[(k + r - 1) % VARIANTS.length]!;
          plans.push({ index: plans.length, run: r, variant, outageMs, request });
        }
      }
    }
  }
  return plans;
}

// ------------------------------------------------------------------ client counters

/** The counters of the network namespace `pid` lives in: /proc/<pid>/net/snmp and
 *  netstat, named as nstat names them (Tcp + RetransSegs, TcpExt + TCPLossProbes). */
export function readNetnsCounters(pid: number): Counters {
  const out: Counters = {};
  for (const file of ['snmp', 'netstat']) {
    const lines = readFileSync(`/proc/${pid}/net/${file}`, 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i]!.trim().split(/\s+/);
      const values = lines[i + 1]!.trim().split(/\s+/);
      const prefix = names[0]!.replace(/:$/, '');
      if (values[0] !== names[0]) continue;
      for (let j = 1; j < names.length; j++) out[prefix + names[j]!] = Number(values[j]);
    }
  }
  return out;
}

export function counterDelta(before: Counters | undefined, after: Counters | undefined): Counters | undefined {
  if (!before || !after) return undefined;
  const d: Counters = {};
  for (const k of Object.keys(after)) {
    const x = (after[k] ?? 0) - (before[k] ?? 0);
    if (x !== 0) d[k] = x;
  }
  return d;
}

/** "TcpExtTCPLossProbes+1 TcpRetransSegs+1": the counters that moved, for the CSV. */
export function deltaLabel(d: Counters | undefined, only?: readonly string[]): string {
  if (!d) return 'unread';
  const keys = Object.keys(d).filter((k) => !only || only.includes(k)).sort();
  return keys.length ? keys.map((k) => `${k}${d[k]! > 0 ? '+' : ''}${d[k]}`).join(' ') : '-';
}

/** A resend this soon after the kick left inside the kernel's handling of the kick itself
 *  (softirq), not from a timer. The figure is taken when this process reads the resent
 *  frame, so its own scheduling delay is inside it: 2 ms, the first bound, failed once in
 *  CI at 3.7 ms (2026-11-23) on a loaded machine. No client timer can resend that soon:
 *  with several segments out the early TLP fired inside the outage and the RTO is at
 *  least 200 ms from the drop; a lone segment's TLP is 2*SRTT + rto_min from its send;
 *  with the planned outages (100, 300, 1000 ms) each lands 100 ms or more from the kick. */
export const IMMEDIATE_MS = 20;

/** What made the client resend, from the counters that moved between the kick and the
 *  resend's arrival (kernel functions named in the report's notes). */
export function mechanismOf(d: Counters | undefined, kickToResendMs: number): string {
  if (!d) return 'unknown (counters unread)';
  const n = (k: string) => d[k] ?? 0;
  const icmp = n('IcmpInDestUnreachs') > 0;
  if (n('TcpExtTCPLossProbes') > 0) return 'TLP';
  if (n('TcpExtTCPTimeouts') > 0) return icmp && kickToResendMs < IMMEDIATE_MS ? 'RTO revert (RFC 6069)' : 'RTO';
  if (n('TcpExtTCPFastRetrans') > 0) return 'fast retransmit';
  if (n('TcpExtTCPSlowStartRetrans') > 0) return icmp ? 'PMTU (tcp_simple_retransmit)' : 'loss-state retransmit';
  if (n('TcpRetransSegs') > 0) return 'retransmit (other)';
  return 'unknown';
}

// ------------------------------------------------------------------ one experiment

interface Measured {
  records: ConnRecord[];
  client: Array<{ i: number; ok: boolean; stallMs: number | null; error?: string }>;
  ignored: Record<string, number>;
  errors: string[];
}

function sameNetns(pid: number, netns: string): boolean {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino === statSync(`/run/netns/${netns}`).ino;
  } catch {
    return false;
  }
}

async function measure(lab: LabPlan, plans: ConnPlan[], ctx: ScenarioContext): Promise<Measured> {
  const client = findNode(lab, 'client');
  const primary = findNode(lab, 'primary');
  // Each connection starts from the same kernel state: no RTT, cwnd or ssthresh
  // remembered from the one before (tcp_metrics), which saw a loss.
  const sysctl = await nsExec(client.netns, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/tcp_no_metrics_save']);
  if (sysctl.code !== 0) throw new Error(`tcp_no_metrics_save in ${client.netns}: ${sysctl.stderr}`);
  const vip = ipv4ToU32(VIP);
  let link: NativeLink | undefined;
  let proc: ManagedProcess | undefined;
  let responder: KickResponder | undefined;
  const errors: string[] = [];
  try {
    link = openLink(SERVICE_IF, { netns: primary.netns, filter: arpOrIpv4To(vip), gso: false });
    let clientPid = 0;
    let inClientNetns = false;
    const started = new Set<number>();
    const r = new KickResponder({
      link, vip, port: PORT, plans, warmup: WARMUP, warmupRequest: WARMUP_REQUEST, reply: REPLY,
      resendCapMs: RESEND_CAP_MS, connectionCapMs: RESEND_CAP_MS + Math.max(...plans.map((p) => p.outageMs)) + 10_000,
      mtu: link.mtu,
      counters: () => {
        if (!inClientNetns) throw new Error('the client has not entered its namespace yet');
        return readNetnsCounters(clientPid);
      },
      afterResend: async (plan) => {
        // A PMTU learnt from our ICMP must not shrink the next connection's segments.
        if (plan.variant.startsWith('icmp-frag')) await nsExec(client.netns, ['ip', 'route', 'flush', 'cache']);
      },
      beforeAccept: async (plan) => {
        if (!started.has(plan.index)) {
          started.add(plan.index);
          ctx.progress.step(`run ${plan.run}: ${requestLabel(plan.request)}, outage ${plan.outageMs} ms, kick ${plan.variant}`);
        }
      },
      onRecord: (rec) => {
        if (rec.ok) ctx.progress.note(`${rec.plan.variant}: resend ${rec.kickToResendMs.toFixed(1)} ms after the kick (${mechanismOf(counterDelta(rec.counters.kick, rec.counters.resend), rec.kickToResendMs)})`);
        else ctx.progress.note(`${rec.plan.variant}: FAILED: ${rec.error}`);
      },
    });
    responder = r;
    r.start();
    const totalMs = plans.reduce((a, p) => a + p.outageMs + RESEND_CAP_MS + 2000, 30_000);
    proc = await startProcess({
      name: 'kick-client',
      netns: client.netns,
      argv: tsxArgv('scenarios/clients/kick-client.ts', [
        '--host', VIP, '--port', String(PORT), '--plan', plans.map((p) => p.request).join(','),
        '--warmup', String(WARMUP), '--request', String(WARMUP_REQUEST), '--reply', String(REPLY),
        '--timeout-ms', String(totalMs),
      ]),
      cwd: REPO_ROOT,
      env: childEnv(),
      logFile: join(ctx.logDir, 'kick-client.log'),
    });
    clientPid = proc.pid;
    // `ip netns exec` enters the namespace and then execs the client under the same pid:
    // until it has, /proc/<pid>/net is the scenario's own namespace.
    for (const deadline = Date.now() + 10_000; !sameNetns(clientPid, client.netns);) {
      if (Date.now() > deadline || !proc.running) throw new Error(`client pid ${clientPid} never entered namespace ${client.netns}: its counters would be someone else's`);
      await new Promise((res) => setTimeout(res, 5));
    }
    inClientNetns = true;
    const exited = proc.exited.then(() => 'exited' as const);
    const first = await Promise.race([r.done.then(() => 'done' as const), exited]);
    if (first === 'exited') {
      // Let the last records land (the responder finishes a connection on the client's
      // last ACK, which may come just before the process exits).
      await Promise.race([r.done, new Promise((res) => setTimeout(res, 1000))]);
    }
    await proc.waitExit(10_000).catch(() => undefined);
    const line = proc.stdout().trim().split('\n').pop() ?? '';
    let out: { ok?: boolean; connections?: Measured['client']; error?: string } = {};
    try {
      out = JSON.parse(line) as typeof out;
    } catch {
      errors.push(`kick-client printed no result line: ${proc.tail().slice(-300)}`);
    }
    if (out.error) errors.push(`kick-client: ${out.error}`);
    return { records: [...r.records()].sort((a, b) => a.plan.index - b.plan.index), client: out.connections ?? [], ignored: r.ignored, errors };
  } finally {
    responder?.close();
    if (proc?.running) await proc.stop(2000);
    link?.close();
  }
}

// ------------------------------------------------------------------ figures

function timeline(segs: readonly SegmentSeen[]): string {
  return segs.map((s) => `${s.atMs.toFixed(1)}ms:+${s.seqOff}/${s.len}`).join(' ');
}

function toSample(rec: ConnRecord, stall: { stallMs: number | null } | undefined): Sample {
  const kick = counterDelta(rec.counters.kick, rec.counters.resend);
  const outage = counterDelta(rec.counters.drop, rec.counters.kick);
  const conn = counterDelta(rec.counters.syn, rec.counters.end);
  const c = (k: string) => (conn ? (conn[k] ?? 0) : null);
  return {
    kind: 'kick',
    index: rec.plan.index,
    run: rec.plan.run,
    variant: rec.plan.variant,
    request: rec.plan.request,
    segments: segmentsOf(rec.plan.request),
    outageMs: rec.plan.outageMs,
    ok: rec.ok,
    error: rec.error,
    outageActualMs: round(rec.outageActualMs, 3),
    kickToResendMs: round(rec.kickToResendMs, 3),
    dropToResendMs: round(rec.outageActualMs + rec.kickToResendMs, 3),
    mechanism: rec.resend ? mechanismOf(kick, rec.kickToResendMs) : 'none seen',
    resendSeqOff: rec.resend?.seqOff ?? null,
    resendLen: rec.resend?.len ?? null,
    /** Client segments carrying dropped bytes during the outage, the original included. */
    outageSegments: rec.outageSegments.length,
    outageTimeline: timeline(rec.outageSegments),
    /** Of those, sent before the kick but received after it (the responder was not scheduled). */
    lateArrivals: rec.lateArrivals,
    /** What the client sent between the kick and the resend (ACKs it was made to send). */
    beforeResend: timeline(rec.beforeResend),
    kickCounters: deltaLabel(kick),
    outageCounters: deltaLabel(outage),
    connLossProbes: c('TcpExtTCPLossProbes'),
    connRetransSegs: c('TcpRetransSegs'),
    connChallengeACK: c('TcpExtTCPChallengeACK'),
    connPAWSEstab: c('TcpExtPAWSEstab'),
    clientStallMs: stall?.stallMs ?? null,
  };
}

export interface CellFigure {
  request: number;
  outageMs: number;
  variant: KickVariant;
  /** Runs that succeeded (the figures are theirs) of `runs` planned. */
  n: number;
  runs: number;
  /** Kick → resend. */
  medianMs: number;
  p95Ms: number;
  /** First dropped segment → resend: what the client lives through, and free of the
   *  jitter of the kick's own timer on a loaded machine. */
  dropMedianMs: number;
  dropP95Ms: number;
  /** none's drop → resend median minus this one's: what the kick saves, same request
   *  and outage. */
  gainMs: number;
  /** The client application's wait for its reply (write → last reply byte). */
  stallMedianMs: number;
  /** Runs whose resend came within IMMEDIATE_MS of the kick: caused by it. */
  immediate: number;
  mechanisms: Record<string, number>;
  lossProbes: number;
  retransSegs: number;
  challengeAcks: number;
  pawsEstab: number;
}

export function cellFigures(samples: readonly Sample[], outages: readonly number[]): CellFigure[] {
  const out: CellFigure[] = [];
  for (const request of REQUESTS) {
    for (const outageMs of outages) {
      const at = samples.filter((s) => s.request === request && s.outageMs === outageMs);
      const dropMed = (v: KickVariant) => summarize(at.filter((s) => s.variant === v && s.ok === true).map((s) => Number(s.dropToResendMs))).median;
      const base = dropMed('none');
      for (const variant of VARIANTS) {
        const ok = at.filter((s) => s.variant === variant && s.ok === true);
        const ms = ok.map((s) => Number(s.kickToResendMs));
        const st = summarize(ms);
        const mechanisms: Record<string, number> = {};
        for (const s of ok) mechanisms[String(s.mechanism)] = (mechanisms[String(s.mechanism)] ?? 0) + 1;
        const sum = (k: string) => at.filter((s) => s.variant === variant).reduce((a, s) => a + Number(s[k] ?? 0), 0);
        out.push({
          request, outageMs, variant, n: ok.length, runs: at.filter((s) => s.variant === variant).length, medianMs: round(st.median, 2), p95Ms: round(st.p95, 2),
          dropMedianMs: round(dropMed(variant), 2),
          dropP95Ms: round(summarize(ok.map((s) => Number(s.dropToResendMs))).p95, 2), gainMs: round(base - dropMed(variant), 2),
          stallMedianMs: round(summarize(ok.map((s) => Number(s.clientStallMs)).filter((x) => Number.isFinite(x) && x > 0)).median, 2), immediate: ms.filter((x) => x < IMMEDIATE_MS).length, mechanisms,
          lossProbes: sum('connLossProbes'), retransSegs: sum('connRetransSegs'), challengeAcks: sum('connChallengeACK'), pawsEstab: sum('connPAWSEstab'),
        });
      }
    }
  }
  return out;
}

const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const mechLabel = (m: Record<string, number>) => Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || '–';

/** A kick "works" in a case when the client resends sooner because of it: its drop →
 *  resend median beats none's by at least WORKS_MIN_GAIN_MS and WORKS_MIN_GAIN_SHARE of
 *  none's, and even its p95 comes before none's median. Smaller differences are the
 *  jitter of timers that fired on their own (4 ms jiffies, RTO from a noisy SRTT). */
export const WORKS_MIN_GAIN_MS = 10;
export const WORKS_MIN_GAIN_SHARE = 0.1;

function works(c: CellFigure, none: CellFigure | undefined): boolean {
  if (!none || none.n === 0 || c.n === 0) return false;
  return c.gainMs >= Math.max(WORKS_MIN_GAIN_MS, WORKS_MIN_GAIN_SHARE * none.dropMedianMs) && c.dropP95Ms < none.dropMedianMs;
}

export interface Verdict {
  variant: KickVariant;
  /** Cases (request, outage) where it works, with the median gain. */
  works: Array<{ request: number; outageMs: number; gainMs: number; dropMedianMs: number; noneDropMedianMs: number }>;
  /** Cases where it is slower than none by as much as "works" asks it to be faster. */
  harms: Array<{ request: number; outageMs: number; gainMs: number }>;
  /** Cases where fewer than JUDGED_MIN_OK_SHARE of its runs completed (`ok` of
   *  `runs`): not judged, counted against it. */
  failed: Array<{ request: number; outageMs: number; runs: number; ok: number }>;
  /** It moved TcpExtTCPChallengeACK or TcpExtPAWSEstab: the client judged it invalid. */
  rejected: boolean;
  /** Why intact must not adopt it whatever it measures (NOT_ADOPTABLE); absent: it may. */
  notAdoptable?: string;
}

/** Kicks measured for the record that intact must not adopt, whatever they measure. */
export const NOT_ADOPTABLE: Partial<Record<KickVariant, string>> = {
  'window-update': 'its growing windows are taken back by the next ordinary ACK: a window that shrinks after the move (DESIGN pitfall; RFC 9293 3.8.6: a receiver should not shrink the window)',
  'zero-window': 'a zero window after an open one shrinks the window offered (DESIGN pitfall; RFC 9293 3.8.6)',
  'dupack3-tsecr': 'it echoes the newest TSval the client sent, which a backup does not hold after a takeover (the replica has TS.Recent as of the last update)',
};

/** A verdict intact could adopt: works somewhere, harms nowhere, never judged invalid,
 *  no case where most runs failed, and not ruled out (NOT_ADOPTABLE). */
export function adoptable(v: Verdict): boolean {
  return v.works.length > 0 && v.harms.length === 0 && v.failed.length === 0 && !v.rejected && v.notAdoptable === undefined;
}

/** A case is judged only when at least this share of its runs completed: a kick whose
 *  one good run in ten beat none's median has not shown that it works, and the nine
 *  that failed count against it (as `failed`). */
export const JUDGED_MIN_OK_SHARE = 0.5;

const judged = (c: CellFigure) => c.n > 0 && c.n >= JUDGED_MIN_OK_SHARE * c.runs;

export function verdicts(cells: readonly CellFigure[]): Verdict[] {
  return VARIANTS.filter((v) => v !== 'none').map((variant) => {
    const at = cells.filter((c) => c.variant === variant && judged(c));
    const none = (c: CellFigure) => cells.find((x) => x.variant === 'none' && x.request === c.request && x.outageMs === c.outageMs);
    return {
      variant,
      works: at.filter((c) => works(c, none(c)))
        .map((c) => ({ request: c.request, outageMs: c.outageMs, gainMs: c.gainMs, dropMedianMs: c.dropMedianMs, noneDropMedianMs: none(c)?.dropMedianMs ?? NaN })),
      harms: at.filter((c) => {
        const n = none(c);
        return n !== undefined && -c.gainMs >= Math.max(WORKS_MIN_GAIN_MS, WORKS_MIN_GAIN_SHARE * n.dropMedianMs);
      }).map((c) => ({ request: c.request, outageMs: c.outageMs, gainMs: c.gainMs })),
      failed: cells.filter((c) => c.variant === variant && c.runs > 0 && !judged(c)).map((c) => ({ request: c.request, outageMs: c.outageMs, runs: c.runs, ok: c.n })),
      rejected: at.some((c) => c.challengeAcks > 0 || c.pawsEstab > 0),
      ...(NOT_ADOPTABLE[variant] ? { notAdoptable: NOT_ADOPTABLE[variant] } : {}),
    };
  });
}

/** What each kick puts on the wire, precisely enough for intact's kick to send it. */
export const KICK_WIRE: Record<KickVariant, string> = {
  'none': 'nothing',
  'ack': 'one pure ACK: seq = snd_nxt, ack = rcv_nxt, the usual window, TSval now, TSecr = TS.Recent',
  'dupack3': 'the pure ACK three times',
  'dupack3-tsecr': 'three pure ACKs with TSecr = the newest TSval seen from the client and TSval advancing by one each',
  'window-update': 'three pure ACKs, the window one unit larger in each',
  'zero-window': 'a pure ACK with window 0, then one with the usual window',
  'old-data': 'the last data segment already acknowledged by the client, again (seq below rcv_nxt of the client)',
  'probe': 'a pure ACK with seq = snd_nxt - 1',
  'icmp-unreach': 'four ICMP type 3 code 1 (host unreachable) from the VIP to the client, quoting an IPv4 header client → VIP (protocol 6) and the first 20 bytes of a TCP header with the connection\'s ports and seq = rcv_nxt (the client\'s snd_una once our ACK is in)',
  'icmp-frag': 'one ICMP type 3 code 4 (fragmentation needed) from the VIP to the client, next-hop MTU = the path MTU less 8 (MSS + 40 - 8), quoting an IPv4 header client → VIP (protocol 6) and a TCP header with the connection\'s ports and seq = rcv_nxt',
  'icmp-frag+unreach': 'the icmp-frag message, then the four icmp-unreach messages',
};

function recommendation(working: readonly Verdict[]): string {
  if (working.length === 0) {
    return 'Recommendation (computed): no kick made the client resend sooner than its own timers in this run; keep the ACK (it tells the client where the new owner is) and expect the client\'s TLP/RTO.';
  }
  const best = [...working].sort((a, b) => b.works.length - a.works.length || Math.max(...b.works.map((w) => w.gainMs)) - Math.max(...a.works.map((w) => w.gainMs)))[0]!;
  const gains = best.works.map((w) => `${fmt(w.gainMs)} ms for ${requestLabel(w.request)} after ${w.outageMs} ms`).join(', ');
  return `Recommendation (computed): after the ACK intact's kick sends today (which alone changed nothing measurable), send ${best.variant}: ${KICK_WIRE[best.variant]}. ` +
    `Measured gain over the client's own timers: ${gains}; in the other cases it neither helped nor harmed${best.variant.includes('unreach') ? ' (mind the IP_RECVERR caveat of host unreachable below)' : ''}. Other kicks that worked without harm: ${working.filter((v) => v !== best).map((v) => `${v.variant} (${v.works.length} case(s))`).join(', ') || 'none'}.`;
}

const WORKS_RULE = `a kick works in a case when its drop → resend median beats none's by at least ${WORKS_MIN_GAIN_MS} ms and ${WORKS_MIN_GAIN_SHARE * 100}% of none's, and its p95 comes before none's median`;

function verdictLine(v: Verdict): string {
  const works = v.works.length
    ? `works for ${v.works.map((w) => `${requestLabel(w.request)} after ${w.outageMs} ms (resend ${fmt(w.dropMedianMs)} ms after the drop instead of ${fmt(w.noneDropMedianMs)}: ${fmt(w.gainMs)} ms sooner)`).join('; ')}`
    : 'never made the client resend sooner than its own timers';
  const harms = v.harms.length ? `; slower than none for ${v.harms.map((h) => `${requestLabel(h.request)} after ${h.outageMs} ms (${fmt(-h.gainMs)} ms)`).join('; ')}` : '';
  const failed = v.failed.length ? `; most runs failed for ${v.failed.map((f) => `${requestLabel(f.request)} after ${f.outageMs} ms (${f.ok} of ${f.runs} completed)`).join('; ')}` : '';
  const ruledOut = v.notAdoptable ? `; not for adoption: ${v.notAdoptable}` : '';
  return `${v.variant}: ${works}${harms}${failed}${v.rejected ? '; the client counted it as invalid (ChallengeACK or PAWSEstab moved)' : ''}${ruledOut}.`;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const runs = runsOf(ctx);
  const outages = outagesOf(ctx.quick);
  const plans = kickPlan(runs, outages);
  let measured: Measured | undefined;
  await withLab({ prefix: ctx.prefix ?? uniquePrefix('intact-s'), config: ctx.config }, async (lab) => {
    measured = await measure(lab, plans, ctx);
  });
  const m = measured!;
  const errors = [...m.errors];
  const samples: Sample[] = m.records.map((rec) => toSample(rec, m.client.find((c) => c.i === rec.plan.index)));
  for (const s of samples) if (s.ok !== true) errors.push(`${s.variant}, ${requestLabel(Number(s.request))}, outage ${s.outageMs} ms, run ${s.run}: ${s.error}`);
  const missing = plans.length - samples.length;
  if (missing > 0) errors.push(`${missing} of ${plans.length} planned connections never ran`);

  const cells = cellFigures(samples, outages);
  const verdict = verdicts(cells);
  const working = verdict.filter(adoptable);
  const table: Table = {
    columns: ['dropped request', 'outage ms', 'kick', 'ok runs', 'kick → resend ms median', 'p95', `resent < ${IMMEDIATE_MS} ms after the kick`, 'drop → resend ms median', 'gain vs none ms', 'client stall ms median', 'how the client resent', 'TLPs', 'RetransSegs', 'ChallengeACK', 'PAWSEstab'],
    align: ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r'],
    rows: cells.map((c) => [
      requestLabel(c.request), c.outageMs, c.variant, `${c.n}/${runs}`, fmt(c.medianMs), fmt(c.p95Ms), c.immediate, fmt(c.dropMedianMs),
      c.variant === 'none' ? '–' : fmt(c.gainMs), fmt(c.stallMedianMs), mechLabel(c.mechanisms), c.lossProbes, c.retransSegs, c.challengeAcks, c.pawsEstab,
    ]),
  };
  const chartData = samples.filter((s) => s.ok === true).map((s) => ({
    variant: s.variant, ms: s.kickToResendMs, outage: `outage ${s.outageMs} ms`, request: requestLabel(Number(s.request)),
  }));
  const chart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Kick to the client\'s resend of the dropped bytes', subtitle: 'each run (point) and the median (tick), per dropped request size' },
    background: 'white', config: CONFIG,
    data: { values: chartData },
    facet: { row: { field: 'request', type: 'nominal', title: 'dropped request' } },
    spec: {
      width: 620, height: 220,
      layer: [
        { mark: { type: 'point', filled: true, opacity: 0.6, size: 40 },
          encoding: { x: { field: 'variant', type: 'nominal', sort: [...VARIANTS], title: 'kick', axis: { labelAngle: -30 } },
            xOffset: { field: 'outage', type: 'nominal' },
            y: { field: 'ms', type: 'quantitative', title: 'ms, kick → resend', scale: { type: 'symlog' } },
            color: { field: 'outage', type: 'nominal', title: '' } } },
        { mark: { type: 'tick', thickness: 2, size: 14, color: 'black' },
          encoding: { x: { field: 'variant', type: 'nominal', sort: [...VARIANTS] }, xOffset: { field: 'outage', type: 'nominal' },
            y: { aggregate: 'median', field: 'ms', type: 'quantitative' } } },
      ],
    },
  } as unknown as ChartSpec;

  const comparison = [
    {
      measure: 'kicks that make the client resend at once',
      ours: working.length ? working.map((v) => `${v.variant} (${v.works.length} of ${REQUESTS.length * outages.length} cases)`).join(', ') : 'none',
      thesis: 'not reported',
      note: WORKS_RULE,
    },
  ];
  const retransFail = samples.filter((s) => /TCPRetransFail/.test(String(s.kickCounters) + String(s.outageCounters)));
  const notes = [
    'Setup: a kernel client in the lab\'s client namespace (scenarios/clients/kick-client.ts), the VIP answered by kick-responder.ts over AF_PACKET in the primary namespace. ' +
      `Per connection: handshake (SACK, timestamps, window scale as the client offers them), ${WARMUP} warm-up exchanges of ${WARMUP_REQUEST} B / ${REPLY} B (the client's SRTT), ` +
      'then the next request is dropped and never acknowledged; the outage runs from the first dropped segment; then the kick; the measure is kick sent → first client segment carrying dropped bytes received, on the responder\'s clock.',
    'Kicks: none (the client\'s own timers); ack (one pure ACK at the last acknowledged point: intact\'s kick today); dupack3 (three identical duplicate ACKs); ' +
      'dupack3-tsecr (three duplicate ACKs echoing the client\'s newest TSval, our TSval advancing); window-update (three ACKs each opening the window by one unit); ' +
      'zero-window (an ACK with window 0, then one reopening it); old-data (our last reply segment again: the client holds it and answers with a D-SACK); ' +
      'probe (an ACK at snd_nxt - 1: the client must answer with an ACK); icmp-unreach (ICMP host unreachable quoting the client\'s snd_una, 4 times: RFC 6069); ' +
      'icmp-frag (ICMP fragmentation needed, next-hop MTU 8 below the link\'s, quoting snd_una: PMTU discovery); icmp-frag+unreach (the two, fragmentation needed first). ' +
      'None acknowledges a byte the responder lacks; no SACK block covers one. The ICMP messages come from the VIP and quote a client → VIP datagram whose TCP sequence number is the client\'s snd_una (the last acknowledged point).',
    'Why ACKs cannot work here (Linux source, net/ipv4/tcp_input.c): an ACK that neither advances snd_una nor carries SACK blocks is only a duplicate to tcp_ack(); with SACK negotiated, loss is marked by RACK alone (tcp_identify_packet_loss → tcp_rack_mark_lost, net/ipv4/tcp_recovery.c), ' +
      'which needs a segment sent after the lost one to be (s)acked, and recovery starts only when something is marked lost (tcp_time_to_recover: lost_out != 0); duplicate ACKs are counted only without SACK (tcp_add_reno_sack). ' +
      'Window updates and D-SACKs take other branches of tcp_ack() that retransmit nothing, and no path rearms the TLP/RTO timer without forward progress (tcp_set_xmit_timer needs FLAG_SET_XMIT_TIMER, set when data is acked). ' +
      'What is left: the timers (tcp_schedule_loss_probe: 2*SRTT + rto_min with one packet out, 2*SRTT + 2 ms with more; then tcp_retransmit_timer with backoff) and ICMP (net/ipv4/tcp_ipv4.c tcp_v4_err: FRAG_NEEDED → tcp_v4_mtu_reduced → tcp_simple_retransmit retransmits at once every segment longer than the new MSS; ' +
      'NET/HOST_UNREACH → tcp_ld_RTO_revert undoes one RTO doubling per message, and retransmits at once when the undone timer has already expired — only after an RTO has fired, icsk_backoff > 0).',
    'How the client resent: from its counters between the kick and the resend\'s arrival: TcpExtTCPLossProbes → TLP (tcp_send_loss_probe); TcpExtTCPTimeouts → RTO (tcp_retransmit_timer), ' +
      `"RTO revert (RFC 6069)" when an ICMP unreachable arrived and the resend left within ${IMMEDIATE_MS} ms (tcp_ld_RTO_revert calls tcp_retransmit_timer itself); ` +
      'TcpExtTCPFastRetrans → fast retransmit; TcpExtTCPSlowStartRetrans without a timeout, after an ICMP → PMTU (tcp_v4_mtu_reduced → tcp_simple_retransmit). ' +
      'TLPs / RetransSegs / ChallengeACK / PAWSEstab: sums over the connections of the case, from SYN to FIN.',
    'Two clocks: kick → resend is the brief\'s measure; drop → resend (first dropped segment → resend) is what gains are computed from, because the kick\'s own timer fires late by some milliseconds (tens, rarely) when the shared machine is busy, ' +
      'which shortens kick → resend for a resend the client\'s timer would have sent anyway. The outage as it happened is in samples (outageActualMs). ' +
      'A segment with dropped bytes that arrives after the kick counts as the resend only if the client\'s TcpRetransSegs moved since the kick; otherwise it left before the kick and waited for this process to be scheduled ' +
      `(lateArrivals in samples: ${samples.reduce((a, s) => a + Number(s.lateArrivals ?? 0), 0)} in this run).`,
    `Retransmissions that failed inside the client's own kernel (TcpExtTCPRetransFail moved; its next timer resent): ${retransFail.length} connection(s) in this run${retransFail.length ? ` (kicks: ${retransFail.map((s) => `${s.variant}, ${s.request} B, ${s.outageMs} ms`).join('; ')})` : ''}.`,
    'Counters come from /proc/<pid>/net/snmp and /proc/<pid>/net/netstat of the client process (its namespace\'s, the same as `nstat -az` there); the client namespace has tcp_no_metrics_save=1 so no connection inherits the previous one\'s RTT or ssthresh.',
    'After the resend of an icmp-frag connection the client\'s route cache is flushed (ip route flush cache), and the reply to the dropped request waits for it: the PMTU the client learnt would otherwise persist for net.ipv4.route.mtu_expires (600 s) and shrink the next connection\'s segments. ' +
      'Nothing delays a handshake: the client takes its first RTT sample from its SYN, and a SYN-ACK held back by tens of milliseconds raised the RTO of the whole connection in a first version of this experiment (the connection after each icmp-frag one resent 10-60 ms later than the others).',
    `Verdicts (computed from this run; ${WORKS_RULE}): ` +
      verdict.map(verdictLine).join(' '),
    recommendation(working),
    'Client stall (the application\'s wait for its reply) includes, in the icmp-frag rows, the route-cache flush the reply waits for (10-20 ms here): an artefact of the experiment, not of the kick.',
    'Caveats of the ICMP kicks (Linux source): fragmentation needed leaves the client a path MTU 8 bytes smaller for the VIP for net.ipv4.route.mtu_expires (600 s; net/ipv4/route.c __ip_rt_update_pmtu), so its MSS drops by 8 bytes, and sets only a soft error (sk_err_soft = EMSGSIZE, tcp_v4_mtu_reduced); ' +
      'it cannot resend a segment no longer than the new MSS, and an announced MTU below net.ipv4.route.min_pmtu is raised to it (552), so a segment of 500 bytes or less (552 less 40 of headers and 12 of timestamps) is never resent by it. ' +
      'Host unreachable undoes backoff only (tcp_ld_RTO_revert: seq must equal snd_una, icsk_retransmits and icsk_backoff non-zero), so it changes nothing before the client\'s first RTO; it sets sk_err_soft = EHOSTUNREACH, ' +
      'and on a socket with IP_RECVERR set it sets sk_err and reports it to the application (tcp_v4_err), which would see EHOSTUNREACH once on its next call.',
  ];
  if (Object.keys(m.ignored).length) notes.push(`Frames the responder ignored: ${Object.entries(m.ignored).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  return {
    ok: errors.length === 0 && samples.length === plans.length,
    samples,
    summary: { runsPerCase: runs, requests: REQUESTS, outagesMs: outages, variants: [...VARIANTS], cases: cells, verdicts: verdict, working: working.map((v) => v.variant), ignoredFrames: m.ignored },
    table,
    comparison,
    chart,
    notes,
    errors,
  };
}

export const kick = defineScenario({
  name: 'kick',
  title: 'The kick: what makes a Linux client resend the bytes the dead primary lacks',
  thesisRef: 'no figure: DESIGN.md takeover step 5, the kick',
  description:
    'A kernel client (SACK, RACK-TLP) sends a request that a primary dies holding: the bytes are never acknowledged, and only the client can send them again. ' +
    'After an outage, the takeover "kicks" the client with one of several segments (or ICMP messages); the time from the kick to the client\'s resend is measured, ' +
    'with the mechanism that produced it, for a one-segment and a several-segment request and several outages.',
  steps: (o) => runsOf(o) * REQUESTS.length * outagesOf(o.quick).length * VARIANTS.length,
  run,
});
