// The VIP in a kernel (shared/vip-guard.ts): the primary and the backup refuse to start
// on a host whose kernel holds it, naming the interface and the command that removes it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { makeVethPair } from '../../native/veth.js';
import { openServiceRuntime } from '../../primary/runtime.js';
import { BackupDaemon } from '../../backup-daemon/daemon.js';
import { parseConfig } from '../../shared/config.js';
import { assertVipNotInKernel, kernelAddresses } from '../../shared/vip-guard.js';
import { rootOnly } from '../helpers/root.js';
import type { PreparedApp } from '../../primary/app.js';

t.test('assertVipNotInKernel: refused when any interface holds it, with the fix', async (t) => {
  const addrs = [
    { ifname: 'lo', address: '127.0.0.1', prefixLength: 8 },
    { ifname: 'eth1', address: '203.0.113.80', prefixLength: 24 },
  ];
  t.throws(() => assertVipNotInKernel('203.0.113.80', addrs), {
    code: 'ERR_INTACT_VIP_IN_KERNEL',
    message: /on eth1.*ip addr del 203\.0\.113\.80\/24 dev eth1/,
  });
  t.doesNotThrow(() => assertVipNotInKernel('203.0.113.81', addrs));
  t.doesNotThrow(() => assertVipNotInKernel('203.0.113.80', []));
});

t.test('kernelAddresses of this namespace include loopback', async (t) => {
  t.ok(kernelAddresses().some((a) => a.address === '127.0.0.1' && a.prefixLength === 8));
});

t.test('an unknown namespace is a coded error', rootOnly(), async (t) => {
  t.throws(() => kernelAddresses('intact-no-such-netns'), { code: 'ERR_INTACT_NETNS' });
});

t.test('the primary and the backup will not start where the kernel has the VIP', rootOnly(), async (t) => {
  const pair = makeVethPair();
  t.teardown(pair.cleanup);
  t.same(kernelAddresses(pair.nsA).filter((a) => a.ifname === 'va'), [{ ifname: 'va', address: pair.ipA, prefixLength: 24 }]);

  t.throws(() => openServiceRuntime({ ifname: 'va', netns: pair.nsA, vip: pair.ipA }), { code: 'ERR_INTACT_VIP_IN_KERNEL' });
  const rt = openServiceRuntime({ ifname: 'va', netns: pair.nsA, vip: '192.0.2.100' });
  await rt.close();

  const example = JSON.parse(readFileSync(new URL('../../lab/two-hosts.example.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const config = parseConfig({
    ...example, vip: pair.ipB, servicePrefixLength: 24, gateway: '192.0.2.254',
    primary: { ...(example.primary as object), serviceAddress: '192.0.2.11' },
    backup: { ...(example.backup as object), serviceInterface: 'vb', serviceAddress: '192.0.2.12' },
  });
  // The guard comes before anything that needs the app.
  const daemon = new BackupDaemon({ config, app: {} as PreparedApp, netns: pair.nsB, emitLine: () => {} });
  await t.rejects(daemon.start(), { code: 'ERR_INTACT_VIP_IN_KERNEL', message: /on vb/ });
});
