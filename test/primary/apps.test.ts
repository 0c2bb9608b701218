// The built-in apps and the app loader, over the fake engine.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { BUILTIN_APPS, loadApp, parseAppOptPairs, serveApp } from '../../primary/app.js';
import { seededSha256 } from '../../shared/stream.js';
import { FakeRuntime, peerStream, type FakeConnection } from './fake-engine.js';

/** Connect, send `input` then FIN (unless keepOpen), collect everything until the app's FIN. */
async function exchange(conn: FakeConnection, input: Buffer, opts: { halfClose?: boolean } = {}): Promise<Buffer> {
  const peer = peerStream(conn);
  const got: Buffer[] = [];
  peer.on('data', (b: Buffer) => got.push(b));
  peer.write(input);
  if (opts.halfClose ?? true) peer.end();
  await once(peer, 'end');
  return Buffer.concat(got);
}

t.test('loadApp knows the built-ins by name', async (t) => {
  t.same([...BUILTIN_APPS].sort(), ['echo', 'http', 'kv', 'sink', 'source']);
  for (const name of BUILTIN_APPS) t.equal((await loadApp(name)).name, name);
  t.equal((await loadApp('echo')).defaultPort, 7);
  t.equal((await loadApp('sink')).defaultPort, 9);
  t.equal((await loadApp('source')).defaultPort, 19);
  t.equal((await loadApp('http')).defaultPort, 80);
});

t.test('loadApp: an unknown name is ERR_INTACT_APP and lists the built-ins', async (t) => {
  await t.rejects(loadApp('nosuch'), { code: 'ERR_INTACT_APP', message: /echo, sink, source, http/ });
});

t.test('loadApp loads a module path; a module without an app is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-app-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'good.mjs'), "export default { name: 'mine', defaultPort: 1234, create() { return { connection(s) { s.end('hi') } } } }\n");
  writeFileSync(join(dir, 'bad.mjs'), 'export const x = 1;\n');
  const app = await loadApp(join(dir, 'good.mjs'));
  t.equal(app.name, 'mine');
  t.equal(app.defaultPort, 1234);
  await t.rejects(loadApp(join(dir, 'bad.mjs')), { code: 'ERR_INTACT_APP' });
  await t.rejects(loadApp(join(dir, 'missing.mjs')), { code: 'ERR_INTACT_APP' });
});

t.test('--app-opt pairs: key=value, value may contain =', async (t) => {
  t.same(parseAppOptPairs(['bytes=10', 'x=a=b']), { bytes: '10', x: 'a=b' });
  t.throws(() => parseAppOptPairs(['novalue']), { code: 'ERR_INTACT_APP_OPTION' });
  t.throws(() => parseAppOptPairs(['=v']), { code: 'ERR_INTACT_APP_OPTION' });
});

t.test('bad app options are ERR_INTACT_APP_OPTION naming the app and the option', async (t) => {
  const runtime = new FakeRuntime();
  await t.rejects(serveApp(await loadApp('source'), { runtime, options: { bytes: 'many' } }), {
    code: 'ERR_INTACT_APP_OPTION',
    message: /source: bytes:/,
  });
  await t.rejects(serveApp(await loadApp('source'), { runtime, options: { seed: '-1' } }), { message: /seed/ });
  await t.rejects(serveApp(await loadApp('echo'), { runtime, options: { colour: 'red' } }), {
    code: 'ERR_INTACT_APP_OPTION',
    message: /unknown option.*colour/,
  });
});

t.test('echo writes back what it reads, then closes after the client FIN', async (t) => {
  const runtime = new FakeRuntime();
  const served = await serveApp(await loadApp('echo'), { runtime });
  t.teardown(() => served.close());
  const input = randomBytes(500_000);
  const conn = runtime.listeners.get(7)!.connect({ sendCapacity: 32 * 1024 });
  const out = await exchange(conn, input);
  t.ok(out.equals(input));
  t.equal(conn.finSent, true);
});

t.test('sink replies "<bytes> <sha256>" after the client half-closes', async (t) => {
  const runtime = new FakeRuntime();
  const served = await serveApp(await loadApp('sink'), { runtime });
  t.teardown(() => served.close());
  const input = randomBytes(1_234_567);
  const out = await exchange(runtime.listeners.get(9)!.connect(), input);
  t.equal(out.toString(), `${input.length} ${createHash('sha256').update(input).digest('hex')}\n`);
});

t.test('sink: an empty stream is "0 <sha256 of nothing>"', async (t) => {
  const runtime = new FakeRuntime();
  const served = await serveApp(await loadApp('sink'), { runtime, port: 9999 });
  t.teardown(() => served.close());
  const out = await exchange(runtime.listeners.get(9999)!.connect(), Buffer.alloc(0));
  t.equal(out.toString(), `0 ${createHash('sha256').digest('hex')}\n`);
});

t.test('source sends the seeded stream, then closes, even if the client half-closed first', async (t) => {
  const runtime = new FakeRuntime();
  const served = await serveApp(await loadApp('source'), { runtime, options: { bytes: '3000001', seed: '42' } });
  t.teardown(() => served.close());
  const conn = runtime.listeners.get(19)!.connect({ sendCapacity: 100_000 });
  const out = await exchange(conn, Buffer.from('ignored'));
  t.equal(out.length, 3000001);
  t.equal(createHash('sha256').update(out).digest('hex'), seededSha256(42, 3000001));
});

t.test('served app close(): listener closed, open sockets destroyed', async (t) => {
  const runtime = new FakeRuntime();
  const served = await serveApp(await loadApp('echo'), { runtime });
  const conn = runtime.listeners.get(7)!.connect();
  await served.close();
  t.equal(runtime.listeners.get(7)!.closed, true);
  t.equal(conn.finSent || conn.reset, true);
});
