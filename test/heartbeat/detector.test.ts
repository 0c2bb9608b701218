import t from 'tap';
import { Detector } from '../../shared/heartbeat/detector.js';
import { decodeBeat, encodeBeat } from '../../shared/heartbeat/packet.js';

t.test('a peer never heard is not declared dead', async (t) => {
  const d = new Detector(['replication', 'service'], 60);
  t.same(d.check(10_000), []);
});

t.test('dead only when every path is silent past the dead time', async (t) => {
  const d = new Detector(['replication', 'service'], 60);
  t.same(d.heard('replication', 0).map((v) => v.kind), ['path-up', 'alive']);
  d.heard('service', 0);
  d.heard('service', 50);
  t.same(d.check(100).map((v) => v.kind), ['path-down'], 'replication silent for 100 ms: a cut link, not a death');
  t.ok(d.alive);
  const v = d.check(111);
  t.same(v.map((x) => x.kind), ['path-down', 'dead']);
  const dead = v[1] as { silentMs: number; lastHeard: number };
  t.equal(dead.silentMs, 61);
  t.equal(dead.lastHeard, 50);
  t.notOk(d.alive);
});

t.test('silence of exactly the dead time is not yet death', async (t) => {
  const d = new Detector(['a'], 60);
  d.heard('a', 0);
  t.same(d.check(60), []);
  t.equal(d.check(60.5)[1]?.kind, 'dead');
});

t.test('a peer that comes back is alive again, once', async (t) => {
  const d = new Detector(['a'], 10);
  d.heard('a', 0);
  d.check(20);
  t.same(d.heard('a', 30).map((v) => v.kind), ['path-up', 'alive']);
  t.same(d.heard('a', 31), []);
});

t.test('beats from an unknown path are ignored', async (t) => {
  const d = new Detector(['a'], 10);
  t.same(d.heard('b', 0), []);
  t.notOk(d.alive);
});

t.test('a beat round-trips and a wrong key or a flipped bit is refused', async (t) => {
  const key = Buffer.from('k1');
  const b = encodeBeat(key, { role: 'primary', vip: 0xc0000264, seq: 9, sentAt: 1234.5 });
  t.same(decodeBeat(key, b), { role: 'primary', vip: 0xc0000264, seq: 9, sentAt: 1234.5 });
  t.same(decodeBeat(Buffer.from('k2'), b), { refused: 'bad-mac' });
  const flipped = Buffer.from(b);
  flipped[10] ^= 1;
  t.same(decodeBeat(key, flipped), { refused: 'bad-mac' });
  t.same(decodeBeat(key, b.subarray(1)), { refused: 'bad-length' });
  const magic = Buffer.from(b);
  magic[0] = 0;
  t.same(decodeBeat(key, magic), { refused: 'bad-magic' });
});

t.test('a peer just come alive gets the longer startup dead time', async (t) => {
  const d = new Detector(['a'], 60, { startupMs: 1000, startupDeadMs: 300 });
  d.heard('a', 0);
  d.heard('a', 10);
  t.same(d.check(200).filter((v) => v.kind === 'dead'), [], '190 ms of silence at startup is not death');
  t.ok(d.check(311).some((v) => v.kind === 'dead'), 'past the startup dead time it is');
  const e = new Detector(['a'], 60, { startupMs: 1000, startupDeadMs: 300 });
  e.heard('a', 0);
  e.heard('a', 1500);
  t.ok(e.check(1561).some((v) => v.kind === 'dead'), 'after startup, the normal dead time applies');
});

t.test('late evidence never moves a path\'s last-heard back', async (t) => {
  const d = new Detector(['a'], 60);
  d.heard('a', 100);
  d.heard('a', 40);
  t.equal(d.paths[0]!.lastHeard, 100);
  t.same(d.check(150), [], 'judged from 100, not 40');
  t.same(d.check(161).map((v) => v.kind), ['path-down', 'dead']);
});
