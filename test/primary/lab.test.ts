// `intact primary` in the namespace lab, against real kernel clients: curl downloads
// from the http app, a Node net client sends to the sink, echoes, and runs 200
// concurrent connections; then the same with 2 % random loss on the service LAN.
// Sizes: INTACT_LAB_MB (default 100) for the big transfers; echo uses a tenth.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { rootOnly } from '../helpers/root.js';
import { withLab, nsSpawn, nsExec, type Lab } from '../../lab/topology.js';
import { findNode } from '../../lab/plan.js';
import { setLoss } from '../../lab/faults.js';
import { seededChunks } from '../../shared/stream.js';
import { DEFAULT_TCP_BUFFERS } from '../../shared/config.js';
import { wscaleFor } from '../../shared/tcp/options.js';
import { startIntactBackup } from '../../scenarios/experiments/modes.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIG = Number(process.env.INTACT_LAB_MB ?? 100) * 1024 * 1024;
const ECHO = Math.max(1024 * 1024, Math.floor(BIG / 10));
const VIP = '192.0.2.100';

interface Primary {
  proc: ChildProcess;
  output: () => string;
  stop(): Promise<number | null>;
}

async function startPrimary(lab: Lab, app: string, args: string[] = [], config = lab.configs.primary, noBackup = true): Promise<Primary> {
  const ns = findNode(lab, 'primary').netns;
  const proc = nsSpawn(
    ns,
    [process.execPath, '--import', 'tsx', join(ROOT, 'test/primary/run-primary.ts'), '--config', config, '--app', app, ...(noBackup ? ['--no-backup'] : []), ...args],
    { cwd: ROOT, env: { ...process.env, INTACT_LOG_LEVEL: process.env.INTACT_LOG_LEVEL ?? 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`primary did not start:\n${out}`)), 30_000);
    const check = () => {
      if (/serving .* \(unprotected: /.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`primary exited (${code}) before serving:\n${out}`));
    });
  });
  return {
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

async function client(lab: Lab, args: string[], timeoutMs = 600_000): Promise<Record<string, unknown>> {
  const ns = findNode(lab, 'client').netns;
  const r = await nsExec(ns, [process.execPath, '--import', 'tsx', join(ROOT, 'test/primary/lab-client.ts'), ...args], { timeoutMs });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { ok: false, stdout: r.stdout, stderr: r.stderr.slice(-2000), code: r.code };
  }
}

function writeSeededFile(path: string, length: number, seed: number): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  for (const c of seededChunks(seed, length)) {
    writeSync(fd, c);
    h.update(c);
  }
  closeSync(fd);
  return h.digest('hex');
}

async function curlSha(lab: Lab, url: string): Promise<{ sha: string; raw: string }> {
  const ns = findNode(lab, 'client').netns;
  const r = await nsExec(ns, ['sh', '-c', `curl -sS --fail --max-time 600 '${url}' | sha256sum`], { timeoutMs: 620_000 });
  return { sha: r.stdout.split(' ')[0] ?? '', raw: r.stdout + r.stderr };
}

