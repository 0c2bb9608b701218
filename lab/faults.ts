// Fault injection: kill a node, cut or heal a link, lose frames at random. A cut is a
// pulled cable that nobody notices: frames vanish but both ends keep their carrier, so
// no program learns of the fault from the link state, only from the silence, as it
// would on a real network where the break is a switch or cable further away.
//
// How each fault is made (nftables; this kernel has no netem):
//  - service-<node>: the bridge in sw drops every frame from and to that node's port
//    (table bridge intact, set cut_ports). Nothing reaches the far side, not even its
//    AF_PACKET taps.
//  - replication: table netdev intact on rep0 in both primary and backup drops at
//    egress (before the sender's own taps and the wire) and at ingress. A sender that
//    uses PACKET_QDISC_BYPASS skips the egress hook; the ingress drop still keeps its
//    frames from the far kernel, but not from a far AF_PACKET socket.
//  - loss N: the sw bridge drops each forwarded frame with probability N % (two
//    decimals), ARP included, like a bad switch.
import { IntactError } from '../shared/errors.js';
import { logger } from '../shared/log.js';
import { REPLICATION_IF, checkPrefix, portName, serviceAddress } from './plan.js';
import { killNetnsSync } from './netns.js';
import { requireLab, run } from './tools.js';

const log = logger('lab');

const TABLE = 'intact';
const LOSS_MOD = 10000;

export interface FaultState {
  /** Links cut now, by link name (service-<node>, replication), sorted. */
  cut: string[];
  /** Percent of frames the service LAN drops at random (0 = none). */
  loss: number;
}

function nft(netns: string, args: readonly string[], input?: string) {
  return run('ip', ['netns', 'exec', netns, 'nft', ...args], { input });
}

async function netnsExists(netns: string): Promise<boolean> {
  const r = await run('ip', ['netns', 'exec', netns, 'true'], { allowFail: true });
  return r.code === 0;
}

async function labNetns(prefix: string, node: string): Promise<string> {
  const netns = `${checkPrefix(prefix)}-${node}`;
  if (!(await netnsExists(netns))) {
    throw new IntactError('ERR_INTACT_LAB_NOT_UP', `lab ${prefix} has no node ${node} (namespace ${netns} is missing): run \`intact lab up --prefix ${prefix}\``);
  }
  return netns;
}

/** The sw namespace's table: one set of cut ports and a chain holding the loss rule. */
export async function ensureSwitchRules(swNetns: string): Promise<void> {
  const r = await run('ip', ['netns', 'exec', swNetns, 'nft', 'list', 'table', 'bridge', TABLE], { allowFail: true });
  if (r.code === 0) return;
  await nft(swNetns, ['-f', '-'], `table bridge ${TABLE} {
  set cut_ports { type ifname; }
  chain loss { }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname @cut_ports drop
    oifname @cut_ports drop
    jump loss
  }
}
`);
}

type LinkName = { kind: 'replication' } | { kind: 'service'; node: string };

export function parseLinkName(link: string): LinkName {
  if (link === 'replication') return { kind: 'replication' };
  const m = /^service-(.+)$/.exec(link);
  if (m && serviceAddress(m[1]!) !== undefined) return { kind: 'service', node: m[1]! };
  throw new IntactError(
    'ERR_INTACT_LAB_UNKNOWN_LINK',
    `unknown link ${JSON.stringify(link)}: links are replication and service-<node> (service-client, service-client2, ..., service-primary, service-backup)`,
  );
}

