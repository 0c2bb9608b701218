// report.md of a scenario run: what was measured and how, our figures, the thesis'
// figures beside them (with their source), the machine, the command that reproduces
// the run, and the files written. Pure: it formats what the runner hands it.
import { cpuIdleLabel, type Machine } from './machine.js';

export interface Table {
  columns: string[];
  rows: Array<Array<string | number>>;
  /** Per column: 'l' or 'r'. Default: the first left, the others right (figures). */
  align?: Array<'l' | 'r'>;
}

export interface ComparisonRow {
  /** What is compared ("takeover time, 1 connection, 10 KB pending"). */
  measure: string;
  ours: string;
  thesis: string;
  note?: string;
}

export interface ReportInput {
  title: string;
  name: string;
  /** What the scenario does, in a paragraph or two. */
  description: string;
  /** The thesis figure or table it re-creates ("figure 4-2"). */
  thesisRef: string;
  /** Where the thesis' figures come from (thesis-results.json's source). */
  thesisSource: string;
  ok: boolean;
  quick: boolean;
  command: string;
  startedAt: string;
  durationS: number;
  machine: Machine;
  table: Table;
  comparison: ComparisonRow[];
  notes: string[];
  errors: string[];
  files: string[];
  chartFile?: string;
}

/** Escapes what would break a Markdown table cell. */
export function mdCell(v: string | number): string {
  return String(v).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function mdTable(t: Table): string {
  if (t.columns.length === 0) return '';
  const head = `| ${t.columns.map(mdCell).join(' | ')} |`;
  const align = (i: number) => t.align?.[i] ?? (i === 0 ? 'l' : 'r');
  const rule = `| ${t.columns.map((_, i) => (align(i) === 'l' ? '---' : '---:')).join(' | ')} |`;
  const body = t.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

export function formatReport(r: ReportInput): string {
  const out: string[] = [];
  out.push(`# ${r.title}`, '');
  out.push(`Scenario \`${r.name}\`${r.quick ? ' (--quick: reduced size, not the full experiment)' : ''}, re-creating the thesis' ${r.thesisRef}. ` +
    `Result: **${r.ok ? 'OK' : 'FAILED'}**.`, '');
  out.push(r.description, '');
  out.push('## Our figures', '', mdTable(r.table), '');
  if (r.chartFile) out.push(`![chart](${r.chartFile})`, '');
  out.push('## Beside the thesis', '');
  out.push(mdTable({
    columns: ['measure', 'intact (this run)', 'thesis', 'note'],
    align: ['l', 'l', 'l', 'l'],
    rows: r.comparison.map((c) => [c.measure, c.ours, c.thesis, c.note ?? '']),
  }), '');
  out.push(`Thesis figures from: ${r.thesisSource} (copied into scenarios/thesis-results.json).`, '');
  if (r.notes.length) {
    out.push('## Notes', '');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }
  if (r.errors.length) {
    out.push('## Errors', '');
    for (const e of r.errors) out.push(`- ${e.replace(/\r?\n/g, ' ')}`);
    out.push('');
  }
  out.push('## Reproduce', '', '```', r.command, '```', '');
  out.push('## Machine', '');
  out.push(mdTable({
    columns: ['', ''],
    align: ['l', 'l'],
    rows: [
      ['CPU', `${r.machine.cpus} x ${r.machine.cpuModel}`],
      ['memory', `${r.machine.memoryGB} GB`],
      ['kernel', r.machine.kernel],
      ['node', r.machine.node],
      ['idle CPUs', r.machine.cpuIdle ? cpuIdleLabel(r.machine.cpuIdle) : 'not recorded'],
      ['started', r.startedAt],
      ['duration', `${r.durationS.toFixed(1)} s`],
    ],
  }), '');
  out.push('## Files', '');
  for (const f of r.files) out.push(`- \`${f}\``);
  out.push('');
  return out.join('\n');
}