function suite(loss: number, opts: { txCsumOff?: boolean } = {}) {
  return async (t: Test) => {
    const dir = mkdtempSync(join(tmpdir(), 'intact-lab-http-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const fileSha = writeSeededFile(join(dir, 'big.bin'), BIG, 77);

    await withLab({ clients: 1, txCsumOff: opts.txCsumOff }, async (lab) => {
      if (loss > 0) await setLoss(lab.prefix, loss);
      t.comment(`lab ${lab.prefix}, loss ${loss} %, big ${BIG} bytes, client tx offload ${opts.txCsumOff ? 'off' : 'on'}`);

      const http = await startPrimary(lab, 'http', ['--app-opt', `root=${dir}`]);
      try {
        const started = performance.now();
        const got = await curlSha(lab, `http://${VIP}/big.bin`);
        const secs = (performance.now() - started) / 1000;
        t.equal(got.sha, fileSha, `curl GET ${BIG} bytes: sha256 matches (${(BIG / 1e6 / secs).toFixed(1)} MB/s)`);
        if (got.sha !== fileSha) t.comment(got.raw.slice(0, 500));
        const missing = await nsExec(findNode(lab, 'client').netns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${VIP}/nope`]);
        t.equal(missing.stdout, '404', 'missing file: 404');
      } finally {
        t.equal(await http.stop(), 0, 'http primary exits 0 on SIGTERM');
      }

      const sink = await startPrimary(lab, 'sink');
      try {
        const r = await client(lab, ['sink', VIP, '9', String(BIG), '5']);
        t.ok(r.ok, `sink: ${BIG} bytes, size and sha256 match (${String(r.MBps)} MB/s)`, r);
      } finally {
        t.equal(await sink.stop(), 0, 'sink primary exits 0 on SIGTERM');
      }

      const echo = await startPrimary(lab, 'echo');
      try {
        const r = await client(lab, ['echo', VIP, '7', String(ECHO), '6']);
        t.ok(r.ok, `echo: ${ECHO} bytes back, sha256 matches (${String(r.MBps)} MB/s each way)`, r);
        const m = await client(lab, ['many', VIP, '7', '65536', '100', '200']);
        t.ok(m.ok, `200 concurrent echo connections all complete (${String(m.seconds)} s)`, m);
      } finally {
        t.equal(await echo.stop(), 0, 'echo primary exits 0 on SIGTERM');
      }

      const source = await startPrimary(lab, 'source', ['--app-opt', `bytes=${ECHO}`, '--app-opt', 'seed=9']);
      try {
        const r = await client(lab, ['source', VIP, '19', String(ECHO), '9']);
        t.ok(r.ok, `source: ${ECHO} bytes of the seeded stream (${String(r.MBps)} MB/s)`, r);
      } finally {
        t.equal(await source.stop(), 0, 'source primary exits 0 on SIGTERM');
      }
    });
  };
}

t.test('intact primary serves kernel clients in the lab', rootOnly(), suite(0));
t.test('intact primary with 2 % loss on the service LAN', rootOnly(), suite(2));
// The client's kernel then sends MSS-sized frames with real checksums: the other
// receive path (verify in software, no GSO super-segments).
t.test('intact primary with the client kernel segmenting and checksumming', rootOnly(), suite(0, { txCsumOff: true }));

/** The window scale the client's kernel holds for a connection to the VIP (ss -ti), read
 *  while a client keeps one open: what the primary's SYN-ACK offered. */
async function offeredWindowScale(lab: Lab): Promise<number | undefined> {
  const script = `
    const net = require('node:net'); const { execFileSync } = require('node:child_process');
    const s = net.connect(7, '${VIP}', () => s.write('x'));
    s.once('data', () => {
      const out = execFileSync('ss', ['-tin', 'dst', '${VIP}']).toString();
      console.log((/wscale:(\\d+),/.exec(out) || [])[1] ?? 'none');
      s.destroy();
    });`;
  const r = await nsExec(findNode(lab, 'client').netns, [process.execPath, '-e', script], { timeoutMs: 20_000 });
  const n = Number(r.stdout.trim());
  return Number.isInteger(n) ? n : undefined;
}

t.test('the config\'s tcp.rcvBuf sets the window the primary offers (its window scale)', rootOnly(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-lab-tcp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await withLab({ clients: 1 }, async (lab) => {
    const small = join(dir, 'small.json');
    writeFileSync(small, JSON.stringify({ ...JSON.parse(readFileSync(lab.configs.primary, 'utf8')), tcp: { rcvBuf: 256 * 1024, sndBuf: 256 * 1024 } }));
    for (const [label, config, rcvBuf] of [['default', lab.configs.primary, DEFAULT_TCP_BUFFERS.rcvBuf], ['256 KiB', small, 256 * 1024]] as const) {
      const echo = await startPrimary(lab, 'echo', [], config);
      try {
        t.equal(await offeredWindowScale(lab), wscaleFor(rcvBuf), `${label}: rcvBuf ${rcvBuf} offers window scale ${wscaleFor(rcvBuf)}`);
      } finally {
        t.equal(await echo.stop(), 0, 'exits 0 on SIGTERM');
      }
    }
  });
});

t.test('a backup configured but not running: the primary serves unprotected and says why', rootOnly(), async (t) => {
  await withLab({ clients: 1 }, async (lab) => {
    const p = await startPrimary(lab, 'echo', ['--backup-wait', '300'], lab.configs.primary, false);
    try {
      t.match(p.output(), /serving echo on 192\.0\.2\.100:7 \(unprotected: backup not reachable\)/);
      t.match(p.output(), /NO BACKUP: serving UNPROTECTED/);
      t.match(p.output(), /backup not reachable at start \(last attempt: replication link to 198\.51\.100\.2:7400: ECONNREFUSED\)/, 'the reason names the link and its error');
    } finally {
      t.equal(await p.stop(), 0, 'exits 0 on SIGTERM');
    }
  });
});

t.test('a backup running another app refuses the primary, which serves unprotected and says why', rootOnly(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-lab-app-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await withLab({ clients: 1 }, async (lab) => {
    const backup = await startIntactBackup(lab, { app: 'kv' }, dir, 'backup.log');
    try {
      const p = await startPrimary(lab, 'echo', ['--backup-wait', '300'], lab.configs.primary, false);
      try {
        t.match(p.output(), /serving echo on .* \(unprotected: backup not reachable\)/);
        t.match(p.output(), /last attempt: the backup refused us: app-mismatch: the primary serves \\"echo\\", this backup runs \\"kv\\"/);
      } finally {
        t.equal(await p.stop(), 0, 'exits 0 on SIGTERM');
      }
      t.match(readFileSync(join(dir, 'backup.log'), 'utf8'), /replication peer refused/, 'the backup logs the refusal');
    } finally {
      await backup.stop();
    }
  });
});
