// One kill cycle, the same for every workload: read the client's counters, start a
// capture on the client's wire, start a fresh backup+primary pair, run the workload
// (which kills the primary at its chosen instant), wait for the backup's takeover, and
// judge what the client saw. The workload decides only what the client does and when
// to kill; the verdict on RSTs, kernel counters and the takeover is common.
import { join } from 'node:path';
import { findNode, VIP, type LabPlan } from '../../../lab/plan.js';
import { Capture, type CaptureResult } from './capture.js';
import { delta, MUST_NOT_MOVE, readCounters, REPORTED, type Counters } from './nstat.js';
import { Pair, type PairOptions, type TakeoverEvent } from './pair.js';

export interface WorkloadResult {
  /** Problems the workload's own checks found (empty: the data was right). */
  problems: string[];
  /** Where the kill landed, in words ("at 41.9 MB of 100 MB"). */
  instant: string;
  /** Whether the kill came while the workload was still running. */
  midway: boolean;
  details: Record<string, unknown>;
}

export interface CycleOutcome {
  tag: string;
  problems: string[];
  instant: string;
  midway: boolean;
  takeover?: TakeoverEvent;
  capture?: CaptureResult;
  /** Changes of the client kernel's counters over the cycle. */
  counters: Counters;
  details: Record<string, unknown>;
  logs: string;
}

function macOf(lab: LabPlan, node: string): string {
  const n = findNode(lab, node);
  return n.interfaces.find((i) => i.kind === 'service')!.mac!;
}

export interface CycleOptions extends Omit<PairOptions, 'tag'> {
  tag: string;
  /** Client namespaces whose counters and wire are watched (default: the first client). */
  clientNodes?: string[];
  workload: (pair: Pair) => Promise<WorkloadResult>;
}

export async function runCycle(lab: LabPlan, o: CycleOptions): Promise<CycleOutcome> {
  const clients = (o.clientNodes ?? ['client']).map((n) => findNode(lab, n).netns);
  const problems: string[] = [];
  const before = await Promise.all(clients.map((ns) => readCounters(ns)));
  const captures: Capture[] = [];
  let pair: Pair | undefined;
  const out: CycleOutcome = { tag: o.tag, problems, instant: 'not reached', midway: false, counters: {}, details: {}, logs: o.logDir };
  try {
    for (const [i, ns] of clients.entries()) {
      captures.push(
        await Capture.start({
          netns: ns,
          ifname: 'svc0',
          file: join(o.logDir, `${o.tag}-client${i}.pcap`),
          logFile: join(o.logDir, `${o.tag}-tcpdump${i}.log`),
          roles: { vip: VIP, primaryMac: macOf(lab, 'primary'), backupMac: macOf(lab, 'backup') },
        }),
      );
    }
    pair = await Pair.start(lab, { ...o, tag: o.tag });
    const w = await o.workload(pair);
    problems.push(...w.problems);
    out.instant = w.instant;
    out.midway = w.midway;
    out.details = w.details;
    if (pair.backupRestarts === 0 && pair.primaryLostBackup()) problems.push('the primary had lost its backup before the kill (false heartbeat death, or replication link down): see its log');
    if (pair.killedAt === undefined) {
      problems.push('the workload never killed the primary');
    } else {
      try {
        out.takeover = await pair.takeover(10_000);
        if (out.takeover.failed !== 0) problems.push(`takeover could not rebuild ${out.takeover.failed} connection(s)`);
      } catch (e) {
        problems.push(`no takeover: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    // A late RST (say, to a retransmission after close) must still be seen.
    await new Promise((r) => setTimeout(r, 200));
    for (const c of captures.splice(0)) {
      const r = await c.stop();
      if (!out.capture) out.capture = r;
      else {
        out.capture.rstFromVip += r.rstFromVip;
        out.capture.rstToVip += r.rstToVip;
        out.capture.frames += r.frames;
        out.capture.tsBackwards += r.tsBackwards;
      }
    }
    const cap = out.capture!;
    // A capture that saw nothing of the primary is a broken witness, not a clean run.
    if (cap.fromPrimary === 0) problems.push('the capture saw no frame from the primary: RST count unreliable');
    if (cap.rstFromVip) problems.push(`the client received ${cap.rstFromVip} RST(s) from the VIP`);
    if (cap.rstToVip) problems.push(`the client sent ${cap.rstToVip} RST(s) to the VIP`);
    if (cap.tsBackwards) problems.push(`${cap.tsBackwards} frame(s) from the backup had a TSval below the primary's last (rule 8: the client drops them)`);
    if (cap.droppedByKernel) problems.push(`the capture lost ${cap.droppedByKernel} packets: RST count unreliable`);
    const after = await Promise.all(clients.map((ns) => readCounters(ns)));
    for (const name of [...MUST_NOT_MOVE, ...REPORTED]) {
      out.counters[name] = clients.reduce((sum, _, i) => sum + delta(before[i]!, after[i]!, [name])[name]!, 0);
    }
    for (const name of MUST_NOT_MOVE) if (out.counters[name]) problems.push(`client counter ${name} moved by ${out.counters[name]}`);
  } catch (e) {
    problems.push(`cycle aborted: ${(e as Error).message.split('\n').slice(0, 6).join(' | ')}`);
  } finally {
    for (const c of captures) c.kill();
    await pair?.end();
  }
  return out;
}

/** A replay suite's cycle that killed the primary mid-work must have had every rebuilt
 *  connection rebuilt for output replay (the takeover's `replayed`), or the suite tests
 *  strict mode twice: counted as a problem of the cycle. */
export function requireReplayed(out: CycleOutcome): void {
  const k = out.takeover;
  if (out.midway && k !== undefined && k.connections > 0 && k.replayed !== k.connections) {
    out.problems.push(`${k.replayed} of ${k.connections} connections rebuilt for output replay`);
  }
}

/** A cycle that killed the primary mid-work, past the app's first checkpoint, must have
 *  had every rebuilt connection restored from a checkpoint (of `what`), not from the
 *  first byte: counted as a problem of the cycle. */
export function requireCheckpointed(out: CycleOutcome, what: string): void {
  const k = out.takeover;
  if (out.midway && k !== undefined && k.connections > 0 && k.checkpointed !== k.connections) {
    out.problems.push(`${k.checkpointed} of ${k.connections} connections restored from a checkpoint of ${what}`);
  }
}
