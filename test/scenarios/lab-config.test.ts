import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeLabConfig } from '../../scenarios/lib/lab-config.js';
import type { LabPlan } from '../../lab/plan.js';

t.test('writeLabConfig: the lab\'s config with the given replication settings, readable by its owner only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-labcfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const original = { vip: '192.0.2.100', replication: { key: 'ab'.repeat(32), heartbeatIntervalMs: 10, deadTimeMs: 80 }, tcp: { sndBuf: 65536 } };
  const src = join(dir, 'intact.json');
  writeFileSync(src, JSON.stringify(original));
  const lab = { configs: { primary: src, backup: src } } as unknown as LabPlan;
  const path = writeLabConfig(lab, join(dir, 'out'), 'dead1000.json', { deadTimeMs: 1000 });
  t.equal(path, join(dir, 'out', 'dead1000.json'), 'in the directory given, made if missing');
  t.same(JSON.parse(readFileSync(path, 'utf8')), { ...original, replication: { ...original.replication, deadTimeMs: 1000 } }, 'only the setting given changed');
  t.equal(statSync(path).mode & 0o777, 0o600, 'it holds the key: owner only');
  t.same(JSON.parse(readFileSync(src, 'utf8')), original, 'the lab\'s own config is untouched');
});
