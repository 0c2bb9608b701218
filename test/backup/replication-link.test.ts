// The replication link over real kernel TCP on loopback: handshake, pipelined
// confirmations, refusal of peers without the key or with garbage. No root.
import t, { type Test } from 'tap';
import net from 'node:net';
import { EventEmitter, once } from 'node:events';
import { ReplicationServer } from '../../backup-daemon/replication-server.js';
import { ReplicationChannel } from '../../primary/replication/channel.js';
import { MsgType, type Challenge } from '../../shared/replication/messages.js';
import { FrameDecoder, encode } from '../../shared/replication/codec.js';
import { hello, newNonce } from '../../shared/replication/auth.js';
import { isIntactError } from '../../shared/errors.js';

const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const vip = 0xc0000264;

async function server(t: Test) {
  const s = new ReplicationServer({ host: '127.0.0.1', port: 0, key, vips: [vip], store: { bytesPerConnection: 1 << 20 } });
  await s.listen();
  t.teardown(() => s.close());
  const port = (s as unknown as { server: net.Server }).server.address() as net.AddressInfo;
  return { s, port: port.port };
}

t.test('a primary with the key streams messages and gets them confirmed', async (t) => {
  const { s, port } = await server(t);
  const c = new ReplicationChannel({ host: '127.0.0.1', port, key, vip });
  t.teardown(() => c.close());
  await c.connect();
  c.send({ type: MsgType.Open, conn: 1, localAddr: vip, localPort: 80, remoteAddr: 1, remotePort: 2, iss: 10, irs: 20, mss: 1460, sndWndShift: 0, rcvWndShift: 0, sackOk: false, tsOk: false, tsRecent: 0, tsLast: 0, sndWnd: 100, replayWindow: 0 });
  for (let i = 0; i < 100; i++) c.send({ type: MsgType.RecvData, conn: 1, seq: 21 + i * 10, data: Buffer.alloc(10, i) });
  const n = c.lastSent;
  while (c.confirmed < n) await once(c, 'confirm');
  t.equal(c.confirmed, 101);
  t.equal(s.stores.get(vip)!.replicas.get(1)!.rcv.bytes, 1000);
});

t.test('a primary without the key is refused and stores nothing', async (t) => {
  const { s, port } = await server(t);
  const c = new ReplicationChannel({ host: '127.0.0.1', port, key: Buffer.from('ffeeddccbbaa99887766554433221100', 'hex'), vip });
  t.teardown(() => c.close());
  const refused = once(s, 'refused');
  await t.rejects(c.connect(), { code: 'ERR_INTACT_REPLICATION_REFUSED' });
  t.equal((await refused)[1], 'bad-mac');
  t.equal(s.stores.size, 0);
});

t.test('a primary announcing a VIP this backup does not protect is refused', async (t) => {
  const { port } = await server(t);
  const c = new ReplicationChannel({ host: '127.0.0.1', port, key, vip: vip + 1 });
  t.teardown(() => c.close());
  const e = await c.connect().catch((x) => x);
  t.ok(isIntactError(e, 'ERR_INTACT_REPLICATION_REFUSED'));
  t.match(e.message, /unknown-vip:192\.0\.2\.101/);
});

t.test('a primary serving another app than the backup\'s is refused and stores nothing', async (t) => {
  const s = new ReplicationServer({ host: '127.0.0.1', port: 0, key, vips: [vip], store: { bytesPerConnection: 1 << 20 }, app: 'kv' });
  await s.listen();
  t.teardown(() => s.close());
  const port = ((s as unknown as { server: net.Server }).server.address() as net.AddressInfo).port;
  const wrong = new ReplicationChannel({ host: '127.0.0.1', port, key, vip, app: 'http' });
  t.teardown(() => wrong.close());
  const e = await wrong.connect().catch((x) => x);
  t.ok(isIntactError(e, 'ERR_INTACT_REPLICATION_REFUSED'));
  t.match(e.message, /app-mismatch: the primary serves "http", this backup runs "kv"/);
  t.equal(s.stores.size, 0, 'nothing stored');
  const right = new ReplicationChannel({ host: '127.0.0.1', port, key, vip, app: 'kv' });
  t.teardown(() => right.close());
  await right.connect();
  t.ok(s.stores.has(vip), 'the same app is welcome');
});

