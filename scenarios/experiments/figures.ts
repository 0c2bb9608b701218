// From samples to figures: median and p95 of each measure at each level, the shape
// every takeover scenario reports (summary.json), tabulates (report.md) and plots.
import { summarize, round } from '../lib/stats.js';
import type { Sample } from '../csv.js';

export interface LevelFigure {
  level: number;
  measure: string;
  median: number;
  p95: number;
  /** Samples that went into it (ok runs with a finite value). */
  n: number;
}

export function levelFigures(samples: readonly Sample[], levelKey: string, measures: readonly string[]): LevelFigure[] {
  const levels = [...new Set(samples.map((s) => Number(s[levelKey])))].sort((a, b) => a - b);
  const out: LevelFigure[] = [];
  for (const level of levels) {
    const at = samples.filter((s) => Number(s[levelKey]) === level && s.ok === true);
    for (const measure of measures) {
      const xs = at.map((s) => Number(s[measure])).filter((x) => Number.isFinite(x));
      const st = summarize(xs);
      out.push({ level, measure, median: round(st.median, 3), p95: round(st.p95, 3), n: xs.length });
    }
  }
  return out;
}

export function figure(figs: readonly LevelFigure[], level: number, measure: string): LevelFigure | undefined {
  return figs.find((f) => f.level === level && f.measure === measure);
}

/** "12.3 / 20.1" (median / p95) for tables, "–" when there is nothing. */
export function medP95(f: LevelFigure | undefined, digits = 1): string {
  if (!f || f.n === 0 || !Number.isFinite(f.median)) return '–';
  return `${f.median.toFixed(digits)} / ${f.p95.toFixed(digits)}`;
}

export function bytesLabel(n: number): string {
  if (n === 0) return '0';
  if (n >= 1e6 && n % 1e6 === 0) return `${n / 1e6} MB`;
  if (n >= 1e3 && n % 1e3 === 0) return `${n / 1e3} KB`;
  return `${n} B`;
}

/** Figures as nested JSON: {"<level>": {"<measure>": {median, p95, n}}}. */
export function figuresJson(figs: readonly LevelFigure[]): Record<string, Record<string, { median: number; p95: number; n: number }>> {
  const out: Record<string, Record<string, { median: number; p95: number; n: number }>> = {};
  for (const f of figs) {
    out[String(f.level)] ??= {};
    out[String(f.level)]![f.measure] = { median: f.median, p95: f.p95, n: f.n };
  }
  return out;
}
