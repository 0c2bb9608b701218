import t from 'tap';
import { NeighborTable } from '../../primary/neighbors.js';

const mac = (n: number) => Buffer.from([2, 0, 0, 0, 0, n]);

t.test('learn, lookup, change', async (t) => {
  const n = new NeighborTable<string>();
  t.ok(n.learn(1, mac(1)));
  t.notOk(n.learn(1, mac(1)), 'unchanged');
  t.ok(n.learn(1, mac(2)), 'changed');
  t.ok(n.lookup(1)?.equals(mac(2)));
});

t.test('refresh only updates an entry we already have', async (t) => {
  const n = new NeighborTable<string>();
  t.notOk(n.refresh(1, mac(1)));
  t.equal(n.lookup(1), undefined);
  n.learn(1, mac(1));
  t.ok(n.refresh(1, mac(3)));
  t.ok(n.lookup(1)?.equals(mac(3)));
});

t.test('the table is bounded: the oldest entry goes', async (t) => {
  const n = new NeighborTable<string>({ maxEntries: 2 });
  n.learn(1, mac(1));
  n.learn(2, mac(2));
  n.learn(3, mac(3));
  t.equal(n.size, 2);
  t.equal(n.lookup(1), undefined);
});

t.test('the learned MAC is a copy', async (t) => {
  const n = new NeighborTable<string>();
  const m = mac(1);
  n.learn(1, m);
  m.fill(0);
  t.ok(n.lookup(1)?.equals(mac(1)));
});

t.test('pending: first frame asks for a request, the rest queue, a full queue refuses', async (t) => {
  const n = new NeighborTable<string>({ maxPendingPerIp: 2, maxPendingIps: 1 });
  t.equal(n.enqueue(1, 'a', 0), 'request');
  t.equal(n.enqueue(1, 'b', 0), 'queued');
  t.equal(n.enqueue(1, 'c', 0), 'full');
  t.equal(n.enqueue(2, 'x', 0), 'full', 'too many unresolved addresses');
  t.same(n.takePending(1), ['a', 'b']);
  t.same(n.takePending(1), []);
});

t.test('expire: retries on schedule, then gives the frames up', async (t) => {
  const n = new NeighborTable<string>({ retryMs: 100, maxTries: 2 });
  n.enqueue(1, 'a', 0);
  t.equal(n.nextDeadline(), 100);
  t.same(n.expire(50), { retry: [], dropped: [] });
  t.same(n.expire(100), { retry: [1], dropped: [] });
  t.same(n.expire(200), { retry: [], dropped: ['a'] });
  t.equal(n.nextDeadline(), undefined);
});
