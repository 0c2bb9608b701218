// The client kernel's own TCP counters, absolute values (nstat keeps one history file
// per user shared by every namespace, so deltas from nstat itself would mix namespaces:
// we read absolutes with -a, never update the history with -s, and subtract ourselves).
import { nsExec } from '../../../lab/topology.js';

/** Counters a clean failover must not move (DESIGN: "a clean failover moves none of the first four"). */
export const MUST_NOT_MOVE = ['TcpEstabResets', 'TcpExtPAWSEstab', 'TcpExtTCPChallengeACK', 'TcpInCsumErrors'] as const;
/** Counters reported for information. */
export const REPORTED = ['TcpRetransSegs', 'TcpExtTCPAbortOnTimeout', 'TcpExtTCPLossProbes'] as const;

export type Counters = Record<string, number>;

export async function readCounters(netns: string): Promise<Counters> {
  const r = await nsExec(netns, ['nstat', '-asz'], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`nstat in ${netns} failed (${r.code}): ${r.stderr}`);
  const out: Counters = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(\w+)\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function delta(before: Counters, after: Counters, names: readonly string[]): Counters {
  const d: Counters = {};
  for (const n of names) d[n] = (after[n] ?? 0) - (before[n] ?? 0);
  return d;
}
