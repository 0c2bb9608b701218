// `intact lab ...`: a thin commander layer over the lab library (topology.ts,
// faults.ts, smoke.ts). Names and flags here are a contract with users and scripts.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { IntactError } from '../shared/errors.js';
import { cutLink, healLink, killNode, setLoss } from './faults.js';
import { DEFAULT_PREFIX, MAX_CLIENTS, checkPrefix, type LabPlan } from './plan.js';
import { labSmoke } from './smoke.js';
import { labDown, labNamespaces, labStatus, labUp, type LabStatus } from './topology.js';
import { requireLab, toolPath } from './tools.js';

function prefixOption(): Option {
  return new Option('--prefix <prefix>', 'name prefix of the lab namespaces').env('INTACT_LAB_PREFIX').default(DEFAULT_PREFIX).argParser((v) => {
    try {
      return checkPrefix(v);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  });
}

function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

function percentArg(v: string): number {
  const n = Number(v.replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError('must be a percentage from 0 to 100');
  return n;
}

const out = (s: string) => process.stdout.write(s + '\n');

function printPlan(lab: LabPlan): void {
  out(`lab ${lab.prefix} is up (VIP ${lab.vip}, configured in no kernel)`);
  for (const n of lab.nodes) {
    const ifs = n.interfaces.filter((i) => i.cidr).map((i) => `${i.name} ${i.cidr}`);
    out(`  ${n.node.padEnd(8)} ${n.netns.padEnd(24)} ${ifs.join('  ') || '(bridge br0)'}`);
  }
  out(`  config   ${lab.configs.primary}`);
}

function printStatus(s: LabStatus): void {
  const present = s.nodes.filter((n) => n.present).length;
  if (present === 0) {
    out(`lab ${s.prefix}: down (no namespaces)`);
    return;
  }
  out(`lab ${s.prefix}: ${s.up ? 'up' : 'partly up'} (${present}/${s.nodes.length} namespaces, ${s.clients} client${s.clients === 1 ? '' : 's'}, VIP ${s.vip})`);
  for (const n of s.nodes) {
    if (!n.present) {
      out(`  ${n.node.padEnd(8)} ${n.netns}  MISSING`);
      continue;
    }
    out(`  ${n.node.padEnd(8)} ${n.netns}`);
    for (const l of n.links) {
      if (l.name === 'lo') continue;
      out(`    ${l.name.padEnd(10)} ${l.state.padEnd(5)} ${(l.mac ?? '').padEnd(18)} ${l.master ? `master ${l.master}` : l.addresses.join(' ')}`);
    }
    for (const p of n.processes) out(`    pid ${p.pid}: ${p.command}`);
  }
  out(`  faults: cut ${s.faults.cut.length ? s.faults.cut.join(', ') : 'none'}; loss ${s.faults.loss}%`);
  out(`  config: ${s.configs.primary ?? '(none)'}`);
}

async function requireNetns(prefix: string, node: string): Promise<string> {
  const ns = `${prefix}-${node}`;
  const found = await labNamespaces(prefix);
  if (!found.includes(ns)) {
    const nodes = found.map((x) => x.slice(prefix.length + 1));
    throw new IntactError(
      found.length ? 'ERR_INTACT_LAB_UNKNOWN_NODE' : 'ERR_INTACT_LAB_NOT_UP',
      found.length
        ? `lab ${prefix} has no node ${JSON.stringify(node)}: nodes are ${nodes.join(', ')}`
        : `lab ${prefix} is not up: run \`intact lab up --prefix ${prefix}\``,
    );
  }
  return ns;
}

export function registerLab(program: Command): void {
  // `intact lab status | head` closes our stdout early; that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  const lab = program
    .command('lab')
    .description('The emulated cluster on this machine (network namespaces) and fault injection. Needs root.');

  lab
    .command('up')
    .description('build the lab (idempotent): client(s), primary, backup, and the sw bridge')
    .addOption(prefixOption())
    .option('--clients <n>', `number of client namespaces (client, client2, ...; 1-${MAX_CLIENTS})`, intArg(1, MAX_CLIENTS), 1)
    .option('--tx-csum-off', "turn off TX checksum offload on the clients' svc0 (MSS-sized frames, checksums filled in)")
    .option('--json', 'print the lab description as JSON')
    .action(async (o: { prefix: string; clients: number; txCsumOff?: boolean; json?: boolean }) => {
      const l = await labUp({ prefix: o.prefix, clients: o.clients, txCsumOff: o.txCsumOff });
      if (o.json) out(JSON.stringify(l, null, 2));
      else printPlan(l);
    });

  lab
    .command('down')
    .description('remove the lab: kill its processes, delete its namespaces and state (idempotent)')
    .addOption(prefixOption())
    .action(async (o: { prefix: string }) => {
      const gone = await labDown(o.prefix);
      out(gone.length ? `removed ${gone.join(' ')}` : `nothing to remove for prefix ${o.prefix}`);
    });

  lab
    .command('status')
    .description('namespaces, links, addresses, processes, faults and config paths')
    .addOption(prefixOption())
    .option('--json', 'print one JSON object')
    .action(async (o: { prefix: string; json?: boolean }) => {
      const s = await labStatus(o.prefix);
      if (o.json) out(JSON.stringify(s, null, 2));
      else printStatus(s);
    });

  lab
    .command('exec')
    .description('run a command in a node\'s namespace: intact lab exec client -- curl http://192.0.2.100/')
    .addOption(prefixOption())
    .argument('<node>', 'client, client2, ..., primary, backup or sw')
    .argument('<command...>', 'the command and its arguments (after --)')
    .action(async (node: string, command: string[], o: { prefix: string }) => {
      requireLab(['ip']);
      const ns = await requireNetns(o.prefix, node);
      const child = spawn(toolPath('ip'), ['netns', 'exec', ns, ...command], { stdio: 'inherit' });
      process.exitCode = await new Promise<number>((resolve) => {
        child.on('error', () => resolve(127));
        child.on('exit', (code, signal) => {
          if (code !== null) resolve(code);
          else resolve(128 + (signal ? (constants.signals[signal] ?? 0) : 0));
        });
      });
    });

  lab
    .command('kill')
    .description('SIGKILL every process in a node\'s namespace')
    .addOption(prefixOption())
    .argument('<node>', 'client, client2, ..., primary, backup or sw')
    .action(async (node: string, o: { prefix: string }) => {
      const pids = await killNode(o.prefix, node);
      out(pids.length ? `killed ${pids.join(' ')} in ${node}` : `no processes in ${node}`);
    });

  lab
    .command('cut')
    .description('silently drop everything on a link (carrier stays up): service-<node> or replication')
    .addOption(prefixOption())
    .argument('<link>', 'service-client, service-primary, service-backup, ..., replication')
    .action(async (link: string, o: { prefix: string }) => {
      await cutLink(o.prefix, link);
      out(`cut ${link}`);
    });

  lab
    .command('heal')
    .description('undo a cut')
    .addOption(prefixOption())
    .argument('<link>', 'service-<node> or replication')
    .action(async (link: string, o: { prefix: string }) => {
      await healLink(o.prefix, link);
      out(`healed ${link}`);
    });

  lab
    .command('loss')
    .description('drop this percentage of frames on the service LAN at random (0 removes it)')
    .addOption(prefixOption())
    .argument('<percent>', '0-100, up to two decimals', percentArg)
    .action(async (percent: number, o: { prefix: string }) => {
      await setLoss(o.prefix, percent);
      out(`loss ${percent}% on the service LAN`);
    });

  lab
    .command('smoke')
    .description('build a throwaway lab, check reachability and fault injection, tear it down')
    .option('--prefix <prefix>', 'lab prefix (default: a unique intact-s<hex>)')
    .action(async (o: { prefix?: string }) => {
      if (o.prefix !== undefined) checkPrefix(o.prefix);
      const r = await labSmoke({
        prefix: o.prefix,
        onStep: (s) => out(`${s.ok ? 'ok  ' : 'FAIL'} ${s.name}${s.detail && s.detail !== 'ok' ? ` — ${s.detail}` : ''} (${s.ms} ms)`),
      });
      const failed = r.steps.filter((s) => !s.ok).length;
      out(failed ? `smoke: ${failed} of ${r.steps.length} steps FAILED` : `smoke: all ${r.steps.length} steps passed`);
      if (failed) process.exitCode = 1;
    });
}
