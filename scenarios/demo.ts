// `intact demo`: the failover, end to end, on one machine. It builds the lab, starts
// the backup and the primary with the HTTP app, starts a download from a kernel
// client, kills the primary with SIGKILL in the middle of it, lets the backup take
// over, verifies the download byte for byte, tears the lab down, and says what
// happened at each step. `--json` prints one JSON object instead.
//
// Figures, and where each is measured:
//   detectMs   kill (this process, wall clock) -> the backup declares the primary dead
//   rebuildMs, claimMs, restartMs, kickMs   the backup's own timing of each step
//   stallMs    at the client: the longest gap between two reads spanning the kill, i.e.
//              last byte from the primary -> first byte from the backup
//   rstSeenByClient  RST segments in a capture on the client's interface (tcpdump)
import { mkdtempSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { seededChunks, seededSha256 } from '../shared/stream.js';
import { withLab } from '../lab/topology.js';
import { findNode, uniquePrefix, type LabPlan } from '../lab/plan.js';
import { killNode } from '../lab/faults.js';
import { netnsPidsSync } from '../lab/netns.js';
import { startProcess, type ManagedProcess } from './lib/process.js';
import { intactArgv, tsxArgv, REPO_ROOT } from './lib/repo.js';
import { nsExec } from '../lab/topology.js';

const wall = () => performance.timeOrigin + performance.now();

export interface DemoOptions {
  json?: boolean;
  /** Size of the downloaded file in MB. */
  mb?: number;
  /** Kill the primary once the client has this fraction of the file. */
  killAt?: number;
  prefix?: string;
  /** Run the pair with output replay (replication.outputReplay) instead of strict. */
  outputReplay?: boolean;
}

export interface DemoResult {
  ok: boolean;
  detectMs: number;
  rebuildMs: number;
  claimMs: number;
  restartMs: number;
  kickMs: number;
  stallMs: number;
  connections: number;
  /** Output replay was on, and how many rebuilt connections the backup's app wrote
   *  again from the request (every one, with replay on). */
  outputReplay: boolean;
  replayed: number;
  /** Rebuilt connections the app restored from its last checkpoint (the http app
   *  checkpoints a download every 32 MiB); the others started again from their first byte. */
  checkpointed: number;
  bytesVerified: boolean;
  rstSeenByClient: number;
  bytes: number;
  expectedBytes: number;
  killedAtByte: number;
  clientCounters: Record<string, number>;
  clientCountersMoved: Record<string, number>;
  prefix: string;
  logDir: string;
  steps: string[];
}

const WATCHED = ['TcpEstabResets', 'TcpExtPAWSEstab', 'TcpExtTCPChallengeACK', 'TcpInCsumErrors', 'TcpExtTCPAbortOnTimeout', 'TcpRetransSegs'];

async function counters(netns: string): Promise<Record<string, number>> {
  const r = await nsExec(netns, ['nstat', '-az']);
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (WATCHED.includes(name)) out[name] = Number(value);
  }
  return out;
}

interface EventLine {
  event: string;
  [k: string]: unknown;
}

function eventOf(p: ManagedProcess, name: string): EventLine | undefined {
  for (const line of p.stdout().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line) as EventLine;
      if (e.event === name) return e;
    } catch {
      // not an event line
    }
  }
  return undefined;
}

