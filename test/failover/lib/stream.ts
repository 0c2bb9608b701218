// The stream kill suite (lab-source.test.ts): kill -9 of the primary late in a long
// transfer from the `source` app (scenarios/clients/bulk-recv.ts reads and checks the
// seeded stream). The app checkpoints every DEFAULT_SOURCE_CHECKPOINT_BYTES sent, so the
// backup must restore the connection from a checkpoint, not from the first byte: with
// output replay the restored app then regenerates at most one interval, not the whole
// stream before the kill. The stream must arrive exact, with no RST.
import type { Test } from 'tap';
import { findNode, VIP } from '../../../lab/plan.js';
import { startProcess } from '../../../scenarios/lib/process.js';
import { clientArgv } from '../../../scenarios/lib/repo.js';
import { DEFAULT_SOURCE_CHECKPOINT_BYTES } from '../../../primary/apps/source.js';
import { requireCheckpointed, requireReplayed, runCycle } from './cycle.js';
import { stratified } from './instants.js';
import { runSuite } from './suite.js';

const MB = 1024 * 1024;
const SIZE = 256 * MB;
const SEED = 5;
/** Kills land past two intervals (so a checkpoint took effect) and before the end. */
const FIRST_KILL = 2 * DEFAULT_SOURCE_CHECKPOINT_BYTES + 8 * MB;
const LAST_KILL = SIZE - 16 * MB;

export async function streamSuite(t: Test, outputReplay: boolean, cycles: number): Promise<void> {
  await runSuite(t, {
    name: outputReplay ? 'source-replay' : 'source',
    config: outputReplay ? { replication: { outputReplay: true } } : undefined,
    prepare({ lab, rand }) {
      return stratified(rand, cycles, FIRST_KILL, LAST_KILL).map((killAt) => ({
        name: `kill at ${(killAt / MB).toFixed(1)} MiB of ${SIZE / MB} MiB`,
        run: (logDir: string, tag: string) =>
          runCycle(lab, {
            app: 'source',
            appOpts: { bytes: SIZE, seed: SEED },
            logDir,
            tag,
            workload: async (pair) => {
              const client = await startProcess({
                name: 'bulk-recv',
                netns: findNode(lab, 'client').netns,
                argv: clientArgv('bulk-recv', ['--host', VIP, '--port', '19', '--bytes', String(SIZE), '--seed', String(SEED), '--mark', String(killAt), '--timeout-ms', '60000']),
                logFile: `${logDir}/${tag}-client.log`,
              });
              const problems: string[] = [];
              const line = await client.waitForLine(/^progress \d+/, 60_000).catch((e: Error) => {
                problems.push(`the client never reached ${killAt} bytes: ${e.message.split('\n')[0]}`);
                return undefined;
              });
              const midway = client.running;
              pair.killPrimary();
              await client.waitExit(90_000).catch((e: Error) => problems.push(e.message.split('\n')[0]!));
              const last = client.stdout().trim().split('\n').pop() ?? '';
              let r: { verified?: boolean; bytes?: number; sha256?: string; gaps?: unknown[] } = {};
              try {
                r = JSON.parse(last) as typeof r;
              } catch {
                problems.push(`no result from the client: ${client.tail().trim().slice(-300)}`);
              }
              if (r.verified !== true) problems.push(`the stream did not arrive exact: ${r.bytes} bytes, sha256 ${r.sha256}`);
              const got = line ? Number(line.split(' ')[1]) : 0;
              return { problems, midway, instant: `at ${(got / MB).toFixed(1)} MiB of ${SIZE / MB} MiB received`, details: { killAt, got, gaps: r.gaps } };
            },
          }).then((out) => {
            if (outputReplay) requireReplayed(out);
            requireCheckpointed(out, 'the stream');
            if (!out.midway) out.problems.push('the stream ended before the kill: nothing was tested');
            return out;
          }),
      }));
    },
  });
}
