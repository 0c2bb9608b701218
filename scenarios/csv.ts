// Samples as CSV (RFC 4180): one row per sample, the union of their keys as the header
// in first-seen order, so a spreadsheet or pandas reads what samples.json holds.
export type Cell = string | number | boolean | null | undefined;
export type Sample = Record<string, Cell>;

function cell(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(samples: readonly Sample[]): string {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const s of samples) {
    for (const k of Object.keys(s)) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  }
  const lines = [columns.map((c) => cell(c)).join(',')];
  for (const s of samples) lines.push(columns.map((c) => cell(s[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}
