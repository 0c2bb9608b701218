import t from 'tap';
import { checkPrefix, findNode, nodeOfNetns, planLab, uniquePrefix, VIP, MAX_CLIENTS } from '../../lab/plan.js';
import { parseLinkName } from '../../lab/faults.js';
import { findTool, requireRoot } from '../../lab/tools.js';

t.test('the default plan has the topology of DESIGN.md', async (t) => {
  const p = planLab();
  t.same(p.nodes.map((n) => n.netns), ['intact-sw', 'intact-client', 'intact-primary', 'intact-backup']);
  const cidrs = (node: string) => findNode(p, node).interfaces.filter((i) => i.cidr).map((i) => `${i.name} ${i.cidr}`);
  t.same(cidrs('client'), ['svc0 192.0.2.10/24']);
  t.same(cidrs('primary'), ['svc0 192.0.2.1/24', 'rep0 198.51.100.1/24']);
  t.same(cidrs('backup'), ['svc0 192.0.2.2/24', 'rep0 198.51.100.2/24']);
  t.same(findNode(p, 'sw').interfaces.map((i) => i.name), ['br0', 'p-client', 'p-primary', 'p-backup']);
  t.equal(p.vip, VIP);
  t.equal(p.configs.primary, '/run/intact/intact/intact.json');
});

t.test('the VIP is on no interface of the plan', async (t) => {
  for (const n of planLab({ clients: MAX_CLIENTS }).nodes) {
    for (const i of n.interfaces) t.not(i.address, VIP, `${n.node} ${i.name}`);
  }
});

t.test('clients are client, client2, ... from .10 with MACs that spell the address', async (t) => {
  const p = planLab({ prefix: 'x', clients: 3 });
  const clients = p.nodes.filter((n) => n.role === 'client');
  t.same(clients.map((n) => n.node), ['client', 'client2', 'client3']);
  t.same(clients.map((n) => n.interfaces[0]!.address), ['192.0.2.10', '192.0.2.11', '192.0.2.12']);
  t.equal(clients[2]!.interfaces[0]!.mac, '02:00:c0:00:02:0c');
});

t.test('interface names fit in IFNAMSIZ for the largest lab', async (t) => {
  for (const n of planLab({ prefix: 'intact-tffffff', clients: MAX_CLIENTS }).nodes) {
    for (const i of n.interfaces) t.ok(i.name.length <= 15, i.name);
  }
});

t.test('client count outside 1..90 is refused', async (t) => {
  t.throws(() => planLab({ clients: 0 }), { code: 'ERR_INTACT_INVALID_ARG' });
  t.throws(() => planLab({ clients: MAX_CLIENTS + 1 }), { code: 'ERR_INTACT_INVALID_ARG' });
});

t.test('bad prefixes are refused', async (t) => {
  for (const p of ['', 'Intact', '1abc', 'a b', 'a/b', 'abc-', 'a'.repeat(33)]) {
    t.throws(() => checkPrefix(p), { code: 'ERR_INTACT_INVALID_ARG' }, JSON.stringify(p));
  }
  t.match(uniquePrefix(), /^intact-t[0-9a-f]{6}$/);
});

t.test('a namespace belongs to a prefix only by exact node name', async (t) => {
  t.equal(nodeOfNetns('intact', 'intact-client'), 'client');
  t.equal(nodeOfNetns('intact', 'intact-client12'), 'client12');
  t.equal(nodeOfNetns('intact', 'intact-sw'), 'sw');
  // Another lab whose prefix extends ours is not ours to remove.
  t.equal(nodeOfNetns('intact', 'intact-t123abc-client'), undefined);
  t.equal(nodeOfNetns('intact', 'intact-client1'), undefined);
  t.equal(nodeOfNetns('intact', 'intact-client91'), undefined);
  t.equal(nodeOfNetns('intact', 'other-client'), undefined);
});

t.test('link names', async (t) => {
  t.same(parseLinkName('replication'), { kind: 'replication' });
  t.same(parseLinkName('service-client2'), { kind: 'service', node: 'client2' });
  t.throws(() => parseLinkName('service-sw'), { code: 'ERR_INTACT_LAB_UNKNOWN_LINK' });
  t.throws(() => parseLinkName('eth0'), { code: 'ERR_INTACT_LAB_UNKNOWN_LINK' });
});

t.test('a missing tool is named with its Debian package', async (t) => {
  t.throws(() => findTool('nft', ['/nonexistent']), { code: 'ERR_INTACT_TOOL_MISSING', message: /nft.*Debian package nftables/ });
});

t.test('not root is a clear error', async (t) => {
  const real = process.getuid;
  t.teardown(() => {
    process.getuid = real;
  });
  process.getuid = () => 1000;
  t.throws(() => requireRoot(), { code: 'ERR_INTACT_NOT_ROOT', message: /needs root/ });
});
