// Scenario setup: the pure summary (no root), and `--quick` end to end in a lab (root):
// files written, every connection of every (requests, server, backlog) established and
// timed, the lab gone. No timing thresholds.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listNetns } from '../../lab/topology.js';
import { runScenario, type Sample } from '../../scenarios/scenario.js';
import { BACKLOGS, ISSUES, QUICK, summarizeSetup } from '../../scenarios/experiments/setup.js';
import { rootOnly } from '../helpers/root.js';

t.test('summarizeSetup: one row per requests/server/backlog, mean of every connection', async (t) => {
  const rows = summarizeSetup(
    [
      { issue: 'serial', mode: 'on', backlog: 0, us: 100 },
      { issue: 'serial', mode: 'on', backlog: 0, us: 300 },
      { issue: 'serial', mode: 'on', backlog: 50, us: 7 },
    ],
    new Map([['serial/on/0', 2]]),
  );
  t.equal(rows.length, ISSUES.length * BACKLOGS.length * 3);
  const r = rows.find((x) => x.issue === 'serial' && x.mode === 'on' && x.backlog === 0)!;
  t.equal(r.meanUs, 200);
  t.equal(r.connections, 2);
  t.equal(r.failed, 2);
  t.equal(rows.find((x) => x.issue === 'parallel' && x.mode === 'kernel' && x.backlog === 0)!.meanUs, null);
});

t.test('setup --quick writes its files with sane figures', rootOnly(), async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'intact-setup-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const prefix = `intact-t${Math.floor(Math.random() * 0xfffff).toString(16)}`;
  const { summary } = await runScenario('setup', { quick: true, out, prefix, progress: { silent: true } });
  t.notOk((await listNetns()).some((ns) => ns.startsWith(prefix + '-')), 'the lab is gone afterwards');
  for (const f of ['samples.json', 'samples.csv', 'summary.json', 'chart.svg', 'report.md']) t.ok(existsSync(join(out, f)), f);
  t.same(summary.errors, [], 'no step failed');
  t.equal(summary.ok, true);
  const samples = JSON.parse(readFileSync(join(out, 'samples.json'), 'utf8')) as Sample[];
  const per = QUICK.groups * QUICK.perGroup;
  t.equal(samples.length, ISSUES.length * BACKLOGS.length * 3 * per, 'every connection timed');
  t.ok(samples.every((s) => typeof s.us === 'number' && s.us > 0), 'positive connect times');
  const j = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { rows: Array<{ connections: number; failed: number }> };
  t.ok(j.rows.every((r) => r.connections === per && r.failed === 0), `${per} connections each, none failed`);
  t.match(readFileSync(join(out, 'report.md'), 'utf8'), /table 4-1/);
});
