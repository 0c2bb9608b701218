// Node's own http server, unchanged, over IntactSockets (fake engine); Node's http
// client on the peer's side of each connection.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../../primary/server.js';
import { serveApp } from '../../primary/app.js';
import { httpApp } from '../../primary/apps/http.js';
import { FakeRuntime, peerStream, type FakeListener } from './fake-engine.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(l: FakeListener, opts: { method?: string; path?: string; body?: Buffer; sendCapacity?: number }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const conn = l.connect({ sendCapacity: opts.sendCapacity });
    const req = http.request(
      {
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        host: '192.0.2.100',
        // No agent: then http uses createConnection (agent:false would dial for real).
        createConnection: () => peerStream(conn) as never,
        headers: opts.body ? { 'Content-Length': opts.body.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

t.test('Node http.createServer fed with connection events serves a GET', async (t) => {
  const runtime = new FakeRuntime();
  const h = http.createServer((req, res) => {
    res.end(`hello ${req.socket.remoteAddress} ${req.url}`);
  });
  const server = createServer({ runtime }, (s) => h.emit('connection', s)).listen(80);
  t.teardown(() => server.close());
  const r = await request(runtime.listeners.get(80)!, { path: '/x' });
  t.equal(r.status, 200);
  t.equal(r.body.toString(), 'hello 192.0.2.10 /x');
});

t.test('Node http server reads a PUT body through the socket', async (t) => {
  const runtime = new FakeRuntime();
  const h = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (b: Buffer) => (n += b.length));
    req.on('end', () => res.end(String(n)));
  });
  createServer({ runtime }, (s) => h.emit('connection', s)).listen(80);
  const body = randomBytes(300_000);
  const r = await request(runtime.listeners.get(80)!, { method: 'PUT', path: '/', body });
  t.equal(r.body.toString(), '300000');
});

t.test('http app', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'intact-http-'));
  const outside = mkdtempSync(join(tmpdir(), 'intact-outside-'));
  t.teardown(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  const big = randomBytes(3 * 1024 * 1024 + 17);
  writeFileSync(join(root, 'big.bin'), big);
  writeFileSync(join(root, 'small.txt'), 'small\n');
  mkdirSync(join(root, 'dir'));
  writeFileSync(join(outside, 'secret'), 'secret\n');
  symlinkSync(join(outside, 'secret'), join(root, 'link'));

  const runtime = new FakeRuntime();
  const served = await serveApp(httpApp, { runtime, options: { root } });
  t.teardown(() => served.close());
  const l = runtime.listeners.get(80)!;

  t.test('GET a file: 200, Content-Length, exact bytes, through a small send buffer', async (t) => {
    const r = await request(l, { path: '/big.bin', sendCapacity: 64 * 1024 });
    t.equal(r.status, 200);
    t.equal(r.headers['content-length'], String(big.length));
    t.equal(createHash('sha256').update(r.body).digest('hex'), createHash('sha256').update(big).digest('hex'));
  });

  t.test('GET a missing file: 404', async (t) => {
    const r = await request(l, { path: '/nope' });
    t.equal(r.status, 404);
  });

  t.test('GET a directory: 404', async (t) => {
    t.equal((await request(l, { path: '/dir' })).status, 404);
  });

  t.test('no path traversal: .., encoded .., and symlinks out of root are 404', async (t) => {
    t.equal((await request(l, { path: '/../' + outside.split('/').pop() + '/secret' })).status, 404);
    t.equal((await request(l, { path: '/%2e%2e/%2e%2e/etc/passwd' })).status, 404);
    t.equal((await request(l, { path: '/link' })).status, 404);
    t.equal((await request(l, { path: '/small.txt%00' })).status, 404);
  });

  t.test('HEAD: headers only', async (t) => {
    const r = await request(l, { method: 'HEAD', path: '/small.txt' });
    t.equal(r.status, 200);
    t.equal(r.headers['content-length'], '6');
    t.equal(r.body.length, 0);
  });

  t.test('PUT /sha256 answers length and sha256 of the body', async (t) => {
    const body = randomBytes(1_000_003);
    const r = await request(l, { method: 'PUT', path: '/sha256', body });
    t.equal(r.status, 200);
    t.same(JSON.parse(r.body.toString()), { length: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  });

  t.test('other methods: 405', async (t) => {
    t.equal((await request(l, { method: 'DELETE', path: '/small.txt' })).status, 405);
  });
  t.end();
});

t.test('http app without root: GET is 404', async (t) => {
  const runtime = new FakeRuntime();
  const served = await serveApp(httpApp, { runtime, port: 8080 });
  t.teardown(() => served.close());
  t.equal((await request(runtime.listeners.get(8080)!, { path: '/etc/passwd' })).status, 404);
});
