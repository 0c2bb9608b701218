// What the kill-test files share: a lab for the whole file, the cycles run one after
// another with one subtest each, a stop after repeated failures (each cycle is bounded,
// but twenty broken ones would eat CI's budget), and a summary of kill instants and
// client-visible stalls at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { withLab, type ConfigPatch, type Lab } from '../../../lab/topology.js';
import { cycleCount, prng, testSeed } from './instants.js';
import type { CycleOutcome } from './cycle.js';
import { Pair } from './pair.js';

export interface SuiteOptions {
  /** Short name for temp dirs ("download"). */
  name: string;
  /** Settings over the lab's config (e.g. output replay). */
  config?: ConfigPatch;
  clients?: number;
  /** Stop running cycles after this many failed ones (default 3). */
  maxFailures?: number;
  /** Overall budget: no new cycle starts after this (default 8 minutes). */
  budgetMs?: number;
  /** Called once with the lab, a scratch dir and the PRNG; returns the cycles' plans. */
  prepare: (ctx: { lab: Lab; dir: string; rand: () => number; cycles: number }) => Promise<SuiteCycle[]> | SuiteCycle[];
}

export interface SuiteCycle {
  /** Subtest name: where the kill will land. */
  name: string;
  run: (logDir: string, tag: string) => Promise<CycleOutcome>;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

export function stallSummary(outcomes: readonly CycleOutcome[]): string {
  const stalls = outcomes.map((o) => o.capture?.stallMs).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  const resumes = outcomes.map((o) => o.capture?.clientResumeMs).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  const takeovers = outcomes.map((o) => o.takeover?.totalMs).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  const detect = outcomes
    .map((o) => (o.takeover ? o.takeover.detectedAt - o.takeover.lastHeardAt : undefined))
    .filter((x): x is number => x !== undefined)
    .sort((a, b) => a - b);
  const f = (xs: number[]) => (xs.length ? `min ${round(xs[0]!)} / median ${round(xs[Math.floor(xs.length / 2)]!)} / max ${round(xs[xs.length - 1]!)} ms (n=${xs.length})` : 'none');
  return [`client-visible stall ${f(stalls)}`, ...(resumes.length ? [`client's data resumed ${f(resumes)}`] : []), `takeover (rebuild+claim+restart+kick) ${f(takeovers)}`, `detection (last heard -> dead) ${f(detect)}`].join('; ');
}

export async function runSuite(t: Test, o: SuiteOptions): Promise<CycleOutcome[]> {
  const seed = testSeed();
  const cycles = cycleCount();
  const dir = mkdtempSync(join(tmpdir(), `intact-failover-${o.name}-`));
  const outcomes: CycleOutcome[] = [];
  let failures = 0;
  const t0 = Date.now();
  try {
    await withLab({ clients: o.clients ?? 1, config: o.config }, async (lab) => {
      const plans = await o.prepare({ lab, dir, rand: prng(seed), cycles });
      t.comment(`seed ${seed} (INTACT_FAILOVER_SEED=${seed} repeats these kill instants), ${plans.length} cycles`);
      for (const [i, plan] of plans.entries()) {
        if (failures >= (o.maxFailures ?? 3)) {
          t.fail(`stopped after ${failures} failed cycles; ${plans.length - i} not run`);
          break;
        }
        if (Date.now() - t0 > (o.budgetMs ?? 8 * 60_000)) {
          t.fail(`time budget spent after ${i} cycles; ${plans.length - i} not run`);
          break;
        }
        await t.test(`cycle ${i + 1}: ${plan.name}`, async (t) => {
          const out = await plan.run(dir, `c${i + 1}`);
          outcomes.push(out);
          const stall = (out.capture?.stallMs !== undefined ? `, stall ${out.capture.stallMs} ms` : '') +
            (out.capture?.clientResumeMs !== undefined ? `, client's data resumed after ${out.capture.clientResumeMs} ms` : '');
          const k = out.takeover;
          const conns = k ? `, ${k.connections} connection(s) rebuilt${k.checkpointed > 0 ? ` (${k.checkpointed} from a checkpoint)` : ''}` : '';
          t.same(out.problems, [], `kill ${out.instant}${out.midway ? '' : ' (after the work was done)'}${conns}${stall}`);
          if (out.problems.length) {
            failures++;
            t.comment(`logs and captures: ${dir} (${out.tag}-*); details ${JSON.stringify(out.details).slice(0, 600)}`);
          }
        });
      }
    });
  } finally {
    t.comment(stallSummary(outcomes));
    if (Pair.restartedAtStart) t.comment(`pairs restarted because the primary declared its backup dead while starting: ${Pair.restartedAtStart}`);
    if (failures === 0 && !process.env.INTACT_FAILOVER_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.comment(`kept ${dir}`);
  }
  return outcomes;
}
