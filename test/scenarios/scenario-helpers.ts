// Shared checks of a scenario's output directory (the scenario-*.test.ts files).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';

export type Row = Record<string, unknown>;

/** Every file is there and consistent; returns the samples. */
export function checkFiles(t: Test, dir: string): Row[] {
  for (const f of ['samples.json', 'samples.csv', 'summary.json', 'chart.svg', 'chart.vl.json', 'report.md']) {
    t.ok(existsSync(join(dir, f)), `${f} written`);
  }
  const samples = JSON.parse(readFileSync(join(dir, 'samples.json'), 'utf8')) as Row[];
  const csvLines = readFileSync(join(dir, 'samples.csv'), 'utf8').trim().split('\r\n');
  t.equal(csvLines.length, samples.length + 1, 'one CSV row per sample, plus the header');
  t.match(readFileSync(join(dir, 'chart.svg'), 'utf8'), /^<svg /);
  t.match(readFileSync(join(dir, 'report.md'), 'utf8'), /## Beside the thesis/);
  return samples;
}

export function okSamples(samples: readonly Row[], key: string, value: unknown): Row[] {
  return samples.filter((s) => s[key] === value && s.ok === true);
}
