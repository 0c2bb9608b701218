// `intact scenario takeover-vs-data --quick` in a real lab: it writes its files and they
// hold sane values (no timing thresholds: only that times are positive, counts are what
// was asked, and every connection was verified). Needs root.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootOnly } from '../helpers/root.js';
import { uniquePrefix } from '../../lab/plan.js';
import { runScenario } from '../../scenarios/experiments/index.js';
import { DATA_LEVELS } from '../../scenarios/experiments/takeover-vs-data.js';
import { checkFiles, okSamples } from './scenario-helpers.js';

t.test('takeover-vs-data --quick writes sane figures for every pending size', rootOnly(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-s1-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { summary } = await runScenario('takeover-vs-data', { quick: true, out: dir, prefix: uniquePrefix('intact-t'), progress: { silent: true } });
  t.same(summary.errors, [], 'no errors');
  t.equal(summary.ok, true);
  const samples = checkFiles(t, dir);
  const runs = summary.runsPerLevel as number;
  for (const pending of DATA_LEVELS) {
    const ok = okSamples(samples, 'pendingBytes', pending);
    t.equal(ok.length, runs, `${pending} bytes: ${runs} ok runs`);
    for (const s of ok) {
      for (const k of ['detectMs', 'rebuildMs', 'claimMs', 'restartMs', 'totalMs', 'stallMs']) t.ok(Number(s[k]) > 0, `${pending} bytes: ${k} > 0`);
      t.equal(s.connections, 1);
      t.equal(s.rebuilt, 1);
      t.equal(s.verified, true);
      t.equal(s.resets, 0);
    }
  }
  t.match(readFileSync(join(dir, 'report.md'), 'utf8'), /figure 4-2/);
});
