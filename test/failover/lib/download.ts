// The download kill suite (lab-download*.test.ts): kill -9 of the primary while curl
// downloads a file from the http app; the download must complete with the right sha256,
// and the client's wire and kernel show no reset. Each cycle has its own backup+primary
// pair and kills at a random byte offset of the download (stratified over the whole
// file; seed printed).
// Size: INTACT_FAILOVER_MB (default 100); cycles: INTACT_FAILOVER_CYCLES (default 20).
import type { Test } from 'tap';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { findNode, VIP } from '../../../lab/plan.js';
import { seededChunks } from '../../../shared/stream.js';
import { startProcess } from '../../../scenarios/lib/process.js';
import { DEFAULT_CHECKPOINT_BYTES } from '../../../primary/apps/http.js';
import { requireReplayed, runCycle, type WorkloadResult } from './cycle.js';
import { stratified } from './instants.js';
import { runSuite } from './suite.js';
import type { Pair } from './pair.js';

const MB = 1024 * 1024;
const SIZE = Math.round(Number(process.env.INTACT_FAILOVER_MB ?? 100) * MB);

function writeSeededFile(path: string, length: number, seed: number): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (const c of seededChunks(seed, length)) {
      h.update(c);
      writeSync(fd, c);
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest('hex');
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function download(pair: Pair, dir: string, tag: string, killAt: number, want: string): Promise<WorkloadResult> {
  const out = join(dir, `${tag}-download.bin`);
  rmSync(out, { force: true });
  const curl = await startProcess({
    name: 'curl',
    netns: findNode(pair.lab, 'client').netns,
    argv: ['curl', '-sS', '--fail', '--max-time', '60', '-o', out, '-w', '%{http_code} %{size_download}\n', `http://${VIP}/big.bin`],
    logFile: join(dir, `${tag}-curl.log`),
  });
  // The kill lands at a byte offset of the download as the client's file shows it:
  // polled every millisecond, that is within a few hundred KB of the target.
  let got = sizeOf(out);
  while (got < killAt && curl.running) {
    await new Promise((r) => setTimeout(r, 1));
    got = sizeOf(out);
  }
  const midway = curl.running;
  pair.killPrimary();
  const problems: string[] = [];
  const exit = await curl.waitExit(90_000).catch((e: Error) => {
    problems.push(e.message.split('\n')[0]!);
    return undefined;
  });
  if (exit && exit.code !== 0) problems.push(`curl exited with ${exit.code}: ${curl.tail().trim().slice(-300)}`);
  const size = sizeOf(out);
  const sha = size > 0 ? await sha256File(out) : '';
  if (size !== SIZE) problems.push(`downloaded ${size} bytes, want ${SIZE}`);
  else if (sha !== want) problems.push(`sha256 ${sha}, want ${want}`);
  rmSync(out, { force: true });
  return {
    problems,
    midway,
    instant: `at ${(got / MB).toFixed(1)} MB of ${(SIZE / MB).toFixed(0)} MB received`,
    details: { killAt, got, size, curl: curl.stdout().trim() },
  };
}

/** The download suite, in strict mode or with output replay (the config's
 *  replication.outputReplay): there the primary sends the file's bytes without
 *  replicating them, and after the kill the backup's http app serves the file again from
 *  the request, dropping what curl's ACK says it holds. */
export async function downloadSuite(t: Test, outputReplay: boolean): Promise<void> {
  await runSuite(t, {
    name: outputReplay ? 'download-replay' : 'download',
    config: outputReplay ? { replication: { outputReplay: true } } : undefined,
    prepare({ lab, dir, rand, cycles }) {
      const www = join(dir, 'www');
      mkdirSync(www);
      const want = writeSeededFile(join(www, 'big.bin'), SIZE, 7);
      return stratified(rand, cycles, 1, SIZE).map((killAt) => ({
        name: `kill at ${(killAt / MB).toFixed(1)} MB of ${(SIZE / MB).toFixed(0)} MB`,
        run: async (logDir: string, tag: string) => {
          const out = await runCycle(lab, {
            app: 'http',
            appOpts: { root: www },
            logDir,
            tag,
            workload: (pair) => download(pair, logDir, tag, killAt, want),
          });
          if (outputReplay) requireReplayed(out);
          // The app checkpoints the download every DEFAULT_CHECKPOINT_BYTES of body: a
          // kill well past the first must restore from one, not from the first byte.
          const k = out.takeover;
          if (out.midway && killAt >= 2 * DEFAULT_CHECKPOINT_BYTES && k !== undefined && k.connections > 0 && k.checkpointed !== k.connections) {
            out.problems.push(`${k.checkpointed} of ${k.connections} connections restored from a checkpoint of the download`);
          }
          return out;
        },
      }));
    },
  });
}

