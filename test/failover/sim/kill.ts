// The failover simulation's kill loop (sim-kill*.test.ts): each scenario run once per
// seed without a kill, then once per kill point (after every step of the primary), and
// the tally of failures and of the states the primary died in.
import type { Test } from 'tap';
import { runOnce, type RunResult } from './world.js';
import { SCENARIOS } from './scenarios.js';

export const SEEDS = [1, 2, 3, 4, 5];

export interface Tally {
  runs: number;
  failed: Array<{ seed: number; step: number; r: RunResult }>;
  states: Map<string, number>;
  /** Kills of a half-open primary connection the backup rebuilt (rule 5). */
  halfOpenRebuilt: number;
  /** Runs whose backup learnt from a client's ACK that it held bytes the backup never
   *  did (output replay). */
  catchUps: number;
}

export async function killEverywhere(name: string): Promise<Tally> {
  const sc = SCENARIOS[name]!;
  const tally: Tally = { runs: 0, failed: [], states: new Map(), halfOpenRebuilt: 0, catchUps: 0 };
  for (const seed of SEEDS) {
    const base = await runOnce(sc, seed);
    tally.runs++;
    if (base.failures.length > 0) tally.failed.push({ seed, step: 0, r: base });
    // A connection is protected from its resynchronisation on: before it, a kill loses
    // it, as it would any unprotected connection.
    let first = 0;
    if (sc.protectAfterMs !== undefined) {
      if (base.resyncedAtStep === undefined) {
        tally.failed.push({ seed, step: 0, r: { ...base, failures: ['the connection was never resynchronised'] } });
        continue;
      }
      first = base.resyncedAtStep;
    }
    // Step 0: the primary dies before it hears anything.
    for (let step = first; step <= base.steps; step++) {
      const r = await runOnce(sc, seed, step);
      tally.runs++;
      tally.states.set(r.stateAtKill, (tally.states.get(r.stateAtKill) ?? 0) + 1);
      if (r.stateAtKill === 'SYN-RECEIVED' && r.restored > 0) tally.halfOpenRebuilt++;
      if (r.replayCatchUps > 0) tally.catchUps++;
      if (r.failures.length > 0) tally.failed.push({ seed, step, r });
    }
  }
  return tally;
}

export function report(t: Test, name: string, tally: Tally): void {
  const states = [...tally.states].map(([s, n]) => `${s} ${n}`).join(', ');
  t.comment(`${name}: ${tally.runs} runs (${SEEDS.length} seeds, every kill step); primary state at kill: ${states}`);
  for (const f of tally.failed.slice(0, 10)) {
    t.comment(`  FAILED seed ${f.seed} step ${f.step} (${f.r.atKill || 'no kill'}): ${f.r.failures.slice(0, 3).join(' | ')}`);
  }
  t.equal(tally.failed.length, 0, `${name}: no kill point breaks the client's streams or a rule`);
}