async function writeFile(path: string, bytes: number, seed: number): Promise<void> {
  const out = createWriteStream(path);
  for (const chunk of seededChunks(seed, bytes)) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

export async function runDemo(o: DemoOptions = {}): Promise<DemoResult> {
  const mb = o.mb ?? 100;
  const size = mb * 1_000_000;
  const seed = 2000;
  const killFraction = o.killAt ?? 0.4;
  const steps: string[] = [];
  const say = (s: string) => {
    steps.push(s);
    if (!o.json) process.stdout.write(s + '\n');
  };
  const prefix = o.prefix ?? uniquePrefix('intact-demo');
  const logDir = mkdtempSync(join(tmpdir(), 'intact-demo-'));
  const www = join(logDir, 'www');
  const env = { ...process.env, INTACT_LOG_LEVEL: process.env.INTACT_LOG_LEVEL ?? 'info' };

  say(`1. building the lab "${prefix}": a client, a primary, a backup, a switch; service LAN 192.0.2.0/24, VIP 192.0.2.100`);
  const replay = o.outputReplay === true;
  return withLab({ prefix, config: replay ? { replication: { outputReplay: true } } : undefined }, async (lab: LabPlan) => {
    const ns = (node: string) => findNode(lab, node).netns;
    const started: ManagedProcess[] = [];
    try {
      await import('node:fs/promises').then((f) => f.mkdir(www, { recursive: true }));
      await writeFile(join(www, 'file.bin'), size, seed);
      const expected = seededSha256(seed, size);
      say(`2. wrote a ${mb} MB file to serve (sha256 ${expected.slice(0, 16)}...)`);

      const appArgs = ['--config', lab.configs.primary, '--app', 'http', '--app-opt', `root=${www}`];
      const backup = await startProcess({
        name: 'backup', netns: ns('backup'), argv: intactArgv(['backup', ...appArgs]), cwd: REPO_ROOT, env,
        logFile: join(logDir, 'backup.log'), ready: { line: /"event":"ready"/ }, readyTimeoutMs: 30_000,
      });
      started.push(backup);
      say('3. backup daemon started in the backup namespace: watching, not answering for the VIP');
      const primary = await startProcess({
        name: 'primary', netns: ns('primary'), argv: intactArgv(['primary', ...appArgs]), cwd: REPO_ROOT, env,
        logFile: join(logDir, 'primary.log'), ready: { line: /^serving .*protected by the backup/ }, readyTimeoutMs: 30_000,
      });
      started.push(primary);
      await backup.waitForLine(/"event":"primary-alive"/, 10_000);
      say('4. primary started: serving http on 192.0.2.100:80, protected by the backup (heartbeats on both paths)' +
        (replay ? '; output replay: the file\'s bytes go out unreplicated, the backup would serve them again from the request' : ''));

      const capture = await startProcess({
        name: 'capture', netns: ns('client'), cwd: REPO_ROOT,
        argv: ['tcpdump', '-i', 'svc0', '-nn', '-l', '-U', 'tcp[tcpflags] & tcp-rst != 0'],
        logFile: join(logDir, 'capture.log'),
      });
      started.push(capture);
      await new Promise((r) => setTimeout(r, 500));
      const before = await counters(ns('client'));
      say('5. capturing RST segments at the client (tcpdump on its interface)');

      const client = await startProcess({
        name: 'client', netns: ns('client'), cwd: REPO_ROOT, env,
        argv: tsxArgv('scenarios/clients/http-get.ts', ['--url', 'http://192.0.2.100/file.bin', '--mark', String(Math.floor(size * killFraction)), '--timeout-ms', '120000']),
        logFile: join(logDir, 'client.log'),
      });
      started.push(client);
      say(`6. the client (kernel TCP) downloads http://192.0.2.100/file.bin`);
      // The primary's pids first, then the clock, then SIGKILL: the instant measured is
      // the kill itself, not the time it takes to find the process.
      const primaryPids = netnsPidsSync(ns('primary'));
      const mark = await client.waitForLine(/^progress \d+/, 120_000);
      const killAt = wall();
      const killed = primaryPids.filter((pid) => {
        try {
          process.kill(pid, 'SIGKILL');
          return true;
        } catch {
          return false;
        }
      });
      await killNode(lab.prefix, 'primary');
      const killedAtByte = Number(mark.split(' ')[1]);
      say(`7. kill -9 of the primary (pid ${killed.join(', ')}) when the client had ${(killedAtByte / 1e6).toFixed(1)} MB`);

      const exit = await client.waitExit(150_000);
      const result = JSON.parse(client.stdout().trim().split('\n').pop() ?? '{}') as {
        ok: boolean; bytes: number; sha256: string; gaps: Array<{ fromAt: number; toAt: number; ms: number }>;
      };
      const dead = eventOf(backup, 'primary-dead');
      const tk = eventOf(backup, 'takeover');
      const detectMs = dead ? Number(dead.detectedAt) - killAt : NaN;
      if (dead && tk) {
        say(`8. the backup declared the primary dead ${detectMs.toFixed(1)} ms after the kill, then took over ${tk.connections} connection(s): ` +
          `rebuild ${Number(tk.rebuildMs).toFixed(2)} ms, restart the app ${Number(tk.restartMs).toFixed(2)} ms, claim the VIP ${Number(tk.claimMs).toFixed(2)} ms, kick ${Number(tk.kickMs).toFixed(2)} ms` +
          `; ${Number(tk.checkpointed ?? 0)} restored from the app's last checkpoint (the http app checkpoints a download every 32 MiB: the rest of the file is served from there)` +
          (replay ? `; ${Number(tk.replayed ?? 0)} rebuilt for output replay (the app writes the file again, the client's ACK says how much to skip)` : ''));
      } else {
        say(`8. NO TAKEOVER seen in the backup's output (see ${join(logDir, 'backup.log')})`);
      }
      // The stall: the read gap that spans the kill (or the longest after it).
      const gaps = (result.gaps ?? []).filter((g) => g.toAt >= killAt);
      const stall = gaps.find((g) => g.fromAt <= killAt + 1) ?? gaps.sort((a, b) => b.ms - a.ms)[0];
      const stallMs = stall ? stall.toAt - stall.fromAt : 0;
      const verified = result.ok === true && result.bytes === size && result.sha256 === expected;
      say(`9. download ${result.ok ? 'finished' : 'FAILED'} (${exit.code === 0 ? 'exit 0' : `exit ${exit.code}`}): ${result.bytes} of ${size} bytes, sha256 ${verified ? 'matches' : 'DOES NOT MATCH'}`);
      await new Promise((r) => setTimeout(r, 300));
      await capture.stop();
      const rsts = capture.stdout().split('\n').filter((l) => / Flags \[[^\]]*R/.test(l)).length;
      const after = await counters(ns('client'));
      const moved: Record<string, number> = {};
      for (const k of WATCHED) moved[k] = (after[k] ?? 0) - (before[k] ?? 0);
      say(`10. the client saw a stall of ${stallMs.toFixed(1)} ms, ${rsts} RST segment(s); its kernel counters moved: ` +
        Object.entries(moved).map(([k, v]) => `${k} ${v}`).join(', '));
      const replayed = Number(tk?.replayed ?? 0);
      const ok = verified && rsts === 0 && !!tk && moved.TcpEstabResets === 0 && moved.TcpExtPAWSEstab === 0 && moved.TcpExtTCPChallengeACK === 0 &&
        (!replay || replayed === Number(tk.connections));
      return {
        ok,
        detectMs,
        rebuildMs: Number(tk?.rebuildMs ?? NaN),
        claimMs: Number(tk?.claimMs ?? NaN),
        restartMs: Number(tk?.restartMs ?? NaN),
        kickMs: Number(tk?.kickMs ?? NaN),
        stallMs,
        connections: Number(tk?.connections ?? 0),
        outputReplay: replay,
        replayed,
        checkpointed: Number(tk?.checkpointed ?? 0),
        bytesVerified: verified,
        rstSeenByClient: rsts,
        bytes: result.bytes,
        expectedBytes: size,
        killedAtByte,
        clientCounters: after,
        clientCountersMoved: moved,
        prefix: lab.prefix,
        logDir,
        steps,
      };
    } finally {
      for (const p of started.reverse()) if (p.running) await p.stop(2000);
      rmSync(www, { recursive: true, force: true });
      say(`11. lab "${prefix}" torn down; logs in ${logDir}`);
    }
  });
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the failover, end to end in the lab: download, kill -9 the primary, the backup takes over, verify')
    .option('--json', 'print one JSON object with the figures instead of the steps')
    .option('--mb <n>', 'size of the downloaded file in MB', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 4000) throw new InvalidArgumentError('must be a whole number of MB from 1 to 4000');
      return n;
    }, 100)
    .option('--kill-at <fraction>', 'kill the primary when the client has this fraction of the file', (v) => {
      const n = Number(v);
      if (!(n > 0 && n < 1)) throw new InvalidArgumentError('must be a number between 0 and 1');
      return n;
    }, 0.4)
    .option('--prefix <name>', 'lab prefix (default: a unique one)')
    .option('--output-replay', 'run the pair with output replay (replication.outputReplay) instead of strict output commit')
    .action(async (opts: { json?: boolean; mb: number; killAt: number; prefix?: string; outputReplay?: boolean }) => {
      const r = await runDemo({ json: opts.json, mb: opts.mb, killAt: opts.killAt, prefix: opts.prefix, outputReplay: opts.outputReplay });
      if (opts.json) {
        const { steps: _s, ...figures } = r;
        process.stdout.write(JSON.stringify(figures) + '\n');
      } else {
        process.stdout.write(`\n${r.ok ? 'OK' : 'FAILED'}: the client's download ${r.bytesVerified ? 'survived' : 'did not survive'} the primary's death; ` +
          `detect ${r.detectMs.toFixed(1)} ms, client-visible stall ${r.stallMs.toFixed(1)} ms, RSTs ${r.rstSeenByClient}\n`);
      }
      if (!r.ok) process.exitCode = 1;
    });
}
