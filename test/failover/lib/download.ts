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
import type { Lab } from '../../../lab/topology.js';
import { requireCheckpointed, requireReplayed, runCycle, type CycleOutcome, type WorkloadResult } from './cycle.js';
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

interface DownloadOptions {
  /** curl's --limit-rate (a slow client: the download lasts while the test acts). */
  limitRate?: string;
  /** Something to do to the pair (restart its backup) once the client has `at` bytes. */
  during?: { at: number; run: (pair: Pair) => Promise<void> };
}

async function download(pair: Pair, dir: string, tag: string, killAt: number, want: string, o: DownloadOptions = {}): Promise<WorkloadResult> {
  const out = join(dir, `${tag}-download.bin`);
  rmSync(out, { force: true });
  const curl = await startProcess({
    name: 'curl',
    netns: findNode(pair.lab, 'client').netns,
    argv: ['curl', '-sS', '--fail', '--max-time', '60', ...(o.limitRate ? ['--limit-rate', o.limitRate] : []),
      '-o', out, '-w', '%{http_code} %{size_download}\n', `http://${VIP}/big.bin`],
    logFile: join(dir, `${tag}-curl.log`),
  });
  // The kill lands at a byte offset of the download as the client's file shows it:
  // polled every millisecond, that is within a few hundred KB of the target.
  const reach = async (at: number) => {
    let got = sizeOf(out);
    while (got < at && curl.running) {
      await new Promise((r) => setTimeout(r, 1));
      got = sizeOf(out);
    }
    return got;
  };
  if (o.during) {
    await reach(o.during.at);
    if (curl.running) await o.during.run(pair);
  }
  const got = await reach(killAt);
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

/** The file both suites serve: the http app's root, and the file's sha256. */
function prepareFile(dir: string): { www: string; want: string } {
  const www = join(dir, 'www');
  mkdirSync(www);
  return { www, want: writeSeededFile(join(www, 'big.bin'), SIZE, 7) };
}

/** One kill cycle of a download from the http app serving `www`. */
function downloadCycle(lab: Lab, www: string, want: string, logDir: string, tag: string, killAt: number, o?: DownloadOptions): Promise<CycleOutcome> {
  return runCycle(lab, { app: 'http', appOpts: { root: www }, logDir, tag, workload: (pair) => download(pair, logDir, tag, killAt, want, o) });
}

/** A download that outlives its backup is protected by the next one from its next
 *  checkpoint (lab-resync-http.test.ts): curl fetches the file at a limited rate; once
 *  it has a few MiB the backup is killed (-9) and a new one started, while the primary
 *  serves on unprotected; the http app's next checkpoint (every 32 MiB of body, offered
 *  when the socket drains) puts the connection under the new backup's protection
 *  (Mirror.resync); well after it the primary is killed. The download must complete,
 *  exact, with no RST, and the new backup must have rebuilt it from a checkpoint: only
 *  the resynchronisation could have given it one. */
export async function downloadResyncSuite(t: Test): Promise<void> {
  await runSuite(t, {
    name: 'download-resync',
    prepare({ lab, dir, cycles }) {
      const { www, want } = prepareFile(dir);
      const restartAt = 4 * MB;
      // Past the first checkpoint after the restart, with a checkpoint's worth of slack.
      const killAt = Math.min(SIZE - 4 * MB, restartAt + 2 * DEFAULT_CHECKPOINT_BYTES + 8 * MB);
      return Array.from({ length: Math.min(cycles, 2) }, () => ({
        name: `backup restarted at ${(restartAt / MB).toFixed(0)} MiB, primary killed at ${(killAt / MB).toFixed(0)} MiB of ${(SIZE / MB).toFixed(0)} MiB`,
        run: async (logDir: string, tag: string) => {
          const out = await downloadCycle(lab, www, want, logDir, tag, killAt, {
            limitRate: '25M',
            during: { at: restartAt, run: (p) => p.restartBackup() },
          });
          const k = out.takeover;
          if (k !== undefined && (k.connections !== 1 || k.checkpointed !== 1)) {
            out.problems.push(`the new backup rebuilt ${k.connections} connection(s), ${k.checkpointed} from a checkpoint: the download was not resynchronised`);
          }
          if (!out.midway) out.problems.push('the download ended before the kill: nothing was tested');
          return out;
        },
      }));
    },
  });
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
      const { www, want } = prepareFile(dir);
      return stratified(rand, cycles, 1, SIZE).map((killAt) => ({
        name: `kill at ${(killAt / MB).toFixed(1)} MB of ${(SIZE / MB).toFixed(0)} MB`,
        run: async (logDir: string, tag: string) => {
          const out = await downloadCycle(lab, www, want, logDir, tag, killAt);
          if (outputReplay) requireReplayed(out);
          // The app checkpoints the download every DEFAULT_CHECKPOINT_BYTES of body: a
          // kill well past the first must restore from one, not from the first byte.
          if (killAt >= 2 * DEFAULT_CHECKPOINT_BYTES) requireCheckpointed(out, 'the download');
          return out;
        },
      }));
    },
  });
}

