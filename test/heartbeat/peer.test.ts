// Two heartbeat threads over real UDP on loopback addresses (127.0.0.1 and 127.0.0.2):
// no root, no namespace.
import t from 'tap';
import { once } from 'node:events';
import { HeartbeatPeer } from '../../shared/heartbeat/peer.js';

const key = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const vip = 0xc0000264;

function pair(base: number, keys: [string, string], deadMs = 60) {
  const paths = (local: string, peer: string) => [
    { name: 'replication', localAddr: local, port: base, peerAddr: peer },
    { name: 'service', localAddr: local, port: base + 1, peerAddr: peer },
  ];
  const primary = new HeartbeatPeer({ keyHex: keys[0], vip, role: 'primary', paths: paths('127.0.0.1', '127.0.0.2'), intervalMs: 10, deadMs });
  const backup = new HeartbeatPeer({ keyHex: keys[1], vip, role: 'backup', paths: paths('127.0.0.2', '127.0.0.1'), intervalMs: 10, deadMs });
  return { primary, backup };
}

const port = () => 20000 + Math.floor(Math.random() * 20000) * 2;

t.test('each side sees the other alive, and the backup sees a stopped primary dead', async (t) => {
  const { primary, backup } = pair(port(), [key, key]);
  t.teardown(() => Promise.all([primary.close(), backup.close()]));
  const bAlive = once(backup, 'alive');
  const pAlive = once(primary, 'alive');
  backup.start();
  primary.start();
  await Promise.all([bAlive, pAlive]);
  const stoppedAt = performance.timeOrigin + performance.now();
  await primary.close();
  const [at, silentMs] = (await once(backup, 'dead')) as [number, number];
  t.ok(silentMs > 60, `silent ${silentMs.toFixed(1)} ms before the verdict`);
  t.ok(at >= stoppedAt + 50, 'the verdict comes after the silence, not before');
});

t.test('a silenced primary is declared dead', async (t) => {
  const { primary, backup } = pair(port(), [key, key]);
  t.teardown(() => Promise.all([primary.close(), backup.close()]));
  const alive = once(backup, 'alive');
  backup.start();
  primary.start();
  await alive;
  primary.silence();
  await once(backup, 'dead');
  t.pass('dead after silence');
});

t.test('beats with the wrong key are refused and never make the peer alive', async (t) => {
  const { primary, backup } = pair(port(), [key, 'ffffffffffffffffffffffffffffffff']);
  t.teardown(() => Promise.all([primary.close(), backup.close()]));
  let alive = false;
  primary.on('alive', () => { alive = true; });
  backup.start();
  primary.start();
  const [, reason] = (await once(primary, 'refused')) as [string, string];
  t.equal(reason, 'bad-mac');
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(alive, 'the primary never believed in a backup it cannot authenticate');
});
