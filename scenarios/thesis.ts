// The thesis' figures, as copied into scenarios/thesis-results.json (with their source):
// users run the scenarios without ../shared. Read next to this file, or from the source
// tree when running from dist/ (tsc does not copy JSON).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ThesisResults {
  source: string;
  testbed: string;
  failure_detection: { heartbeat_interval_s: number; check_interval_s: number; detection_s_approx: number; note: string };
  figure_4_2_takeover_vs_data: string;
  figure_4_3_takeover_vs_connections: string;
  limits: Record<string, string>;
  [k: string]: unknown;
}

let cached: ThesisResults | undefined;

export function thesisResults(): ThesisResults {
  if (cached) return cached;
  const here = new URL('./thesis-results.json', import.meta.url);
  const fromDist = new URL('../../scenarios/thesis-results.json', import.meta.url);
  const path = [here, fromDist].map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  if (!path) throw new Error('scenarios/thesis-results.json not found');
  cached = JSON.parse(readFileSync(path, 'utf8')) as ThesisResults;
  return cached;
}
