// `intact scenario takeover-vs-connections --quick` in a real lab: files written, every
// connection rebuilt and verified, the backup's memory read. Needs root.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootOnly } from '../helpers/root.js';
import { uniquePrefix } from '../../lab/plan.js';
import { runScenario } from '../../scenarios/experiments/index.js';
import { QUICK_CONNECTION_LEVELS } from '../../scenarios/experiments/takeover-vs-connections.js';
import { checkFiles, okSamples } from './scenario-helpers.js';

t.test('takeover-vs-connections --quick rebuilds every connection at every level', rootOnly(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-s2-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { summary } = await runScenario('takeover-vs-connections', { quick: true, out: dir, prefix: uniquePrefix('intact-t'), progress: { silent: true } });
  t.same(summary.errors, [], 'no errors');
  t.equal(summary.ok, true);
  const samples = checkFiles(t, dir);
  for (const n of QUICK_CONNECTION_LEVELS) {
    const ok = okSamples(samples, 'connections', n);
    t.ok(ok.length >= 1, `${n} connection(s): an ok run`);
    for (const s of ok) {
      t.equal(s.rebuilt, n, `${n}: all rebuilt`);
      t.equal(s.verifiedConnections, n, `${n}: all verified`);
      for (const k of ['detectMs', 'totalMs', 'stallMs', 'recoveredMaxMs']) t.ok(Number(s[k]) > 0, `${n}: ${k} > 0`);
      t.ok(Number(s.backupRssBefore) > 0 && Number(s.backupRssWith) > 0, `${n}: backup RSS read`);
      t.ok(Number(s.backupHeapBefore) > 0 && Number(s.backupHeapWith) > 0, `${n}: backup heap read`);
    }
  }
  const memory = summary.memory as Record<string, { rssPerConnectionBytes: number }>;
  t.ok(Object.keys(memory).length === QUICK_CONNECTION_LEVELS.length, 'memory per level');
});
