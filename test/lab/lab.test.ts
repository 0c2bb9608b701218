// The lab against the real kernel: namespaces, bridge, veths, nftables faults.
// Root only; every lab here has its own unique prefix and is removed on every path.
import t, { type Test } from 'tap';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { loadConfig } from '../../shared/config.js';
import { cutLink, healLink, killNode, setLoss } from '../../lab/faults.js';
import { netnsPidsSync } from '../../lab/netns.js';
import { VIP, findNode, uniquePrefix, type LabPlan } from '../../lab/plan.js';
import { reaches, silent } from '../../lab/probe.js';
import { labDown, labDownSync, labNamespaces, labStatus, labUp, nsExec, nsSpawn, teardownOnExit, withLab, type LabStatus } from '../../lab/topology.js';
import { run } from '../../lab/tools.js';
import { rootOnly } from '../helpers/root.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../cli/intact.ts', import.meta.url));

/** Runs `intact ...` through tsx, as a user would run the built binary. */
function intact(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import=tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, INTACT_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A lab that disappears at the end of the enclosing test, also if the process dies. */
async function ownLab(t: Test, clients = 1): Promise<LabPlan> {
  const prefix = uniquePrefix();
  const cancel = teardownOnExit(prefix);
  t.teardown(() => {
    labDownSync(prefix);
    cancel();
  });
  return labUp({ prefix, clients });
}

function addresses(s: LabStatus, node: string): string[] {
  return (s.nodes.find((n) => n.node === node)?.links ?? []).flatMap((l) => l.addresses).filter((a) => !a.startsWith('127.'));
}

t.test('a built lab', rootOnly(), async (t) => {
  const lab = await ownLab(t, 2);
  const ns = (node: string) => findNode(lab, node).netns;

  t.test('up creates what it says and status --json agrees', async (t) => {
    const r = await intact(['lab', 'status', '--json', '--prefix', lab.prefix]);
    t.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as LabStatus;
    t.equal(s.up, true);
    t.equal(s.clients, 2);
    t.same(s.nodes.map((n) => n.netns).sort(), lab.nodes.map((n) => n.netns).sort());
    t.same(addresses(s, 'client'), ['192.0.2.10/24']);
    t.same(addresses(s, 'client2'), ['192.0.2.11/24']);
    t.same(addresses(s, 'primary'), ['192.0.2.1/24', '198.51.100.1/24']);
    t.same(addresses(s, 'backup'), ['192.0.2.2/24', '198.51.100.2/24']);
    const sw = s.nodes.find((n) => n.node === 'sw')!;
    t.same(sw.links.filter((l) => l.master === 'br0').map((l) => l.name).sort(), ['p-backup', 'p-client', 'p-client2', 'p-primary']);
    t.equal(addresses(s, 'sw').length, 0, 'the switch has no address');
    t.equal(s.configs.primary, lab.configs.primary);
    t.equal(s.configs.backup, lab.configs.backup);
    const cfg = loadConfig(s.configs.primary!);
    t.equal(cfg.vip, VIP);
    t.equal(cfg.primary.serviceInterface, 'svc0');
    t.equal(cfg.backup.replicationAddress, '198.51.100.2');
  });

  t.test('nothing routes out of the lab', async (t) => {
    for (const n of lab.nodes) {
      const r = await run('ip', ['-n', n.netns, 'route', 'show', 'default']);
      t.equal(r.stdout.trim(), '', `${n.node} has no default route`);
    }
  });

  t.test('up twice changes nothing', async (t) => {
    const before = await labStatus(lab.prefix);
    const key = loadConfig(lab.configs.primary).replication.key;
    await labUp({ prefix: lab.prefix, clients: 2 });
    const after = await labStatus(lab.prefix);
    // Bridge-port MACs are random at creation: equal MACs mean nothing was recreated.
    t.same(after.nodes, before.nodes);
    t.equal(loadConfig(lab.configs.primary).replication.key, key, 'the replication key is kept');
  });

  t.test('clients reach primary and backup on the service LAN', async (t) => {
    t.ok(await reaches(ns('client'), '192.0.2.1'));
    t.ok(await reaches(ns('client'), '192.0.2.2'));
    t.ok(await reaches(ns('client2'), '192.0.2.1'));
    t.notOk(await silent(ns('client'), '192.0.2.1'), 'the silence probe hears a live host');
  });

  t.test('primary and backup reach each other over replication', async (t) => {
    t.ok(await reaches(ns('primary'), '198.51.100.2'));
    t.ok(await reaches(ns('backup'), '198.51.100.1'));
  });

  t.test('the VIP is configured nowhere and does not answer', async (t) => {
    const s = await labStatus(lab.prefix);
    for (const n of s.nodes) t.notOk(n.links.some((l) => l.addresses.some((a) => a.startsWith(VIP + '/'))), n.node);
    t.ok(await silent(ns('client'), VIP));
  });

  t.test('a client namespace has the whole unprivileged port range for its connections', async (t) => {
    const range = await nsExec(ns('client'), ['cat', '/proc/sys/net/ipv4/ip_local_port_range']);
    t.same(range.stdout.trim().split(/\s+/), ['1024', '65535']);
    const other = await nsExec(ns('primary'), ['cat', '/proc/sys/net/ipv4/ip_local_port_range']);
    t.not(other.stdout.trim().split(/\s+/)[0], '1024', 'the servers\' namespaces keep the default');
  });

  t.test('exec passes the exit code through', async (t) => {
    t.equal((await nsExec(ns('client'), ['sh', '-c', 'exit 7'])).code, 7);
    const r = await intact(['lab', 'exec', '--prefix', lab.prefix, 'backup', '--', 'sh', '-c', 'ip -br addr show dev rep0; exit 3']);
    t.equal(r.code, 3);
    t.match(r.stdout, /198\.51\.100\.2\/24/, 'ran inside the backup namespace');
  });

  t.test('kill kills every process in a node, and only there', async (t) => {
    const a = nsSpawn(ns('primary'), ['sleep', '60'], { stdio: 'ignore' });
    const b = nsSpawn(ns('primary'), ['sleep', '60'], { stdio: 'ignore' });
    const other = nsSpawn(ns('backup'), ['sleep', '60'], { stdio: 'ignore' });
    t.teardown(() => other.kill('SIGKILL'));
    await Promise.all([once(a, 'spawn'), once(b, 'spawn'), once(other, 'spawn')]);
    const killed = await killNode(lab.prefix, 'primary');
    t.same(killed.sort(), [a.pid, b.pid].sort());
    const [[, sigA], [, sigB]] = await Promise.all([once(a, 'exit'), once(b, 'exit')]);
    t.equal(sigA, 'SIGKILL');
    t.equal(sigB, 'SIGKILL');
    t.same(netnsPidsSync(ns('primary')), []);
    t.same(netnsPidsSync(ns('backup')), [other.pid]);
  });

  t.test('cut and heal service-primary', async (t) => {
    await cutLink(lab.prefix, 'service-primary');
    t.ok(await silent(ns('client'), '192.0.2.1'), 'cut stops client -> primary');
    t.ok(await reaches(ns('client'), '192.0.2.2'), 'the rest of the LAN still works');
    const s = await labStatus(lab.prefix);
    t.same(s.faults.cut, ['service-primary']);
    const svc0 = s.nodes.find((n) => n.node === 'primary')!.links.find((l) => l.name === 'svc0')!;
    t.equal(svc0.state, 'UP', 'the cut is silent: carrier stays up');
    await cutLink(lab.prefix, 'service-primary'); // idempotent
    await healLink(lab.prefix, 'service-primary');
    await healLink(lab.prefix, 'service-primary'); // idempotent
    t.ok(await reaches(ns('client'), '192.0.2.1'), 'heal restores it');
    t.same((await labStatus(lab.prefix)).faults.cut, []);
  });

  t.test('cut and heal service-client2 (a client side)', async (t) => {
    await cutLink(lab.prefix, 'service-client2');
    t.ok(await silent(ns('client2'), '192.0.2.2'));
    t.ok(await reaches(ns('client'), '192.0.2.2'));
    await healLink(lab.prefix, 'service-client2');
    t.ok(await reaches(ns('client2'), '192.0.2.2'));
  });

  t.test('cut and heal replication', async (t) => {
    await cutLink(lab.prefix, 'replication');
    t.ok(await silent(ns('primary'), '198.51.100.2'), 'primary -> backup stops');
    t.ok(await silent(ns('backup'), '198.51.100.1'), 'backup -> primary stops');
    t.ok(await reaches(ns('client'), '192.0.2.1'), 'the service LAN is unaffected');
    const s = await labStatus(lab.prefix);
    t.same(s.faults.cut, ['replication']);
    t.equal(s.nodes.find((n) => n.node === 'backup')!.links.find((l) => l.name === 'rep0')!.state, 'UP', 'carrier stays up');
    await healLink(lab.prefix, 'replication');
    t.ok(await reaches(ns('primary'), '198.51.100.2'), 'heal restores it');
  });

  t.test('loss 100 drops everything on the service LAN, loss 0 restores', async (t) => {
    await setLoss(lab.prefix, 100);
    t.equal((await labStatus(lab.prefix)).faults.loss, 100);
    t.ok(await silent(ns('client'), '192.0.2.2'));
    t.ok(await reaches(ns('primary'), '198.51.100.2'), 'replication is not on the service LAN');
    await setLoss(lab.prefix, 0);
    t.equal((await labStatus(lab.prefix)).faults.loss, 0);
    t.ok(await reaches(ns('client'), '192.0.2.2'));
  });

  // Last in this group: it changes the shared lab.
  t.test('up --tx-csum-off turns TX checksumming off on the clients only', async (t) => {
    await labUp({ prefix: lab.prefix, clients: 2, txCsumOff: true });
    const txCsum = async (node: string) => {
      const r = await nsExec(ns(node), ['ethtool', '-k', 'svc0']);
      return /^tx-checksumming: (\w+)/m.exec(r.stdout)?.[1];
    };
    t.equal(await txCsum('client'), 'off');
    t.equal(await txCsum('client2'), 'off');
    t.equal(await txCsum('primary'), 'on');
    t.ok(await reaches(ns('client'), '192.0.2.1'));
  });

  t.test('a fault on a lab that is not up is a clear error', async (t) => {
    await t.rejects(cutLink('intact-tnolab0', 'replication'), { code: 'ERR_INTACT_LAB_NOT_UP' });
    const r = await intact(['lab', 'exec', '--prefix', 'intact-tnolab0', 'client', '--', 'true']);
    t.equal(r.code, 1);
    t.match(r.stderr, /ERR_INTACT_LAB_NOT_UP/);
  });
});

t.test('half-made labs', rootOnly(), async (t) => {
  /** Namespaces and one veth of a lab, as a crash in the middle of `up` leaves them. */
  async function halfMake(prefix: string): Promise<void> {
    await run('ip', ['netns', 'add', `${prefix}-sw`]);
    await run('ip', ['netns', 'add', `${prefix}-primary`]);
    await run('ip', ['-n', `${prefix}-sw`, 'link', 'add', 'p-primary', 'type', 'veth', 'peer', 'name', 'svc0', 'netns', `${prefix}-primary`]);
  }

  t.test('up completes a half-made lab', async (t) => {
    const prefix = uniquePrefix();
    const cancel = teardownOnExit(prefix);
    t.teardown(() => {
      labDownSync(prefix);
      cancel();
    });
    await halfMake(prefix);
    const lab = await labUp({ prefix });
    t.equal((await labStatus(prefix)).up, true);
    t.ok(await reaches(findNode(lab, 'client').netns, '192.0.2.1'));
  });

  t.test('down removes a half-made lab and kills what runs in it', async (t) => {
    const prefix = uniquePrefix();
    const cancel = teardownOnExit(prefix);
    t.teardown(() => {
      labDownSync(prefix);
      cancel();
    });
    await halfMake(prefix);
    const child = nsSpawn(`${prefix}-primary`, ['sleep', '60'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const exited = once(child, 'exit');
    const removed = await labDown(prefix);
    t.same(removed.sort(), [`${prefix}-primary`, `${prefix}-sw`]);
    t.same(await labNamespaces(prefix), []);
    const [, signal] = await exited;
    t.equal(signal, 'SIGKILL');
    t.same(await labDown(prefix), [], 'down again is a no-op');
  });
});

t.test('withLab tears down', rootOnly(), async (t) => {
  t.test('when the function throws', async (t) => {
    let prefix = '';
    await t.rejects(
      withLab({}, (lab) => {
        prefix = lab.prefix;
        throw new Error('boom');
      }),
      { message: 'boom' },
    );
    t.match(prefix, /^intact-t/);
    t.same(await labNamespaces(prefix), []);
  });

  t.test('when the process is killed with SIGTERM', async (t) => {
    const script = `
      import { withLab } from ${JSON.stringify(new URL('../../lab/topology.ts', import.meta.url).href)};
      await withLab({}, async (lab) => {
        process.stdout.write(lab.prefix + '\\n');
        await new Promise(() => setInterval(() => {}, 1000));
      });`;
    const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, INTACT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let prefix = '';
    t.teardown(() => {
      if (prefix) labDownSync(prefix);
    });
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    prefix = chunk.toString().trim();
    t.equal((await labNamespaces(prefix)).length, 4, 'lab was up');
    child.kill('SIGTERM');
    const [, signal] = await once(child, 'exit');
    t.equal(signal, 'SIGTERM', 'died of the signal after cleaning up');
    t.same(await labNamespaces(prefix), []);
  });
});
