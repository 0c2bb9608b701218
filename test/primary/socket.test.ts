// IntactSocket over a fake engine connection: the Duplex contract of net.Socket.
import t from 'tap';
import { once } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';
import { IntactSocket } from '../../primary/socket.js';
import { FakeConnection, ManualTimers } from './fake-engine.js';

function pair(opts: { sendCapacity?: number; allowHalfOpen?: boolean; timers?: ManualTimers } = {}) {
  const conn = new FakeConnection({ sendCapacity: opts.sendCapacity });
  const socket = new IntactSocket(conn, { allowHalfOpen: opts.allowHalfOpen, timers: opts.timers });
  return { conn, socket };
}

t.test('addresses come from the connection, as net.Socket shows them', async (t) => {
  const { socket } = pair();
  t.equal(socket.remoteAddress, '192.0.2.10');
  t.equal(socket.remoteFamily, 'IPv4');
  t.equal(socket.localAddress, '192.0.2.100');
  t.equal(socket.localPort, 7);
  t.same(socket.address(), { address: '192.0.2.100', family: 'IPv4', port: 7 });
  t.equal(socket.readyState, 'open');
});

t.test('bytes from the peer arrive as data and count in bytesRead', async (t) => {
  const { conn, socket } = pair();
  const got: Buffer[] = [];
  socket.on('data', (b: Buffer) => got.push(b));
  conn.deliver('hello ');
  conn.deliver('world');
  await tick();
  t.equal(Buffer.concat(got).toString(), 'hello world');
  t.equal(socket.bytesRead, 11);
});

t.test('writes reach the engine and count in bytesWritten', async (t) => {
  const { conn, socket } = pair();
  await new Promise<void>((resolve, reject) => socket.write('abc', (e) => (e ? reject(e) : resolve())));
  socket.write(Buffer.from('def'));
  await tick();
  t.equal(conn.sentBytes().toString(), 'abcdef');
  t.equal(socket.bytesWritten, 6);
});

t.test('a reader that does not read leaves the bytes in the engine (window closes)', async (t) => {
  const { conn, socket } = pair();
  conn.deliver('queued');
  await tick();
  t.equal(conn.recvQueued(), 6, 'nothing pulled before the app reads');
  const got = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
  t.equal(got.toString(), 'queued');
  t.equal(conn.recvQueued(), 0);
});

t.test('push() returning false stops recv until _read asks again', async (t) => {
  const conn = new FakeConnection();
  const socket = new IntactSocket(conn, { readableHighWaterMark: 4 });
  socket.pause();
  socket.read(0); // ask once, like a consumer that then stalls
  conn.deliver('0123456789');
  await tick();
  t.equal(conn.recvQueued(), 0, 'first pull takes what was there');
  conn.deliver('more');
  await tick();
  t.equal(conn.recvQueued(), 4, 'buffer over the mark: the engine keeps the rest');
  const all: Buffer[] = [];
  socket.on('data', (b: Buffer) => all.push(b));
  socket.resume();
  await tick();
  t.equal(Buffer.concat(all).toString(), '0123456789more');
  t.equal(conn.recvQueued(), 0);
});

t.test('a write beyond sendFree completes only after writable()', async (t) => {
  const { conn, socket } = pair({ sendCapacity: 4 });
  let done = false;
  socket.write('0123456789', () => (done = true));
  await tick();
  t.equal(conn.sentBytes().toString(), '0123');
  t.equal(done, false, 'waiting for send space');
  conn.ack(4);
  await tick();
  t.equal(conn.sentBytes().toString(), '01234567');
  t.equal(done, false);
  conn.ack(4);
  await tick();
  t.equal(conn.sentBytes().toString(), '0123456789');
  t.equal(done, true);
  t.equal(socket.bytesWritten, 10);
});

t.test('write() returns false over the high-water mark and drain follows', async (t) => {
  const conn = new FakeConnection({ sendCapacity: 0 });
  const socket = new IntactSocket(conn, { writableHighWaterMark: 8 });
  t.equal(socket.write(Buffer.alloc(16)), false);
  let drained = false;
  socket.once('drain', () => (drained = true));
  conn.sendCapacity = 1 << 20;
  conn.ack(0);
  (conn.handler as { writable(): void }).writable();
  await tick();
  t.equal(drained, true);
  t.equal(conn.sentBytes().length, 16);
});

t.test('peer FIN: end event, then our FIN (allowHalfOpen false)', async (t) => {
  const { conn, socket } = pair();
  const closed = once(socket, 'close');
  socket.resume();
  conn.deliver('x');
  conn.deliverFin();
  await once(socket, 'end');
  await closed;
  t.equal(conn.finSent, true, 'auto end after peer FIN');
  t.equal(conn.reset, false);
});

t.test('allowHalfOpen keeps our side writable after the peer FIN', async (t) => {
  const { conn, socket } = pair({ allowHalfOpen: true });
  socket.resume();
  conn.deliverFin();
  await once(socket, 'end');
  await tick();
  t.equal(conn.finSent, false);
  t.equal(socket.readyState, 'writeOnly');
  const closed = once(socket, 'close');
  socket.end('bye');
  await closed;
  t.equal(conn.sentBytes().toString(), 'bye');
  t.equal(conn.finSent, true);
});

t.test('end() sends FIN after the queued bytes', async (t) => {
  const { conn, socket } = pair({ sendCapacity: 2 });
  socket.end('abcd');
  await tick();
  t.equal(conn.finSent, false, 'FIN waits for the data');
  conn.ack();
  await once(socket, 'finish');
  t.equal(conn.sentBytes().toString(), 'abcd');
  t.equal(conn.finSent, true);
});

