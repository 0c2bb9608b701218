// What a lab with a given prefix consists of: names, interfaces, addresses. Pure (no
// root, no tools), so tests and other engineers can know the addresses of a lab before
// or without building it, and `down` can recognise a lab's leftovers by name alone.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { IntactError } from '../shared/errors.js';

/** The service address; configured in no kernel (the user-space stack answers for it). */
export const VIP = '192.0.2.100';
export const SERVICE_PREFIX_LENGTH = 24;
export const REPLICATION_PREFIX_LENGTH = 24;
export const REPLICATION_PORT = 7400;

/** Fixed interface names inside the namespaces, the same in every lab. */
export const SERVICE_IF = 'svc0';
export const REPLICATION_IF = 'rep0';
export const BRIDGE_IF = 'br0';

export const DEFAULT_PREFIX = 'intact';
export const DEFAULT_STATE_ROOT = '/run/intact';
/** Clients take .10 up to .99: the VIP (.100) caps how many fit. */
export const MAX_CLIENTS = 90;

export type NodeRole = 'client' | 'primary' | 'backup' | 'sw';

export interface LabInterface {
  /** Interface name inside the node's namespace. */
  readonly name: string;
  readonly kind: 'service' | 'replication' | 'bridge' | 'bridge-port';
  readonly mac?: string;
  /** "192.0.2.1/24" style; absent on the bridge and its ports. */
  readonly cidr?: string;
  readonly address?: string;
  /** Where the other end of the veth lives: node and interface name. */
  readonly peer?: { readonly node: string; readonly name: string };
}

export interface LabNode {
  /** client, client2, ..., primary, backup, sw: what `lab exec <node>` takes. */
  readonly node: string;
  readonly role: NodeRole;
  readonly netns: string;
  readonly interfaces: readonly LabInterface[];
}

export interface LabPlan {
  readonly prefix: string;
  readonly clients: number;
  readonly vip: string;
  readonly servicePrefixLength: number;
  readonly nodes: readonly LabNode[];
  /** Where the lab keeps its files (the deployment config); `down` removes it. */
  readonly stateDir: string;
  /** Paths of the config files for each role (one shared file today). */
  readonly configs: { readonly primary: string; readonly backup: string };
}

export interface PlanOptions {
  prefix?: string;
  clients?: number;
  stateRoot?: string;
}

// Namespace names become file names under /run/netns; interface names never derive
// from the prefix, so only a sane character set and a modest length matter.
const PREFIX_RE = /^[a-z][a-z0-9-]{0,31}$/;

export function checkPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix) || prefix.endsWith('-')) {
    throw new IntactError(
      'ERR_INTACT_INVALID_ARG',
      `lab prefix ${JSON.stringify(prefix)} must be 1-32 characters of a-z, 0-9 and "-", starting with a letter, not ending with "-"`,
    );
  }
  return prefix;
}

/** A fresh prefix no one else uses, e.g. intact-t3fa9c1: tests build their labs with it. */
export function uniquePrefix(base = 'intact-t'): string {
  return checkPrefix(base + randomBytes(3).toString('hex'));
}

export function clientNodeName(i: number): string {
  return i === 1 ? 'client' : `client${i}`;
}

export function serviceAddress(node: string): string | undefined {
  if (node === 'primary') return '192.0.2.1';
  if (node === 'backup') return '192.0.2.2';
  const m = /^client(\d*)$/.exec(node);
  if (!m) return undefined;
  const i = m[1] === '' ? 1 : Number(m[1]);
  return i >= 1 && i <= MAX_CLIENTS ? `192.0.2.${9 + i}` : undefined;
}

export function replicationAddress(node: 'primary' | 'backup'): string {
  return node === 'primary' ? '198.51.100.1' : '198.51.100.2';
}

// Locally administered MACs that spell the address (02:00 + the four IPv4 bytes), so a
// frame in a capture says who sent it.
function macFor(ip: string): string {
  return ['02', '00', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

/** The bridge port in sw for a node's service interface; ≤ 15 characters. */
export function portName(node: string): string {
  return `p-${node}`;
}

function hostNode(prefix: string, node: string, role: NodeRole): LabNode {
  const svc = serviceAddress(node)!;
  const interfaces: LabInterface[] = [
    {
      name: SERVICE_IF,
      kind: 'service',
      mac: macFor(svc),
      address: svc,
      cidr: `${svc}/${SERVICE_PREFIX_LENGTH}`,
      peer: { node: 'sw', name: portName(node) },
    },
  ];
  if (node === 'primary' || node === 'backup') {
    const rep = replicationAddress(node);
    interfaces.push({
      name: REPLICATION_IF,
      kind: 'replication',
      mac: macFor(rep),
      address: rep,
      cidr: `${rep}/${REPLICATION_PREFIX_LENGTH}`,
      peer: { node: node === 'primary' ? 'backup' : 'primary', name: REPLICATION_IF },
    });
  }
  return { node, role, netns: `${prefix}-${node}`, interfaces };
}

export function planLab(opts: PlanOptions = {}): LabPlan {
  const prefix = checkPrefix(opts.prefix ?? DEFAULT_PREFIX);
  const clients = opts.clients ?? 1;
  if (!Number.isInteger(clients) || clients < 1 || clients > MAX_CLIENTS) {
    throw new IntactError('ERR_INTACT_INVALID_ARG', `--clients must be a whole number from 1 to ${MAX_CLIENTS}, got ${clients}`);
  }
  const hosts: LabNode[] = [];
  for (let i = 1; i <= clients; i++) hosts.push(hostNode(prefix, clientNodeName(i), 'client'));
  hosts.push(hostNode(prefix, 'primary', 'primary'), hostNode(prefix, 'backup', 'backup'));
  const sw: LabNode = {
    node: 'sw',
    role: 'sw',
    netns: `${prefix}-sw`,
    interfaces: [
      { name: BRIDGE_IF, kind: 'bridge' },
      ...hosts.map((h): LabInterface => ({ name: portName(h.node), kind: 'bridge-port', peer: { node: h.node, name: SERVICE_IF } })),
    ],
  };
  const stateDir = join(opts.stateRoot ?? DEFAULT_STATE_ROOT, prefix);
  const config = join(stateDir, 'intact.json');
  return {
    prefix,
    clients,
    vip: VIP,
    servicePrefixLength: SERVICE_PREFIX_LENGTH,
    // sw first: every veth is created from its side, so it must exist before the hosts are wired.
    nodes: [sw, ...hosts],
    stateDir,
    configs: { primary: config, backup: config },
  };
}

export function findNode(plan: LabPlan, node: string): LabNode {
  const n = plan.nodes.find((x) => x.node === node);
  if (!n) {
    throw new IntactError(
      'ERR_INTACT_LAB_UNKNOWN_NODE',
      `no node ${JSON.stringify(node)} in lab ${plan.prefix}: nodes are ${plan.nodes.map((x) => x.node).join(', ')}`,
    );
  }
  return n;
}

/** The node a namespace belongs to, when it is one of this prefix's lab namespaces. */
export function nodeOfNetns(prefix: string, netns: string): string | undefined {
  if (!netns.startsWith(prefix + '-')) return undefined;
  const node = netns.slice(prefix.length + 1);
  if (node === 'sw' || node === 'primary' || node === 'backup') return node;
  return serviceAddress(node) !== undefined && /^client(?:[2-9]|[1-9]\d)?$/.test(node) ? node : undefined;
}
