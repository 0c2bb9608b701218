// The whole primary path without root: runtime (real engine + VipHost) on one end of
// an in-memory link, a minimal wire client (wire-peer.ts) on the other.
import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { memoryLinkPair } from '../../shared/memory-link.js';
import { openRuntime, type Runtime } from '../../primary/runtime.js';
import { loadApp, serveApp } from '../../primary/app.js';
import { createServer } from '../../primary/server.js';
import { seededSha256 } from '../../shared/stream.js';
import { WirePeer, type PeerConn } from './wire-peer.js';

function setup(t: Test): { runtime: Runtime; peer: WirePeer } {
  const [a, b] = memoryLinkPair();
  const runtime = openRuntime({ link: a, vip: '192.0.2.100', announce: false });
  const peer = new WirePeer(b, { ip: '192.0.2.10', vip: '192.0.2.100', vipMac: a.mac });
  t.teardown(async () => {
    await runtime.close();
    b.close();
  });
  return { runtime, peer };
}

async function exchange(c: PeerConn, input: Buffer, halfClose = true): Promise<Buffer> {
  const got: Buffer[] = [];
  c.on('data', (b: Buffer) => got.push(b));
  c.write(input);
  if (halfClose) c.end();
  await once(c, 'end');
  return Buffer.concat(got);
}

t.test('echo end to end through the engine', async (t) => {
  const { runtime, peer } = setup(t);
  const served = await serveApp(await loadApp('echo'), { runtime });
  t.teardown(() => served.close());
  const c = peer.connect(7);
  const input = randomBytes(2_000_000);
  const out = await exchange(c, input);
  t.ok(out.equals(input), 'every byte back, in order');
  t.equal(peer.resetsIn, 0);
});

t.test('sink end to end: receipt after the half-close', async (t) => {
  const { runtime, peer } = setup(t);
  const served = await serveApp(await loadApp('sink'), { runtime });
  t.teardown(() => served.close());
  const input = randomBytes(3_000_000);
  const out = await exchange(peer.connect(9), input);
  t.equal(out.toString(), `${input.length} ${createHash('sha256').update(input).digest('hex')}\n`);
});

t.test('source end to end', async (t) => {
  const { runtime, peer } = setup(t);
  const served = await serveApp(await loadApp('source'), { runtime, options: { bytes: '5000000', seed: '3' } });
  t.teardown(() => served.close());
  const out = await exchange(peer.connect(19), Buffer.alloc(0), false);
  t.equal(out.length, 5_000_000);
  t.equal(createHash('sha256').update(out).digest('hex'), seededSha256(3, 5_000_000));
});

t.test('Node http server through the engine: GET and PUT', async (t) => {
  const { runtime, peer } = setup(t);
  const h = http.createServer((req, res) => {
    const hash = createHash('sha256');
    req.on('data', (b: Buffer) => hash.update(b));
    req.on('end', () => res.end(`${req.method} ${req.url} ${hash.digest('hex')}`));
  });
  const server = createServer({ runtime }, (s) => h.emit('connection', s)).listen(80);
  t.teardown(() => new Promise((r) => server.close(r)));
  const get = (method: string, body?: Buffer) =>
    new Promise<string>((resolve, reject) => {
      const req = http.request(
        { method, path: '/p', createConnection: () => peer.connect(80) as never, headers: body ? { 'Content-Length': body.length } : {} },
        (res) => {
          let s = '';
          res.on('data', (b: Buffer) => (s += b.toString()));
          res.on('end', () => resolve(s));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  t.equal(await get('GET'), `GET /p ${createHash('sha256').digest('hex')}`);
  const body = randomBytes(700_000);
  t.equal(await get('PUT', body), `PUT /p ${createHash('sha256').update(body).digest('hex')}`);
});

t.test('a slow reader closes the window; reading resumes the transfer', async (t) => {
  const { runtime, peer } = setup(t);
  let socket: import('../../primary/socket.js').IntactSocket | undefined;
  const server = createServer({ runtime, allowHalfOpen: true }, (s) => {
    socket = s;
    s.pause();
  }).listen(5000);
  t.teardown(() => new Promise((r) => server.close(r)));
  const c = peer.connect(5000);
  await c.connected();
  const input = randomBytes(4 * 1024 * 1024);
  c.write(input);
  c.end();
  // Let the wire settle with the app not reading: the engine's buffer fills, the window closes.
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  const conn = socket!.connection!;
  t.ok(conn.recvQueued() > 0, 'bytes wait in the engine');
  t.ok(conn.recvQueued() < input.length, 'not all of them: the window closed');
  const got: Buffer[] = [];
  socket!.on('data', (b: Buffer) => got.push(b));
  socket!.resume();
  await once(socket!, 'end');
  t.ok(Buffer.concat(got).equals(input));
  socket!.end();
});

t.test('RST from the peer reaches the app as ECONNRESET', async (t) => {
  const { runtime, peer } = setup(t);
  const errors: NodeJS.ErrnoException[] = [];
  const closed = new Promise<void>((resolve) => {
    const server = createServer({ runtime }, (s) => {
      s.on('error', (e) => errors.push(e));
      s.on('close', () => resolve());
    }).listen(6000);
    t.teardown(() => new Promise((r) => server.close(r)));
  });
  const c = peer.connect(6000);
  await c.connected();
  await new Promise((r) => setImmediate(r));
  c.on('error', () => {});
  c.destroy(new Error('abort'));
  await closed;
  t.equal(errors[0]?.code, 'ECONNRESET');
});
