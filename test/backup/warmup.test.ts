// The daemon's warm-up (backup-daemon/warmup.ts) runs the takeover's own rebuild over
// made-up replicas: the store must hold them and the rebuild must take every one (a
// generator either refuses would warm nothing), in slices, into stacks of its own.
import t from 'tap';
import { syntheticMessages, syntheticStore, warmSlice, warmUpTakeover } from '../../backup-daemon/warmup.js';
import { rebuildConnections } from '../../backup-daemon/takeover.js';
import { TcpStack } from '../../shared/tcp/stack.js';

t.test('both synthetic shapes are held by the store and rebuilt ESTABLISHED, with their data', async (t) => {
  for (const shape of ['mixed', 'lab'] as const) {
    const store = syntheticStore(20, shape, 8080, { first: 100 });
    t.same([...store.replicas.keys()].slice(0, 2), [100, 101], `${shape}: numbered from first`);
    const { rebuilt, failed } = rebuildConnections(store, new TcpStack({}), 1000);
    t.equal(failed, 0);
    t.equal(rebuilt.length, 20);
    t.ok(rebuilt.every(({ c }) => c.state === 'ESTABLISHED'), `${shape}: established`);
    const c = rebuilt[0]!.c;
    t.equal(c.recvQueued(), shape === 'lab' ? 10_011 : 500, `${shape}: received bytes from the consumed point`);
    t.equal(c.sendQueued(), shape === 'lab' ? 0 : 10_000, `${shape}: send bytes from snd_una`);
  }
});

t.test('a smaller segment keeps the number of messages, not the bytes', async (t) => {
  for (const shape of ['mixed', 'lab'] as const) {
    const full = syntheticMessages(7, shape, 8080);
    const small = syntheticMessages(7, shape, 8080, 16);
    t.same(small.map((m) => m.type), full.map((m) => m.type), `${shape}: the same messages in the same order`);
    const bytes = (ms: typeof full) => ms.reduce((a, m) => a + ('data' in m ? m.data.length : 0), 0);
    t.ok(bytes(small) < bytes(full) / 50, `${shape}: ${bytes(small)} bytes instead of ${bytes(full)}`);
  }
});

t.test('a slice rebuilds its connections held silent in the given stack', async (t) => {
  const stack = new TcpStack({});
  t.equal(warmSlice(stack, 50, 1, 'lab'), 50);
  t.equal(warmSlice(stack, 50, 51, 'mixed'), 50, 'the next slice, other connections');
  t.equal(stack.poll(1000).length, 0, 'held: nothing to send');
});

t.test('warmUpTakeover runs its rounds, and stops at the next slice when cancelled', async (t) => {
  const r = await warmUpTakeover({}, { connections: 120, rounds: 2, slice: 50 });
  t.equal(r.connections, 240);
  t.ok(r.busyMs > 0 && r.wallMs >= r.busyMs);
  let slices = 0;
  const c = await warmUpTakeover({}, { connections: 500, rounds: 1, slice: 50, cancelled: () => ++slices > 2 });
  t.equal(c.connections, 100, 'two slices, then the cancel');
});