t.test('destroy() with nothing unread closes gracefully (FIN)', async (t) => {
  const { conn, socket } = pair();
  socket.destroy();
  await once(socket, 'close');
  t.equal(conn.finSent, true);
  t.equal(conn.reset, false);
});

t.test('destroy() with unread bytes in the engine resets, as the kernel does', async (t) => {
  const { conn, socket } = pair();
  conn.deliver('unread');
  socket.destroy();
  await once(socket, 'close');
  t.equal(conn.reset, true);
});

t.test('resetAndDestroy() sends RST', async (t) => {
  const { conn, socket } = pair();
  socket.resetAndDestroy();
  await once(socket, 'close');
  t.equal(conn.reset, true);
});

t.test('data arriving after destroy() is answered with a reset', async (t) => {
  const { conn, socket } = pair();
  socket.destroy();
  await once(socket, 'close');
  t.equal(conn.reset, false);
  conn.deliver('late');
  t.equal(conn.reset, true);
});

t.test('RST from the peer: error ECONNRESET, then close', async (t) => {
  const { conn, socket } = pair();
  const errP = once(socket, 'error');
  const closed = new Promise((resolve) => socket.once('close', resolve));
  conn.peerReset();
  const [err] = (await errP) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNRESET');
  t.equal(err.errno, -104);
  t.equal(err.syscall, 'read');
  t.ok(err instanceof Error);
  await closed;
  t.equal(socket.destroyed, true);
});

t.test('ETIMEDOUT from the engine surfaces with its code', async (t) => {
  const { conn, socket } = pair();
  const errP = once(socket, 'error');
  conn.handler!.closed(Object.assign(new Error('retransmission timeout'), { code: 'ETIMEDOUT' }));
  const [err] = (await errP) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ETIMEDOUT');
  t.equal(err.errno, -110);
});

t.test('a pending write fails when the peer resets', async (t) => {
  const { conn, socket } = pair({ sendCapacity: 1 });
  socket.on('error', () => {});
  const writeErr = new Promise<Error | null | undefined>((resolve) => socket.write('abc', resolve));
  await tick();
  conn.peerReset();
  const err = await writeErr;
  t.equal((err as NodeJS.ErrnoException | undefined)?.code, 'ECONNRESET');
});

t.test('a clean engine close hands over the bytes still queued, then EOF', async (t) => {
  const { conn, socket } = pair({ allowHalfOpen: true });
  conn.rcvQueue.push(Buffer.from('tail'));
  conn.deliverFin();
  conn.finish();
  const got: Buffer[] = [];
  socket.on('data', (b: Buffer) => got.push(b));
  await once(socket, 'end');
  t.equal(Buffer.concat(got).toString(), 'tail');
});

t.test('setNoDelay and setKeepAlive reach the engine', async (t) => {
  const { conn, socket } = pair();
  socket.setNoDelay();
  t.equal(conn.noDelay, true);
  socket.setKeepAlive(true, 5000);
  t.same(conn.keepAlive, [true, 5000]);
  socket.setKeepAlive(true);
  t.same(conn.keepAlive, [true, undefined], '0 keeps the engine default');
});

t.test('setTimeout: timeout after idle time, once, and the socket stays open', async (t) => {
  const timers = new ManualTimers();
  const { socket } = pair({ timers });
  let fired = 0;
  socket.setTimeout(1000, () => fired++);
  socket.on('timeout', () => {});
  timers.advance(999);
  t.equal(fired, 0);
  timers.advance(1);
  t.equal(fired, 1);
  timers.advance(5000);
  t.equal(fired, 1, 'no repeat without activity');
  t.equal(socket.destroyed, false);
});

t.test('setTimeout: activity postpones the timeout', async (t) => {
  const timers = new ManualTimers();
  const { conn, socket } = pair({ timers });
  let fired = 0;
  socket.on('timeout', () => fired++);
  socket.setTimeout(1000);
  socket.resume();
  timers.advance(600);
  conn.deliver('ping');
  await tick();
  timers.advance(600);
  t.equal(fired, 0, 'reading reset the idle time');
  timers.advance(400);
  t.equal(fired, 1);
  conn.deliver('again');
  await tick();
  timers.advance(1000);
  t.equal(fired, 2, 'activity after a timeout re-arms it');
});

t.test('setTimeout(0) turns the timer off', async (t) => {
  const timers = new ManualTimers();
  const { socket } = pair({ timers });
  const cb = () => t.fail('must not fire');
  socket.setTimeout(100, cb);
  socket.setTimeout(0, cb);
  timers.advance(1000);
  t.equal(timers.pending(), 0);
  t.equal(socket.listenerCount('timeout'), 0);
});

t.test('destroy clears the idle timer', async (t) => {
  const timers = new ManualTimers();
  const { socket } = pair({ timers });
  socket.setTimeout(100);
  socket.destroy();
  await once(socket, 'close');
  t.equal(timers.pending(), 0);
});

t.test('write after the engine closed fails with EPIPE', async (t) => {
  const { conn, socket } = pair({ allowHalfOpen: true });
  socket.resume();
  conn.deliverFin();
  conn.finish();
  await once(socket, 'end');
  const errs: NodeJS.ErrnoException[] = [];
  socket.on('error', (e) => errs.push(e));
  await new Promise<void>((resolve) => socket.write('x', () => resolve()));
  t.equal(conn.sentBytes().length, 0);
  t.ok(errs.length === 0 || errs[0]!.code === 'EPIPE' || errs[0]!.code === 'ERR_STREAM_DESTROYED');
});
