// `intact scenario detection --quick` in a real lab: a detection time per run of every
// heartbeat setting, and the busy phase run with its count of false takeovers (which
// must be 0). Needs root.
import t from 'tap';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootOnly } from '../helpers/root.js';
import { uniquePrefix } from '../../lab/plan.js';
import { runScenario } from '../../scenarios/experiments/index.js';
import { SETTINGS, settingLabel } from '../../scenarios/experiments/detection.js';
import { checkFiles } from './scenario-helpers.js';

t.test('detection --quick measures every setting and counts false takeovers', rootOnly(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-s6-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { summary } = await runScenario('detection', { quick: true, out: dir, prefix: uniquePrefix('intact-t'), progress: { silent: true } });
  const samples = checkFiles(t, dir);
  const runs = summary.runsPerSetting as number;
  for (const s of SETTINGS) {
    const ok = samples.filter((x) => x.kind === 'detect' && x.setting === settingLabel(s) && x.ok === true);
    t.equal(ok.length, runs, `${settingLabel(s)}: ${runs} ok runs`);
    for (const x of ok) t.ok(Number(x.detectMs) > 0, `${settingLabel(s)}: detected after the kill`);
    t.ok(existsSync(join(dir, `intact-hb${s.heartbeatIntervalMs}-dead${s.deadTimeMs}.json`)), 'config variant written');
  }
  const busy = samples.filter((x) => x.kind === 'busy' && x.spurious !== true);
  t.equal(busy.length, 1, 'one busy phase with --quick');
  t.ok(Number(busy[0]!.uploads) > 0, 'clients uploaded through the busy primary');
  t.equal(busy[0]!.uploadsVerified, busy[0]!.uploads, 'every upload verified');
  t.equal(summary.falseTakeovers, 0, 'no takeover while the primary was alive');
  t.equal(summary.ok, true);
});