t.test('garbage instead of a hello is refused', async (t) => {
  const { s, port } = await server(t);
  const sock = net.connect(port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await once(sock, 'connect');
  const refused = once(s, 'refused');
  sock.write(Buffer.from([0, 0, 0, 3, 250, 1, 2]));
  t.equal((await refused)[1], 'decode:unknown-type:250');
});

t.test('a protocol violation after the hello ends the session and keeps the replica', async (t) => {
  const { s, port } = await server(t);
  const c = new ReplicationChannel({ host: '127.0.0.1', port, key, vip });
  t.teardown(() => c.close());
  await c.connect();
  c.send({ type: MsgType.Open, conn: 1, localAddr: vip, localPort: 80, remoteAddr: 1, remotePort: 2, iss: 10, irs: 20, mss: 1460, sndWndShift: 0, rcvWndShift: 0, sackOk: false, tsOk: false, tsRecent: 0, tsLast: 0, sndWnd: 100, replayWindow: 0 });
  c.send({ type: MsgType.RecvData, conn: 1, seq: 99, data: Buffer.from('gap') });
  const [, reason] = await once(s, 'session-end');
  t.equal(reason, 'recv-not-contiguous (conn 1)');
  await once(c, 'down');
  t.ok(s.stores.get(vip)!.replicas.has(1), 'the replica survives for a takeover');
});

t.test('a batch leaves at the end of the turn that made it, with what the flush hooks add', async (t) => {
  const { port } = await server(t);
  const c = new ReplicationChannel({ host: '127.0.0.1', port, key, vip });
  t.teardown(() => c.close());
  await c.connect();
  let hooked = 0;
  c.beforeFlush(() => {
    if (hooked++ === 0) c.send({ type: MsgType.Heartbeat, seq: 1, sentAt: 1 });
  });
  const ups: number[] = [];
  c.on('confirm', (upTo) => ups.push(upTo));
  c.send({ type: MsgType.Open, conn: 1, localAddr: vip, localPort: 80, remoteAddr: 1, remotePort: 2, iss: 10, irs: 20, mss: 1460, sndWndShift: 0, rcvWndShift: 0, sackOk: false, tsOk: false, tsRecent: 0, tsLast: 0, sndWnd: 100, replayWindow: 0 });
  t.ok(c.pendingBytes > 0, 'queued, not written, while the turn runs');
  await Promise.resolve();
  t.equal(c.pendingBytes, 0, 'written at the end of the turn (a microtask), not an event-loop turn later');
  t.equal(c.lastSent, 2, 'the hook ran before the write and its message is numbered in order');
  while (c.confirmed < 2) await once(c, 'confirm');
  t.same(ups, [2], 'one write, one CONFIRM for both');
});

t.test('while a batch is unconfirmed, the turns of one event-loop iteration share a write', async (t) => {
  const { port } = await server(t);
  const c = new ReplicationChannel({ host: '127.0.0.1', port, key, vip });
  t.teardown(() => c.close());
  await c.connect();
  c.send({ type: MsgType.Heartbeat, seq: 1, sentAt: 1 });
  await Promise.resolve();
  t.equal(c.pendingBytes, 0, 'idle link: written at the end of the turn');
  t.notOk(c.idle, 'unconfirmed now');
  c.send({ type: MsgType.Heartbeat, seq: 2, sentAt: 2 });
  await Promise.resolve();
  t.ok(c.pendingBytes > 0, 'busy link: not yet');
  c.send({ type: MsgType.Heartbeat, seq: 3, sentAt: 3 });
  await new Promise((r) => setImmediate(r));
  t.equal(c.pendingBytes, 0, 'both written at the end of the iteration');
  while (c.confirmed < 3) await once(c, 'confirm');
  t.ok(c.idle);
});

/** A socket the server is handed directly, so a test decides how reads are cut. */
class FakeSocket extends EventEmitter {
  readonly writes: Buffer[] = [];
  remoteAddress = '192.0.2.1';
  remotePort = 40000;
  setNoDelay(): this {
    return this;
  }
  write(b: Buffer): boolean {
    this.writes.push(Buffer.from(b));
    return true;
  }
  end(b?: Buffer): this {
    if (b) this.writes.push(Buffer.from(b));
    return this;
  }
  destroySoon(): void {}
  destroy(): this {
    this.emit('close');
    return this;
  }
  /** CONFIRMs written so far. */
  confirms(): number[] {
    const out: number[] = [];
    for (const m of new FrameDecoder().push(Buffer.concat(this.writes)).messages) if (m.type === MsgType.Confirm) out.push(m.upTo);
    return out;
  }
}

t.test('the backup confirms once per burst of reads: a full read defers, a short one confirms all', async (t) => {
  const { s } = await server(t);
  const sock = new FakeSocket();
  (s as unknown as { accept(sock: unknown): void }).accept(sock);
  const challengeMsg = new FrameDecoder().push(sock.writes[0]!).messages[0] as Challenge;
  sock.emit('data', encode(hello(key, vip, challengeMsg.nonce, newNonce(), '')));
  t.ok(s.stores.has(vip), 'session open');
  sock.emit('data', encode({ type: MsgType.Open, conn: 1, localAddr: vip, localPort: 80, remoteAddr: 1, remotePort: 2, iss: 10, irs: 20, mss: 1460, sndWndShift: 0, rcvWndShift: 0, sackOk: false, tsOk: false, tsRecent: 0, tsLast: 0, sndWnd: 100, replayWindow: 0 }));
  t.same(sock.confirms(), [1], 'a short read confirms at once');
  let seq = 21;
  const data = (n: number) => {
    const m = encode({ type: MsgType.RecvData, conn: 1, seq, data: Buffer.alloc(n, seq & 0xff) });
    seq += n;
    return m;
  };
  // Four frames of 16 KiB: exactly one full read of 64 KiB.
  const full = () => Buffer.concat([data(16384 - 13), data(16384 - 13), data(16384 - 13), data(16384 - 13)]);
  sock.emit('data', full());
  sock.emit('data', full());
  t.same(sock.confirms(), [1], 'full reads: more is waiting, no CONFIRM yet');
  sock.emit('data', data(100));
  t.same(sock.confirms(), [1, 10], 'the short read that ends the burst confirms them all');
  sock.emit('data', full());
  t.same(sock.confirms(), [1, 10]);
  await new Promise((r) => setImmediate(r));
  t.same(sock.confirms(), [1, 10, 14], 'a turn that ends on a full read confirms at its end');
  t.equal(s.stores.get(vip)!.replicas.get(1)!.rcv.bytes, 12 * (16384 - 13) + 100, 'everything applied');
});

t.test('listening where it cannot: a coded error that names the setting', async (t) => {
  const { port } = await server(t);
  const taken = new ReplicationServer({ host: '127.0.0.1', port, key, vips: [vip], store: { bytesPerConnection: 1 << 20 } });
  await t.rejects(taken.listen(), { code: 'ERR_INTACT_REPLICATION_LISTEN', message: /port \d+ is taken.*replication\.port.*EADDRINUSE/ });
  // 192.0.2.0/24 (TEST-NET-1) is on no interface of a test machine.
  const foreign = new ReplicationServer({ host: '192.0.2.77', port: 0, key, vips: [vip], store: { bytesPerConnection: 1 << 20 } });
  await t.rejects(foreign.listen(), { code: 'ERR_INTACT_REPLICATION_LISTEN', message: /192\.0\.2\.77 is not an address of this host.*backup\.replicationAddress.*EADDRNOTAVAIL/ });
});
