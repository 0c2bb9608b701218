// The pure parts of the bench: statistics, size parsing, the table. No root needed.
import t from 'tap';
import { quantile, summarize } from '../../scenarios/lib/stats.js';
import { parseBytes } from '../../scenarios/cli.js';
import { formatBench, type BenchResult, type RunOutcome } from '../../scenarios/bench.js';

t.test('quantiles interpolate between neighbours', async (t) => {
  t.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  t.equal(quantile([10], 0.95), 10);
  t.equal(quantile([0, 100], 0.95), 95);
  t.ok(Number.isNaN(quantile([], 0.5)));
});

t.test('summarize does not care about order', async (t) => {
  const s = summarize([5, 1, 4, 2, 3]);
  t.same({ min: s.min, median: s.median, max: s.max, mean: s.mean, count: s.count }, { min: 1, median: 3, max: 5, mean: 3, count: 5 });
});

t.test('sizes with units', async (t) => {
  t.equal(parseBytes('1000'), 1000);
  t.equal(parseBytes('50MB'), 50_000_000);
  t.equal(parseBytes('1GiB'), 2 ** 30);
  t.equal(parseBytes('1e9'), 1e9);
  t.equal(parseBytes('1.5k'), 1500);
  t.throws(() => parseBytes('0'));
  t.throws(() => parseBytes('12 parsecs'));
  t.throws(() => parseBytes('-5'));
});

const run = (result: Record<string, unknown>): RunOutcome => ({ ok: true, seconds: 1, result: { client: 'x', ok: true, verified: true, ...result } });
const failed: RunOutcome = { ok: false, seconds: 0, error: 'intact primary did not start' };

function result(over: Partial<BenchResult['bulk']> = {}, errors: string[] = []): BenchResult {
  return {
    bench: 'intact',
    ok: errors.length === 0,
    quick: true,
    repeat: 1,
    prefix: 'intact-b000000',
    startedAt: '2025-01-01T00:00:00.000Z',
    logDir: '/tmp/x',
    machine: { cpus: 2, cpuModel: 'cpu', kernel: '6.1', node: 'v20', memoryGB: 8, cpuIdle: { driver: 'haltpoll', governor: 'haltpoll', guestHaltPollNs: 0 } },
    bulk: {
      bytes: 50_000_000,
      seed: 1,
      kernelSinkHash: 'wasm',
      toKernelGbps: 4,
      toIntactGbps: 1,
      fromKernelGbps: 2,
      fromIntactGbps: 2,
      toRatio: 0.25,
      fromRatio: 1,
      verified: true,
      runs: { toKernel: [run({ gbps: 4 })], toIntact: [run({ gbps: 1 })], fromKernel: [run({ gbps: 2 })], fromIntact: [run({ gbps: 2 })] },
      ...over,
    },
    rr: {
      exchanges: 500,
      requestBytes: 1000,
      replyBytes: 1000,
      kernelUs: 40,
      intactUs: 60,
      ratio: 1.5,
      kernelP95Us: 80,
      intactP95Us: 120,
      verified: true,
      runs: { kernel: [run({ medianUs: 40 })], intact: [run({ medianUs: 60 })] },
    },
    errors,
    durations: { totalSeconds: 12.3, labUpSeconds: 0.3 },
  };
}

t.test('the table shows both stacks and the ratios', async (t) => {
  const text = formatBench(result());
  t.match(text, /bulk client → server\s+4\.00 Gbit\/s\s+1\.00 Gbit\/s\s+25 %/);
  t.match(text, /bulk server → client\s+2\.00 Gbit\/s\s+2\.00 Gbit\/s\s+100 %/);
  t.match(text, /rr 1000 B echo \(median\)\s+40\.0 µs\s+60\.0 µs\s+1\.50 ×/);
  t.match(text, /all four transfers verified/);
  t.notMatch(text, /errors:/);
});

t.test('a failed intact half shows as failed, with the reason', async (t) => {
  const text = formatBench(
    result({ toIntactGbps: null, toRatio: null, verified: false, runs: { ...result().bulk.runs, toIntact: [failed] } }, ['intact sink: intact primary did not start']),
  );
  t.match(text, /bulk client → server\s+4\.00 Gbit\/s\s+failed\s+—/);
  t.match(text, /NOT verified/);
  t.match(text, /errors:\n {2}- intact sink: intact primary did not start/);
});

t.test('profile frames are grouped by area of the tree', async (t) => {
  const { areaOf } = await import('../../scenarios/profile-summary.js');
  t.equal(areaOf('file:///work/main/shared/tcp/process.ts', 'processSegment'), 'shared/tcp');
  t.equal(areaOf('file:///work/main/primary/apps/sink.ts', 'x'), 'primary/apps');
  t.equal(areaOf('file:///work/main/native/link.ts', ''), 'native');
  t.equal(areaOf('wasm://wasm/c85f2f7e', 'wasm-function[3]'), 'wasm (e.g. hash-wasm)');
  t.equal(areaOf('', '(garbage collector)'), '(garbage collector)');
  t.equal(areaOf('file:///work/main/node_modules/hash-wasm/dist/index.umd.js', 'save'), 'node_modules/hash-wasm');
});
