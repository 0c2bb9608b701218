// Where a V8 CPU profile (node --cpu-prof) spends its time: self time per function,
// and the share of a few areas of the tree (engine, host, addon, app, Node's streams).
//   node --import tsx scenarios/profile-summary.ts <file.cpuprofile> [--top 25]
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The area of the code a frame belongs to, from its URL. */
export function areaOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : 'native/builtin';
  if (url.startsWith('wasm://')) return 'wasm (e.g. hash-wasm)';
  const m = /\/work\/[^/]+\/[^/]+\/(shared\/tcp|shared\/wire|shared|primary\/apps|primary|native|scenarios|lab)\//.exec(url) ??
    /\/(shared\/tcp|shared\/wire|shared|primary\/apps|primary|native)\//.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').split('/').slice(0, 2).join('/');
  if (url.includes('node_modules')) return 'node_modules/' + (/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?');
  return 'other';
}

export function summarizeProfile(p: Profile): { totalMs: number; functions: [string, number][]; areas: [string, number][] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^file:\/\/\/work\/[^/]+\/[^/]+\//, '').replace(/^file:\/\//, '');
    const key = `${f.functionName || '(anonymous)'} ${file ? `${file}:${f.lineNumber + 1}` : ''}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
    const a = areaOf(f.url, f.functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
    total += us;
  }
  const sort = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs: total / 1000, functions: sort(fns), areas: sort(areas) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const program = new Command().argument('<file>').option('--top <n>', 'functions to list', '25').parse();
  const s = summarizeProfile(JSON.parse(readFileSync(program.args[0]!, 'utf8')) as Profile);
  const top = Number(program.opts<{ top: string }>().top);
  const pct = (us: number) => `${((us / 1000 / s.totalMs) * 100).toFixed(1).padStart(5)} %`;
  process.stdout.write(`total sampled: ${(s.totalMs / 1000).toFixed(2)} s\n\nby area (self time):\n`);
  for (const [a, us] of s.areas.slice(0, 15)) process.stdout.write(`  ${pct(us)}  ${a}\n`);
  process.stdout.write(`\ntop ${top} functions (self time):\n`);
  for (const [f, us] of s.functions.slice(0, top)) process.stdout.write(`  ${pct(us)}  ${f}\n`);
}
