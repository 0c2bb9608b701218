// `intact bench --quick --json` end to end: a lab, the kernel reference and intact's
// primary, the contract fields of the JSON. Root only.
//
// STATUS: this test passes only once intact serves end to end (the TCP engine, the VIP
// host and `intact primary`); before that the kernel half still runs and this test
// fails on the intact fields, by design.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listNetns } from '../../lab/topology.js';
import { REPO_ROOT, tsxArgv } from '../../scenarios/lib/repo.js';
import type { BenchResult } from '../../scenarios/bench.js';
import { rootOnly } from '../helpers/root.js';

/** `intact bench` from cli/intact.ts once it is wired there, else the stand-alone entry. */
function benchArgv(args: string[]): string[] {
  const wired = readFileSync(join(REPO_ROOT, 'cli/intact.ts'), 'utf8').includes('registerBench(');
  return wired ? tsxArgv('cli/intact.ts', ['bench', ...args]) : tsxArgv('scenarios/run-bench.ts', args);
}

function run(argv: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, timeout: timeoutMs, killSignal: 'SIGINT', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;

t.test('intact bench --quick --json prints the contract fields (needs intact serving)', rootOnly(), async (t) => {
  const prefix = `intact-tb${Math.floor(Math.random() * 0xffff).toString(16)}`;
  const r = await run(benchArgv(['--quick', '--json', '--prefix', prefix]), 240_000);
  t.notOk((await listNetns()).some((ns) => ns.startsWith(prefix + '-')), 'the lab is gone afterwards');
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let j: BenchResult;
  try {
    j = JSON.parse(line) as BenchResult;
  } catch {
    t.fail(`no JSON on stdout (exit ${r.code}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
    return;
  }
  t.equal(j.bench, 'intact');
  t.equal(j.prefix, prefix);
  t.equal(j.quick, true);
  t.ok(j.machine.cpus >= 1 && typeof j.machine.kernel === 'string');
  t.ok(positive(j.bulk.bytes));
  t.ok(positive(j.bulk.toKernelGbps), `kernel sink ${j.bulk.toKernelGbps}`);
  t.ok(positive(j.bulk.fromKernelGbps), `kernel source ${j.bulk.fromKernelGbps}`);
  t.ok(positive(j.rr.kernelUs), `kernel rr ${j.rr.kernelUs}`);
  // The intact half: only once intact serves (see STATUS above).
  t.same(j.errors, [], 'no step failed');
  t.ok(positive(j.bulk.toIntactGbps), `intact sink ${j.bulk.toIntactGbps}`);
  t.ok(positive(j.bulk.fromIntactGbps), `intact source ${j.bulk.fromIntactGbps}`);
  t.ok(positive(j.rr.intactUs), `intact rr ${j.rr.intactUs}`);
  t.equal(j.bulk.verified, true, 'all four transfers verified by sha256');
  t.equal(j.rr.verified, true);
  t.equal(j.ok, true);
  t.equal(r.code, 0, 'exit 0 when everything ran and verified');
});
