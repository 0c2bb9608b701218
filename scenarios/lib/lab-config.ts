// A copy of the lab's config with some replication settings changed, for the scenarios
// that measure under other heartbeat figures or another dead time. The copy holds the
// shared key, so only its owner may read it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPlan } from '../../lab/plan.js';

export type ReplicationSettings = Partial<{ heartbeatIntervalMs: number; deadTimeMs: number; outputReplay: boolean; busyPollUs: number }>;

/** Writes the lab's config with `replication` changed to `dir/name`; returns its path. */
export function writeLabConfig(lab: LabPlan, dir: string, name: string, replication: ReplicationSettings): string {
  const cfg = JSON.parse(readFileSync(lab.configs.primary, 'utf8')) as { replication: Record<string, unknown> };
  Object.assign(cfg.replication, replication);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  return path;
}
