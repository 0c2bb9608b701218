// Node's own http server, unchanged, over IntactSockets (fake engine); Node's http
// client on the peer's side of each connection.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../../primary/server.js';
import { serveApp } from '../../primary/app.js';
import { httpApp } from '../../primary/apps/http.js';
import { CheckpointingRuntime, FakeConnection, FakeRuntime, ManualTimers, peerStream, type FakeListener, type RecordedCheckpoint } from './fake-engine.js';

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

/** A runtime whose connections are protected: it records the app's checkpoints. */
/** This process's open files (Linux). */
function openFiles(): string[] {
  return readdirSync('/proc/self/fd').map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  });
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

t.test('http app downloads: checkpoints, and a restore from each', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'intact-http-cp-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const big = randomBytes(3 * 1024 * 1024 + 17);
  writeFileSync(join(root, 'big.bin'), big);
  writeFileSync(join(root, 'small.txt'), 'small\n');
  const every = 512 * 1024;
  const runtime = new CheckpointingRuntime();
  const served = await serveApp(httpApp, { runtime, options: { root, checkpointBytes: String(every) } });
  t.teardown(() => served.close());
  const l = runtime.listeners.get(80)!;
  const roomy = { sendCapacity: 64 << 20 };

  /** One GET on a new connection; the whole response as queued by the app. */
  async function get(request: string): Promise<{ conn: FakeConnection; response: Buffer; head: number }> {
    const conn = l.connect(roomy);
    conn.deliver(request);
    let head = -1;
    await until('the response', () => {
      const sent = conn.sentBytes();
      head = sent.indexOf('\r\n\r\n') + 4;
      return head > 3 && sent.length >= head + big.length;
    });
    await new Promise((r) => setImmediate(r));
    return { conn, response: conn.sentBytes(), head };
  }

  /** Waits for the whole big.bin response that starts at `from` on `conn`, and one
   *  turn more (a checkpoint is tried on the tick after a write). */
  async function bigResponse(conn: FakeConnection, from: number): Promise<void> {
    await until('the download', () => {
      const sent = conn.sentBytes();
      const head = sent.indexOf('\r\n\r\n', from) + 4;
      return head > 3 && sent.length >= head + big.length;
    });
    await new Promise((r) => setImmediate(r));
  }

  /** A takeover at checkpoint `cp`: a rebuilt connection handed to restore(). */
  function restore(cp: RecordedCheckpoint): FakeConnection {
    const conn = new FakeConnection({ localPort: 80, ...roomy });
    const socket = served.server.adopt(conn, { consumed: cp.consumed, produced: cp.produced, replicatedEnd: cp.produced });
    socket.on('error', () => undefined);
    served.instance.restore!(socket, cp.state);
    return conn;
  }

  t.test('a checkpoint every checkpointBytes of body, input and output exact', async (t) => {
    runtime.checkpoints.length = 0;
    const request = 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n';
    const { response, head } = await get(request);
    t.equal(response.length, head + big.length);
    t.ok(response.subarray(head).equals(big), 'the body is the file');
    const cps = runtime.checkpoints;
    t.equal(cps.length, Math.floor(big.length / every), 'one per checkpointBytes (256 KiB reads)');
    for (const [i, cp] of cps.entries()) {
      t.equal(cp.consumed, request.length, `checkpoint ${i}: consumed is the request, exactly`);
      t.match(cp.state, { v: 1, get: '/big.bin', size: big.length, bodyStart: head, keepAlive: true });
      t.ok(cp.produced - head >= (i + 1) * every, `checkpoint ${i}: at least ${i + 1} × checkpointBytes of body`);
    }
  });

  t.test('a restore at each checkpoint sends exactly the rest, then serves the next request', async (t) => {
    runtime.checkpoints.length = 0;
    const { response } = await get('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    const cps = [...runtime.checkpoints];
    t.ok(cps.length >= 2);
    for (const cp of cps) {
      const conn = restore(cp);
      await until('the rest of the body', () => conn.sentBytes().length >= response.length - cp.produced);
      t.ok(conn.sentBytes().equals(response.subarray(cp.produced)), `from ${cp.produced}: the rest, byte for byte`);
      // Keep-alive: the http server has the connection now.
      conn.deliver('GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n');
      await until('the next reply', () => conn.sentBytes().toString('latin1').endsWith('small\n'));
      t.notOk(conn.finSent || conn.reset);
    }
  });

  t.test('Connection: close: the restored download ends with our FIN', async (t) => {
    runtime.checkpoints.length = 0;
    const { response } = await get('GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const cp = runtime.checkpoints.at(-1)!;
    t.match(cp.state, { keepAlive: false });
    const conn = restore(cp);
    await until('our FIN', () => conn.finSent);
    t.ok(conn.sentBytes().equals(response.subarray(cp.produced)));
    // The client closes its side too: the socket is gone, as on the original path.
    conn.deliverFin();
    conn.finish();
    await until('the socket closed', () => ![...served.server.connections()].some((s) => s.remotePort === conn.remotePort), 2000);
    t.pass('the restored socket left the server');
  });

  t.test('a client that resets while the resume looks for the file: nothing is left open', async (t) => {
    runtime.checkpoints.length = 0;
    await get('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    const conn = restore(runtime.checkpoints[0]!);
    conn.peerReset();
    await new Promise((r) => setTimeout(r, 300));
    t.same(openFiles().filter((f) => f.endsWith('big.bin')), [], 'no descriptor of the file');
    t.equal(conn.sentBytes().length, 0);
  });

  t.test('no checkpoint when the input holds more than the request', async (t) => {
    runtime.checkpoints.length = 0;
    // A pipelined request: the server parsed two.
    const conn = l.connect(roomy);
    conn.deliver('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('both replies', () => conn.sentBytes().toString('latin1').endsWith('small\n'));
    t.equal(runtime.checkpoints.length, 0, 'pipelined');
    // The start of a next request, not yet parsed: the checkpoint would skip it.
    const { conn: c2 } = await (async () => {
      const c = l.connect({ sendCapacity: every });
      c.deliver('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGE');
      return { conn: c };
    })();
    await until('a full send queue', () => c2.sendFree() < 1024);
    for (let i = 0; i < 12; i++) {
      c2.ack();
      await new Promise((r) => setTimeout(r, 5));
    }
    t.ok(c2.sentBytes().length > 4 * every, 'several checkpointBytes of body went out');
    t.equal(runtime.checkpoints.length, 0, 'a partial next request');
  });

  t.test('a later download on a keep-alive connection checkpoints too, and restores exactly', async (t) => {
    runtime.checkpoints.length = 0;
    const conn = l.connect(roomy);
    const r1 = 'GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n';
    conn.deliver(r1);
    await until('the first reply', () => conn.sentBytes().toString('latin1').endsWith('small\n'));
    const first = conn.sentBytes().length;
    const r2 = 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n';
    conn.deliver(r2);
    await bigResponse(conn, first);
    const response = conn.sentBytes();
    const cps = [...runtime.checkpoints];
    t.equal(cps.length, Math.floor(big.length / every));
    for (const cp of cps) t.equal(cp.consumed, r1.length + r2.length, 'consumed: both requests, exactly');
    const cp = cps[1]!;
    const again = restore(cp);
    await until('the rest', () => again.sentBytes().length >= response.length - cp.produced);
    t.ok(again.sentBytes().equals(response.subarray(cp.produced)), 'the rest of the second response, byte for byte');
  });

  t.test('after a body holding a blank line the connection checkpoints no more; after another, it does', async (t) => {
    for (const [body, want] of [['\r\n\r\n\r\n\r\n', 0], ['abcdefgh', Math.floor(big.length / every)]] as const) {
      runtime.checkpoints.length = 0;
      const conn = l.connect(roomy);
      const put = `PUT /sha256 HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      conn.deliver(put);
      await until('the receipt', () => conn.sentBytes().toString('latin1').includes('sha256'));
      const sent = conn.sentBytes().length;
      const get = 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n';
      conn.deliver(get);
      await bigResponse(conn, sent);
      t.equal(runtime.checkpoints.length, want, JSON.stringify(body));
      t.ok(runtime.checkpoints.every((c) => c.consumed === put.length + get.length), 'consumed: both requests, exactly');
    }
  });

  t.test('a restored connection checkpoints its next download', async (t) => {
    runtime.checkpoints.length = 0;
    const { response } = await get('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    const cp = runtime.checkpoints.at(-1)!;
    runtime.checkpoints.length = 0;
    const conn = restore(cp);
    await until('the rest', () => conn.sentBytes().length >= response.length - cp.produced);
    const sent = conn.sentBytes().length;
    const r2 = 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n';
    conn.deliver(r2);
    await bigResponse(conn, sent);
    t.equal(runtime.checkpoints.length, Math.floor(big.length / every));
    t.ok(runtime.checkpoints.every((c) => c.consumed === cp.consumed + r2.length), 'consumed: up to the new request, exactly');
  });

  t.test('a file that changed size: the restore resets the connection', async (t) => {
    runtime.checkpoints.length = 0;
    await get('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    const cp = runtime.checkpoints[0]!;
    const conn = restore({ ...cp, state: { ...(cp.state as object), size: big.length + 1 } });
    await until('the reset', () => conn.reset);
    t.equal(conn.sentBytes().length, 0);
  });

  t.test('a state of another shape is refused', async (t) => {
    const conn = new FakeConnection({ localPort: 80 });
    const socket = served.server.adopt(conn, { consumed: 0, produced: 0, replicatedEnd: 0 });
    t.throws(() => served.instance.restore!(socket, { v: 2 }));
    socket.destroy();
  });
  t.end();
});

t.test('http app: checkpointBytes=0 never checkpoints; a bad value is refused', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'intact-http-cp0-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'big.bin'), randomBytes(2 * 1024 * 1024));
  const runtime = new CheckpointingRuntime();
  const served = await serveApp(httpApp, { runtime, options: { root, checkpointBytes: '0' } });
  t.teardown(() => served.close());
  const r = await request(runtime.listeners.get(80)!, { path: '/big.bin' });
  t.equal(r.body.length, 2 * 1024 * 1024);
  t.equal(runtime.checkpoints.length, 0);
  for (const bad of ['-1', 'lots', '1.5']) {
    await t.rejects(serveApp(httpApp, { runtime: new FakeRuntime(), port: 81, options: { checkpointBytes: bad } }), { code: 'ERR_INTACT_APP_OPTION' }, bad);
  }
});

t.test('http app: an unprotected download offers its checkpoints for resynchronisation', async (t) => {
  // A connection served while the backup was away is taken on by a new backup only at
  // a checkpoint with all output in the engine: at full speed, when the socket drains.
  const root = mkdtempSync(join(tmpdir(), 'intact-http-resync-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const size = 4 * 1024 * 1024;
  writeFileSync(join(root, 'big.bin'), randomBytes(size));
  const every = 512 * 1024;
  const offers: Array<{ consumed: number; produced: number }> = [];
  const runtime = new (class extends FakeRuntime {
    resync(_c: unknown, _state: Buffer, consumed: number, produced: number): boolean {
      offers.push({ consumed, produced });
      return true;
    }
  })();
  const served = await serveApp(httpApp, { runtime, options: { root, checkpointBytes: String(every) } });
  t.teardown(() => served.close());
  const conn = runtime.listeners.get(80)!.connect({ sendCapacity: 200 * 1024 });
  const request = 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n';
  conn.deliver(request);
  let acked = 0;
  await until('the download', () => {
    acked += conn.sendUsed;
    conn.ack();
    return acked >= size;
  });
  t.ok(offers.length >= size / every - 1, `${offers.length} offers`);
  for (const o of offers) t.equal(o.consumed, request.length);
  t.ok(offers.every((o, i) => i === 0 || o.produced - offers[i - 1]!.produced >= every), 'one per checkpointBytes');
});

t.test('http app: a restored keep-alive connection gets the keep-alive timeout until its next request', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'intact-http-idle-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const size = 2 * 1024 * 1024;
  writeFileSync(join(root, 'big.bin'), randomBytes(size));
  writeFileSync(join(root, 'small.txt'), 'small\n');
  const timers = new ManualTimers();
  const runtime = new CheckpointingRuntime();
  const served = await serveApp(httpApp, { runtime, options: { root, checkpointBytes: String(512 * 1024) }, serverOptions: { timers } });
  t.teardown(() => served.close());
  const conn = runtime.listeners.get(80)!.connect({ sendCapacity: 64 << 20 });
  conn.deliver('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('the download', () => conn.sentBytes().length > size);
  await new Promise((r) => setImmediate(r));
  const cp = runtime.checkpoints.at(-1)!;
  const restoreOne = async () => {
    const c = new FakeConnection({ localPort: 80, sendCapacity: 64 << 20 });
    const socket = served.server.adopt(c, { consumed: cp.consumed, produced: cp.produced, replicatedEnd: cp.produced });
    socket.on('error', () => undefined);
    served.instance.restore!(socket, cp.state);
    await until('the rest', () => c.sentBytes().length >= conn.sentBytes().length - cp.produced);
    // The file's end is read after its last bytes: then the server has the connection.
    await until('the hand-over', () => socket.timeout > 0);
    return { c, socket };
  };

  const idle = await restoreOne();
  timers.advance(4_900);
  t.notOk(idle.socket.destroyed, 'idle 4.9 s: still open');
  timers.advance(200);
  t.ok(idle.socket.destroyed, 'idle past the 5 s keep-alive timeout: closed');

  // A next request clears it (as Node clears its own): a download the client stops
  // reading for longer than 5 s stays open (the server has no timeout during a reply).
  const busy = await restoreOne();
  timers.advance(1_000);
  busy.c.sendCapacity = busy.c.sendUsed + 64 * 1024;
  busy.c.deliver('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('a full send queue', () => busy.c.sendFree() === 0);
  timers.advance(20_000);
  t.notOk(busy.socket.destroyed, 'a stalled reply, 20 s idle: still open');
});