async function cutPorts(swNetns: string): Promise<string[]> {
  const r = await run('ip', ['netns', 'exec', swNetns, 'nft', '-j', 'list', 'set', 'bridge', TABLE, 'cut_ports'], { allowFail: true });
  if (r.code !== 0) return [];
  for (const item of (JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables) {
    if (item.set) return (item.set.elem ?? []).filter((e): e is string => typeof e === 'string');
  }
  return [];
}

async function hasNetdevTable(netns: string): Promise<boolean> {
  const r = await run('ip', ['netns', 'exec', netns, 'nft', 'list', 'tables', 'netdev'], { allowFail: true });
  return r.code === 0 && new RegExp(`^table netdev ${TABLE}$`, 'm').test(r.stdout);
}

/** Silently drops everything on a link, both directions. Idempotent. */
export async function cutLink(prefix: string, link: string): Promise<void> {
  requireLab(['ip', 'nft']);
  const l = parseLinkName(link);
  if (l.kind === 'service') {
    await labNetns(prefix, l.node);
    const sw = await labNetns(prefix, 'sw');
    await ensureSwitchRules(sw);
    await nft(sw, ['add', 'element', 'bridge', TABLE, 'cut_ports', `{ "${portName(l.node)}" }`]);
  } else {
    for (const node of ['primary', 'backup']) {
      const ns = await labNetns(prefix, node);
      // add+delete first makes the definition below replace any earlier one atomically.
      await nft(ns, ['-f', '-'], `add table netdev ${TABLE}
delete table netdev ${TABLE}
table netdev ${TABLE} {
  chain out { type filter hook egress device "${REPLICATION_IF}" priority 0; policy drop; }
  chain in { type filter hook ingress device "${REPLICATION_IF}" priority 0; policy drop; }
}
`);
    }
  }
  log.debug({ prefix, link }, 'link cut');
}

/** Undoes cutLink. Idempotent. */
export async function healLink(prefix: string, link: string): Promise<void> {
  requireLab(['ip', 'nft']);
  const l = parseLinkName(link);
  if (l.kind === 'service') {
    const sw = await labNetns(prefix, 'sw');
    if ((await cutPorts(sw)).includes(portName(l.node))) {
      await nft(sw, ['delete', 'element', 'bridge', TABLE, 'cut_ports', `{ "${portName(l.node)}" }`]);
    }
  } else {
    for (const node of ['primary', 'backup']) {
      const ns = await labNetns(prefix, node);
      await nft(ns, ['-f', '-'], `add table netdev ${TABLE}\ndelete table netdev ${TABLE}\n`);
    }
  }
  log.debug({ prefix, link }, 'link healed');
}

/** Random loss on the service LAN, in percent (0 removes it; up to two decimals). */
export async function setLoss(prefix: string, percent: number): Promise<void> {
  requireLab(['ip', 'nft']);
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
    throw new IntactError('ERR_INTACT_INVALID_ARG', `loss must be a percentage from 0 to 100, got ${percent}`);
  }
  const sw = await labNetns(prefix, 'sw');
  await ensureSwitchRules(sw);
  const threshold = Math.round((percent * LOSS_MOD) / 100);
  // numgen's result is below the modulus, so 100 % is a plain drop rule.
  const rule =
    threshold >= LOSS_MOD
      ? `add rule bridge ${TABLE} loss drop\n`
      : threshold > 0
        ? `add rule bridge ${TABLE} loss numgen random mod ${LOSS_MOD} < ${threshold} drop\n`
        : '';
  // One transaction: there is never a moment with two loss rules or none in between.
  await nft(sw, ['-f', '-'], `flush chain bridge ${TABLE} loss\n${rule}`);
  log.debug({ prefix, percent: (threshold * 100) / LOSS_MOD }, 'loss set');
}

/** SIGKILL to every process in the node's namespace, as a power cut would. Returns the
 *  PIDs killed; they are gone from the namespace when this returns. */
export async function killNode(prefix: string, node: string): Promise<number[]> {
  requireLab(['ip']);
  const ns = await labNetns(prefix, node);
  const pids = killNetnsSync(ns);
  log.debug({ prefix, node, pids }, 'node killed');
  return pids;
}

interface NftRule {
  rule?: { chain: string; expr: { match?: { left?: { numgen?: { mod: number } }; right?: unknown }; drop?: null }[] };
}

/** The faults in force now, read back from nftables. */
export async function readFaults(prefix: string): Promise<FaultState> {
  const cut: string[] = [];
  let loss = 0;
  const sw = `${prefix}-sw`;
  if (await netnsExists(sw)) {
    for (const port of await cutPorts(sw)) cut.push(`service-${port.slice(2)}`);
    const r = await run('ip', ['netns', 'exec', sw, 'nft', '-j', 'list', 'chain', 'bridge', TABLE, 'loss'], { allowFail: true });
    if (r.code === 0) {
      for (const item of (JSON.parse(r.stdout) as { nftables: NftRule[] }).nftables) {
        const expr = item.rule?.expr ?? [];
        const m = expr[0]?.match;
        if (m?.left?.numgen && typeof m.right === 'number') loss = (m.right * 100) / m.left.numgen.mod;
        else if (expr.length === 1 && 'drop' in expr[0]!) loss = 100;
      }
    }
  }
  for (const node of ['primary', 'backup']) {
    const ns = `${prefix}-${node}`;
    if ((await netnsExists(ns)) && (await hasNetdevTable(ns))) {
      cut.push('replication');
      break;
    }
  }
  return { cut: cut.sort(), loss };
}
