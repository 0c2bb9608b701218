// Two heartbeat threads over real UDP on loopback addresses (127.0.0.1 and 127.0.0.2):
// no root, no namespace.
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { HeartbeatPeer } from '../../shared/heartbeat/peer.js';
import { encodeBeat } from '../../shared/heartbeat/packet.js';

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

/** A pair with matching keys, both started, once the backup has heard the primary. */
async function alivePair(t: Test) {
  const p = pair(port(), [key, key]);
  t.teardown(() => Promise.all([p.primary.close(), p.backup.close()]));
  const alive = once(p.backup, 'alive');
  p.backup.start();
  p.primary.start();
  await alive;
  return p;
}

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
  const { primary, backup } = await alivePair(t);
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

t.test('a peer refused a hundred times a second gets one log line per path and reason, with its count', async (t) => {
  const { primary, backup } = pair(port(), [key, 'ffffffffffffffffffffffffffffffff']);
  t.teardown(() => Promise.all([primary.close(), backup.close()]));
  const lines: Array<Record<string, unknown>> = [];
  // The peer's logger, seen from the test: what an operator would read.
  (primary as unknown as { log: { warn: (o: Record<string, unknown>) => void } }).log = { warn: (o) => lines.push(o) };
  let refused = 0;
  primary.on('refused', () => refused++);
  backup.start();
  primary.start();
  await once(primary, 'refused');
  await new Promise((r) => setTimeout(r, 400));
  t.ok(refused >= 20, `refused ${refused} beats`);
  t.same(lines.map((l) => `${l.path} ${l.reason}`).sort(), ['replication bad-mac', 'service bad-mac'], JSON.stringify(lines));
  t.same(lines.map((l) => l.count), [1, 1], 'each line counts its own path and reason');
  t.equal(primary.refusedCount.get('bad-mac'), refused, 'every refusal is counted, logged or not');
});

t.test('traffic the main thread saw (heard) keeps a peer alive whose beats stopped, until it stops too', async (t) => {
  const { primary, backup } = await alivePair(t);
  // Past the detector's start-up window, where the dead time is longer.
  await new Promise((r) => setTimeout(r, 1100));
  let dead = false;
  backup.on('dead', () => { dead = true; });
  primary.silence();
  const marking = setInterval(() => backup.heard('replication'), 5);
  await new Promise((r) => setTimeout(r, 300));
  clearInterval(marking);
  t.notOk(dead, 'alive for 300 ms (5x the dead time) on main-thread evidence alone');
  const stoppedAt = performance.timeOrigin + performance.now();
  const [, silentMs, lastHeard] = (await once(backup, 'dead')) as [number, number, number];
  t.ok(silentMs > 60, `dead after the evidence stopped: silent ${silentMs.toFixed(1)} ms`);
  t.ok(Math.abs(lastHeard - stoppedAt) < 20, `last heard is the last mark's time (${(lastHeard - stoppedAt).toFixed(1)} ms from it)`);
});

t.test('heard() alone never makes a peer alive (it may only prolong a life beats began)', async (t) => {
  const { primary } = pair(port(), [key, key]);
  t.teardown(() => primary.close());
  let alive = false;
  primary.on('alive', () => { alive = true; });
  primary.start();
  const marking = setInterval(() => primary.heard('replication'), 5);
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(marking);
  t.notOk(alive);
});

t.test('beats skip the replication path while the main thread hears the peer there (10 ms / 60 ms: 2 in a row at most)', async (t) => {
  // The backup here is two plain UDP sockets that beat like one and count what arrives.
  const base = port();
  const primary = new HeartbeatPeer({
    keyHex: key, vip, role: 'primary', intervalMs: 10, deadMs: 60,
    paths: [
      { name: 'replication', localAddr: '127.0.0.1', port: base, peerAddr: '127.0.0.2' },
      { name: 'service', localAddr: '127.0.0.1', port: base + 1, peerAddr: '127.0.0.2' },
    ],
  });
  const got = { replication: 0, service: 0 };
  const socks = await Promise.all((['replication', 'service'] as const).map(async (name, i) => {
    const s = dgram.createSocket('udp4');
    s.on('message', () => { got[name]++; });
    await new Promise<void>((r) => s.bind(base + i, '127.0.0.2', r));
    return s;
  }));
  let seq = 0;
  const beating = setInterval(() => {
    const msg = encodeBeat(Buffer.from(key, 'hex'), { role: 'backup', vip, seq: seq++, sentAt: performance.timeOrigin + performance.now() });
    socks.forEach((s, i) => s.send(msg, base + i, '127.0.0.1'));
  }, 10);
  t.teardown(async () => {
    clearInterval(beating);
    await primary.close();
    for (const s of socks) s.close();
  });
  const alive = once(primary, 'alive');
  primary.start();
  await alive;
  const count = async (ms: number) => {
    got.replication = got.service = 0;
    await new Promise((r) => setTimeout(r, ms));
    return { ...got };
  };

  const marking = setInterval(() => primary.heard('replication'), 2);
  const marked = await count(400);
  clearInterval(marking);
  await new Promise((r) => setTimeout(r, 30)); // the last mark ages past an interval
  const quiet = await count(400);
  t.ok(marked.service >= 20, `service path beat all along: ${marked.service} in 400 ms`);
  t.ok(marked.replication >= marked.service / 8 && marked.replication <= marked.service / 2,
    `while marked, about one replication beat in three: ${marked.replication} against ${marked.service}`);
  t.ok(quiet.replication >= quiet.service * 0.8, `marks stopped: every beat again, ${quiet.replication} against ${quiet.service}`);
});
