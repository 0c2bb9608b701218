// `intact bench`: the commander layer over scenarios/bench.ts. The JSON field names are
// a contract (bulk.toIntactGbps, bulk.toKernelGbps, bulk.fromIntactGbps,
// bulk.fromKernelGbps, rr.intactUs, rr.kernelUs, bulk.verified).
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { positiveInt, prefixArg } from '../cli/options.js';
import { FULL, QUICK, RR_BYTES, benchSteps, formatBench, runBench } from './bench.js';
import { createProgress } from './lib/progress.js';

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 };

/** "1000000", "50MB", "1GiB", "1e9" → bytes. */
export function parseBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)$/i.exec(v.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a size in bytes, e.g. 1000000, 50MB, 1GiB');
  return n;
}



interface BenchCliOptions {
  json?: boolean;
  quick?: boolean;
  bytes?: number;
  exchanges?: number;
  request: number;
  prefix?: string;
  logDir?: string;
  cpuProf?: string;
  kernelHash: 'wasm' | 'crypto';
  repeat?: number;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure intact against the kernel in a fresh lab: bulk throughput both ways and 1000-byte request/response')
    .option('--json', 'print one JSON object instead of the table')
    .option('--quick', `small sizes (${QUICK.bytes / 1e6} MB, ${QUICK.exchanges} exchanges): under a minute`)
    .option('--bytes <n>', `bulk bytes per direction (default ${FULL.bytes / 1e6} MB; 50MB, 1GiB... accepted)`, parseBytes)
    .option('--exchanges <k>', `request/response exchanges (default ${FULL.exchanges})`, positiveInt)
    .option('--request <bytes>', 'request (and echoed reply) size', positiveInt, RR_BYTES)
    .option('--repeat <n>', `repetitions, kernel and intact interleaved; figures are medians (default ${FULL.repeat}, --quick ${QUICK.repeat})`, positiveInt)
    .option('--prefix <prefix>', 'lab prefix (default: a fresh intact-b<hex>)', prefixArg)
    .option('--log-dir <dir>', 'where the programs\' logs go (default /tmp/intact-bench/<prefix>)')
    .option('--cpu-prof <dir>', 'run intact\'s primary under node --cpu-prof; one .cpuprofile per app in <dir>')
    .addOption(
      new Option('--kernel-hash <impl>', 'sha256 in the kernel\'s sink: wasm (as intact\'s sink app) or crypto (OpenSSL)')
        .choices(['wasm', 'crypto'])
        .default('wasm'),
    )
    .action(async (opts: BenchCliOptions) => {
      const sizes = opts.quick ? QUICK : FULL;
      const repeat = opts.repeat ?? sizes.repeat;
      const result = await runBench({
        repeat,
        bytes: opts.bytes ?? sizes.bytes,
        exchanges: opts.exchanges ?? sizes.exchanges,
        request: opts.request,
        prefix: opts.prefix,
        logDir: opts.logDir,
        quick: opts.quick ?? false,
        progress: createProgress(benchSteps(repeat)),
        kernelSinkHash: opts.kernelHash,
        cpuProfDir: opts.cpuProf ? resolve(opts.cpuProf) : undefined,
      });
      process.stdout.write(opts.json ? JSON.stringify(result) + '\n' : formatBench(result));
      if (!result.ok) process.exitCode = 1;
    });
}
