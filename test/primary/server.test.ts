// IntactServer over a fake runtime: net.Server's listen/close/address/events.
import t from 'tap';
import { once } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';
import { createServer } from '../../primary/server.js';
import type { IntactSocket } from '../../primary/socket.js';
import { FakeRuntime } from './fake-engine.js';

t.test('createServer without a runtime is a TypeError', async (t) => {
  t.throws(() => createServer({} as never), TypeError);
});

t.test('listen(port, cb): listening event, address() on the VIP', async (t) => {
  const runtime = new FakeRuntime();
  const server = createServer({ runtime });
  let cbCalled = false;
  server.listen(7, () => (cbCalled = true));
  t.equal(server.listening, true);
  await once(server, 'listening');
  t.equal(cbCalled, true);
  t.same(server.address(), { address: '192.0.2.100', family: 'IPv4', port: 7 });
});

t.test('listen({ port, backlog }) and listen(0) pick a port', async (t) => {
  const runtime = new FakeRuntime();
  const a = createServer({ runtime }).listen({ port: 80, backlog: 10 });
  const b = createServer({ runtime }).listen(0);
  await once(b, 'listening');
  t.equal(a.address()?.port, 80);
  t.ok(b.address()!.port >= 49152);
});

t.test('a taken port emits EADDRINUSE', async (t) => {
  const runtime = new FakeRuntime();
  createServer({ runtime }).listen(9);
  const s = createServer({ runtime }).listen(9);
  const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'EADDRINUSE');
  t.equal(s.listening, false);
});

t.test('a host other than the VIP emits EADDRNOTAVAIL', async (t) => {
  const s = createServer({ runtime: new FakeRuntime() }).listen(9, '10.0.0.1');
  const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'EADDRNOTAVAIL');
});

t.test('each accepted engine connection is a connection event with an IntactSocket', async (t) => {
  const runtime = new FakeRuntime();
  const seen: IntactSocket[] = [];
  const server = createServer({ runtime }, (s) => seen.push(s)).listen(7);
  const conn = runtime.listeners.get(7)!.connect();
  t.equal(seen.length, 1);
  t.equal(seen[0]!.remotePort, conn.remotePort);
  const n = await new Promise<number>((resolve) => server.getConnections((_e, c) => resolve(c)));
  t.equal(n, 1);
});

t.test('noDelay and keepAlive options apply to accepted sockets', async (t) => {
  const runtime = new FakeRuntime();
  createServer({ runtime, noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000 }).listen(7);
  const conn = runtime.listeners.get(7)!.connect();
  t.equal(conn.noDelay, true);
  t.same(conn.keepAlive, [true, 1000]);
});

t.test('maxConnections: the extra connection is reset and drop emitted', async (t) => {
  const runtime = new FakeRuntime();
  const server = createServer({ runtime }).listen(7);
  server.maxConnections = 1;
  const drops: unknown[] = [];
  server.on('drop', (d) => drops.push(d));
  const l = runtime.listeners.get(7)!;
  const first = l.connect();
  const second = l.connect();
  t.equal(first.reset, false);
  t.equal(second.reset, true);
  t.equal(drops.length, 1);
});

t.test('close(): stops the listener; close event after the last socket closes', async (t) => {
  const runtime = new FakeRuntime();
  let socket: IntactSocket | undefined;
  const server = createServer({ runtime }, (s) => (socket = s)).listen(7);
  const l = runtime.listeners.get(7)!;
  l.connect();
  let closed = false;
  server.close(() => (closed = true));
  t.equal(l.closed, true);
  t.equal(server.listening, false);
  t.equal(server.address(), null);
  await tick();
  t.equal(closed, false, 'a connection is still open');
  socket!.destroy();
  await once(server, 'close');
  t.equal(closed, true);
});

t.test('close() on a server that is not listening: cb gets ERR_SERVER_NOT_RUNNING', async (t) => {
  const server = createServer({ runtime: new FakeRuntime() });
  const err = await new Promise<Error | undefined>((resolve) => server.close(resolve));
  t.equal((err as NodeJS.ErrnoException).code, 'ERR_SERVER_NOT_RUNNING');
});

t.test('listen twice without close throws ERR_SERVER_ALREADY_LISTEN', async (t) => {
  const server = createServer({ runtime: new FakeRuntime() }).listen(7);
  t.throws(() => server.listen(8), { code: 'ERR_SERVER_ALREADY_LISTEN' });
});

t.test('a server can listen again after close', async (t) => {
  const runtime = new FakeRuntime();
  const server = createServer({ runtime }).listen(7);
  await new Promise((r) => server.close(r));
  server.listen(7);
  await once(server, 'listening');
  t.equal(server.address()?.port, 7);
});
