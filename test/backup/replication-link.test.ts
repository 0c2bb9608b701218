// The replication link over real kernel TCP on loopback: handshake, pipelined
// confirmations, refusal of peers without the key or with garbage. No root.
import t, { type Test } from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { ReplicationServer } from '../../backup-daemon/replication-server.js';
import { ReplicationChannel } from '../../primary/replication/channel.js';
import { MsgType } from '../../shared/replication/messages.js';
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
  c.send({ type: MsgType.Open, conn: 1, localAddr: vip, localPort: 80, remoteAddr: 1, remotePort: 2, iss: 10, irs: 20, mss: 1460, sndWndShift: 0, rcvWndShift: 0, sackOk: false, tsOk: false, tsRecent: 0, tsLast: 0, sndWnd: 100 });
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
  c.send({ type: MsgType.Open, conn: 1, localAddr: vip, localPort: 80, remoteAddr: 1, remotePort: 2, iss: 10, irs: 20, mss: 1460, sndWndShift: 0, rcvWndShift: 0, sackOk: false, tsOk: false, tsRecent: 0, tsLast: 0, sndWnd: 100 });
  c.send({ type: MsgType.RecvData, conn: 1, seq: 99, data: Buffer.from('gap') });
  const [, reason] = await once(s, 'session-end');
  t.equal(reason, 'recv-not-contiguous (conn 1)');
  await once(c, 'down');
  t.ok(s.stores.get(vip)!.replicas.has(1), 'the replica survives for a takeover');
});
