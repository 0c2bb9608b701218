import t from 'tap';
import { Detector } from '../../shared/heartbeat/detector.js';
import { decodeBeat, encodeBeat } from '../../shared/heartbeat/packet.js';
import { beatDue, skipAtMost } from '../../shared/heartbeat/worker.js';

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

t.test('nextCheckAt is the first instant check() finds something (property)', async (t) => {
  // Beats on two paths at random times, a random dead time and first-second rule; the
  // instant nextCheckAt names is checked on copies of the detector: just before it,
  // nothing; just after it, a path down or the peer dead. Undefined: never anything.
  const fc = (await import('fast-check')).default;
  const beat = fc.record({ path: fc.constantFrom('replication', 'service'), gap: fc.double({ min: 0, max: 400, noNaN: true }) });
  fc.assert(
    fc.property(
      fc.array(beat, { minLength: 0, maxLength: 12 }),
      fc.integer({ min: 10, max: 200 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 0, max: 600 }),
      fc.array(fc.double({ min: 0, max: 500, noNaN: true }), { maxLength: 3 }),
      (beats, deadMs, startupMs, startupDeadMs, checks) => {
        const make = () => {
          const d = new Detector(['replication', 'service'], deadMs, { startupMs, startupDeadMs });
          let now = 0;
          const ci = [...checks];
          for (const b of beats) {
            now += b.gap;
            d.heard(b.path, now);
            // Judgments in between, as the thread makes them.
            if (ci.length) d.check(now + ci.shift()! * 0.01);
          }
          return { d, now };
        };
        const { d, now } = make();
        const at = d.nextCheckAt();
        if (at === undefined) return make().d.check(now + 1e7).length === 0;
        // An instant already past (the newest beat came after another path's deadline):
        // the next judgment finds it.
        const before = at > now ? make().d.check(Math.max(now, at - 0.5)) : [];
        const after = make().d.check(Math.max(now, at) + 0.01);
        return before.length === 0 && after.some((v) => v.kind === 'path-down' || v.kind === 'dead');
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('3000 random histories');
});

t.test('nextCheckAt: the dead time after the newest beat, or the first-second rule', async (t) => {
  const d = new Detector(['a', 'b'], 80, { startupMs: 1000, startupDeadMs: 300 });
  t.equal(d.nextCheckAt(), undefined, 'nothing heard');
  d.heard('a', 0);
  t.equal(d.nextCheckAt(), 80, 'path a goes down at 80 (the peer lives on, in its first second)');
  d.check(81);
  t.equal(d.nextCheckAt(), 300, 'the first second: dead after 300 ms of silence');
  d.heard('b', 900);
  t.equal(d.nextCheckAt(), 980, 'path b at 980; the peer then too, its first second over at 1000... ');
  d.check(981);
  t.equal(d.nextCheckAt(), 1000, '...when its first second ends');
  t.equal(d.check(1000.5).at(-1)?.kind, 'dead');
  t.equal(d.nextCheckAt(), undefined, 'dead, every path down: nothing to wait for');
});

t.test('beatDue: a path the main thread heard within an interval beats one time in skip + 1, others always', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7, 8].map((seq) => beatDue(seq, 3, 10, true, 3)), [true, false, false, false, true, false, false, false, true]);
  t.ok([0, 1, 2, 3].every((seq) => beatDue(seq, 10, 10, true, 3)), 'a mark an interval old speaks for nothing');
  t.ok([0, 1, 2, 3].every((seq) => beatDue(seq, Infinity, 10, true, 3)), 'never marked (the service path)');
  t.ok([0, 1, 2, 3].every((seq) => beatDue(seq, 0, 10, false, 3)), 'a peer not held alive gets every beat');
  t.ok([0, 1, 2, 3].every((seq) => beatDue(seq, 3, 10, true, 0)), 'skip 0: every beat');
});

t.test('skipAtMost: beats at most half the dead time apart', async (t) => {
  t.equal(skipAtMost(10, 80), 3, 'the defaults: every 4th beat, 40 ms apart');
  t.equal(skipAtMost(10, 60), 2);
  t.equal(skipAtMost(10, 30), 0, 'a dead time under four intervals: never skip');
  t.equal(skipAtMost(20, 60), 0);
  t.equal(skipAtMost(50, 150), 0);
  t.equal(skipAtMost(10, 1000), 49);
});
