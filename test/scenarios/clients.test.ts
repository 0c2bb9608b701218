// The scenario clients against the kernel reference server, across a real lab (client
// namespace → bridge → primary namespace's kernel on 192.0.2.1): each prints one JSON
// line whose byte counts and sha256 match what the seeded stream says they must be.
// Root only; the lab has a unique prefix and is removed on every path.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsPidsSync } from '../../lab/netns.js';
import { findNode } from '../../lab/plan.js';
import { withLab } from '../../lab/topology.js';
import { KERNEL_ADDRESS, runScenarioClient, startIntactPrimary, startKernelServer } from '../../scenarios/lib/programs.js';
import { isIntactError } from '../../shared/errors.js';
import { seededSha256 } from '../../shared/stream.js';
import { rootOnly } from '../helpers/root.js';

const BYTES = 5_000_003; // not a multiple of any chunk or word size
const SEED = 7;

t.test('clients against the kernel reference server', rootOnly(), async (t) => {
  const logDir = mkdtempSync(join(tmpdir(), 'intact-clients-'));
  t.teardown(() => rmSync(logDir, { recursive: true, force: true }));
  await withLab({}, async (lab) => {
    const primaryNs = findNode(lab, 'primary').netns;
    const opts = { timeoutMs: 60_000, logDir };

    t.test('bulk-send to the sink: the receipt matches what was sent', async (t) => {
      const srv = await startKernelServer(lab, 'sink', {}, logDir);
      t.teardown(() => srv.stop());
      const r = await runScenarioClient(lab, 'bulk-send', ['--host', KERNEL_ADDRESS, '--port', '9', '--bytes', String(BYTES), '--seed', String(SEED)], opts);
      t.equal(r.client, 'bulk-send');
      t.equal(r.ok, true, JSON.stringify(r));
      t.equal(r.verified, true);
      t.equal(r.bytes, BYTES);
      t.equal(r.sha256, seededSha256(SEED, BYTES));
      t.same(r.reply, { bytes: BYTES, sha256: seededSha256(SEED, BYTES) });
      t.ok((r.gbps as number) > 0 && (r.seconds as number) > 0);
    });

    t.test('bulk-recv from the source: bytes and sha256 of the seeded stream', async (t) => {
      const srv = await startKernelServer(lab, 'source', { bytes: BYTES, seed: SEED }, logDir);
      t.teardown(() => srv.stop());
      const r = await runScenarioClient(lab, 'bulk-recv', ['--host', KERNEL_ADDRESS, '--port', '19', '--bytes', String(BYTES), '--seed', String(SEED)], opts);
      t.equal(r.ok, true, JSON.stringify(r));
      t.equal(r.bytes, BYTES);
      t.equal(r.sha256, seededSha256(SEED, BYTES));
      t.equal(r.verified, true);
      t.ok((r.firstByteMs as number) <= (r.lastByteMs as number));
      t.ok((r.gbps as number) > 0);
    });

    t.test('bulk-recv notices a transfer that is not what it expected', async (t) => {
      const srv = await startKernelServer(lab, 'source', { bytes: BYTES, seed: SEED + 1 }, logDir);
      t.teardown(() => srv.stop());
      const r = await runScenarioClient(lab, 'bulk-recv', ['--host', KERNEL_ADDRESS, '--port', '19', '--bytes', String(BYTES), '--seed', String(SEED)], opts);
      t.equal(r.ok, false);
      t.equal(r.verified, false);
      t.equal(r.bytes, BYTES, 'all bytes arrived');
      t.not(r.sha256, r.expectedSha256, 'but not the expected ones');
    });

    t.test('rr against echo: every reply checked, latencies summarised', async (t) => {
      const srv = await startKernelServer(lab, 'echo', {}, logDir);
      t.teardown(() => srv.stop());
      const r = await runScenarioClient(lab, 'rr', ['--host', KERNEL_ADDRESS, '--port', '7', '--exchanges', '300', '--request', '1000'], opts);
      t.equal(r.ok, true, JSON.stringify(r));
      t.equal(r.exchanges, 300);
      t.equal(r.warmup, 30);
      t.equal(r.mismatches, 0);
      const { minUs, medianUs, p95Us, maxUs, meanUs } = r as unknown as Record<string, number>;
      t.ok(minUs! > 0 && minUs! <= medianUs! && medianUs! <= p95Us! && p95Us! <= maxUs!, JSON.stringify(r));
      t.ok(meanUs! > 0);
    });

    t.test('rr against the rr responder: replies of another size', async (t) => {
      const srv = await startKernelServer(lab, 'rr', { request: 100, reply: 2500 }, logDir);
      t.teardown(() => srv.stop());
      const r = await runScenarioClient(lab, 'rr', ['--host', KERNEL_ADDRESS, '--port', '7', '--exchanges', '100', '--request', '100', '--reply', '2500'], opts);
      t.equal(r.ok, true, JSON.stringify(r));
      t.equal(r.reply, 2500);
      t.equal(r.mismatches, 0);
    });

    t.test('rr against echo with the wrong reply size fails, not hangs', async (t) => {
      const srv = await startKernelServer(lab, 'rr', { request: 100, reply: 50 }, logDir);
      t.teardown(() => srv.stop());
      const r = await runScenarioClient(
        lab,
        'rr',
        ['--host', KERNEL_ADDRESS, '--port', '7', '--exchanges', '10', '--request', '100', '--reply', '100', '--idle-ms', '1000'],
        opts,
      );
      t.equal(r.ok, false);
      t.match(r.error, /no progress/);
    });

    t.test('a client with nothing to connect to reports the error as JSON', async (t) => {
      const r = await runScenarioClient(lab, 'bulk-recv', ['--host', KERNEL_ADDRESS, '--port', '19', '--bytes', '10'], opts);
      t.equal(r.ok, false);
      t.equal(r.code, 'ECONNREFUSED');
    });

    t.test('an intact primary that cannot start fails fast, saying why', async (t) => {
      // Exited, not timed out: the failure is noticed when it happens.
      const err = await startIntactPrimary(lab, { app: 'no-such-app' }, logDir).catch((e: unknown) => e);
      t.ok(isIntactError(err, 'ERR_INTACT_PROCESS_EXITED'), String(err));
      t.match((err as Error).message, /no-such-app/, 'the reason is in the message');
    });

    await t.test('nothing is left running in the primary namespace', async (t) => {
      t.same(netnsPidsSync(primaryNs), []);
    });
  });
});
