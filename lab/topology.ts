// Building, inspecting and removing a lab: the library the CLI and the tests of every
// area call. Each step looks at what exists before acting, so `up` repairs a half-made
// lab and running it twice changes nothing; `down` finds a lab by name prefix alone,
// so it also cleans up after a crash that lost every record of what was made.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseConfig, type ConfigInput } from '../shared/config.js';
import { IntactError } from '../shared/errors.js';
import { logger } from '../shared/log.js';
import type { IpLink } from '../shared/ip-json.js';
import {
  BRIDGE_IF,
  DEFAULT_STATE_ROOT,
  REPLICATION_IF,
  REPLICATION_PORT,
  SERVICE_IF,
  VIP,
  SERVICE_PREFIX_LENGTH,
  checkPrefix,
  findNode,
  nodeOfNetns,
  planLab,
  portName,
  replicationAddress,
  serviceAddress,
  uniquePrefix,
  type LabNode,
  type LabPlan,
  type PlanOptions,
} from './plan.js';
import { ensureSwitchRules, readFaults, type FaultState } from './faults.js';
import { killNetnsSync, netnsPidsSync } from './netns.js';
import { requireLab, run, runSync, toolPath, type RunResult } from './tools.js';

const log = logger('lab');

export interface UpOptions extends PlanOptions {
  /** Turn off TX checksum offload (and so TSO/GSO) on the clients' service interfaces:
   *  their kernels then send MSS-sized frames with filled-in checksums. */
  txCsumOff?: boolean;
  /** Settings merged over the lab's config (objects merged key by key, anything else
   *  replaced), validated like any config: `intact scenario --set` uses it for A/B runs
   *  of one setting. */
  config?: ConfigPatch;
}

/** Part of a config file's JSON, merged over another (mergeConfig). */
export type ConfigPatch = { [key: string]: unknown };

/** `patch` merged over `base`: objects key by key, other values replaced. */
export function mergeConfig<T extends object>(base: T, patch: ConfigPatch): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) {
    // A JSON value may carry "__proto__" as an own key: never let it reach a prototype.
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    const b = out[k];
    const isObj = (x: unknown): x is ConfigPatch => typeof x === 'object' && x !== null && !Array.isArray(x);
    out[k] = isObj(v) && isObj(b) ? mergeConfig(b, v) : v;
  }
  return out as T;
}

/** A lab that is up: its plan plus nothing else to remember (state lives in the kernel). */
export type Lab = LabPlan;

// ---------------------------------------------------------------- namespaces

/** Every network namespace on the machine (names only). */
export async function listNetns(): Promise<string[]> {
  const r = await run('ip', ['-j', 'netns', 'list']);
  return parseNetnsList(r.stdout);
}

function parseNetnsList(out: string): string[] {
  if (!out.trim()) return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

/** This prefix's lab namespaces that exist now, whatever state the lab is in. */
export async function labNamespaces(prefix: string): Promise<string[]> {
  checkPrefix(prefix);
  return (await listNetns()).filter((ns) => nodeOfNetns(prefix, ns) !== undefined);
}

async function linkExists(netns: string, ifname: string): Promise<boolean> {
  const r = await run('ip', ['-n', netns, 'link', 'show', 'dev', ifname], { allowFail: true });
  return r.code === 0;
}

async function sysctl(netns: string, settings: Record<string, string>): Promise<void> {
  // Writing /proc/sys directly needs the namespace's own /proc/sys/net, which `ip netns
  // exec` provides; the sysctl binary is not always installed, sh is.
  const script = Object.entries(settings)
    .map(([k, v]) => `echo ${v} > /proc/sys/${k.replaceAll('.', '/')}`)
    .join(' && ');
  await run('ip', ['netns', 'exec', netns, 'sh', '-c', script]);
}

// ---------------------------------------------------------------- up

async function ensureNamespace(node: LabNode, existing: Set<string>): Promise<void> {
  if (!existing.has(node.netns)) await run('ip', ['netns', 'add', node.netns]);
  await run('ip', ['-n', node.netns, 'link', 'set', 'lo', 'up']);
  // IPv6 would put router solicitations, MLD reports and DAD probes on the service LAN,
  // noise every frame handler of the user-space stack would have to skip; the lab is IPv4.
  await sysctl(node.netns, {
    'net.ipv6.conf.all.disable_ipv6': '1',
    'net.ipv6.conf.default.disable_ipv6': '1',
    // No routing between the lab's links or to anywhere: the lab is a closed box.
    'net.ipv4.ip_forward': '0',
  });
  // 10,000-connection runs back to back leave 10,000 connections in TIME-WAIT each on
  // the client for 60 s: the default range (32768-60999, 28,232 ports) ran out at the
  // third run (EADDRNOTAVAIL, takeover-vs-connections --levels 10000). Nothing listens
  // in a client namespace, so its whole unprivileged range can be ephemeral.
  if (node.role === 'client') await sysctl(node.netns, { 'net.ipv4.ip_local_port_range': '1024 65535' });
}

async function ensureBridge(sw: LabNode): Promise<void> {
  if (!(await linkExists(sw.netns, BRIDGE_IF))) {
    // STP off and no forward delay: ports forward the moment they are up, so a test
    // does not wait 30 s; no multicast snooping, so the bridge floods like a plain hub.
    await run('ip', [
      '-n', sw.netns, 'link', 'add', BRIDGE_IF, 'type', 'bridge',
      'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0',
    ]);
  }
  await run('ip', ['-n', sw.netns, 'link', 'set', BRIDGE_IF, 'up']);
}

/** A veth pair with its two ends created directly in their namespaces: nothing ever
 *  appears in the host's namespace, not even for a moment. */
async function ensureVeth(
  a: { netns: string; name: string; mac?: string },
  b: { netns: string; name: string; mac?: string },
): Promise<void> {
  if (await linkExists(a.netns, a.name)) return;
  // One end without the other means something else took the name; clear it.
  if (await linkExists(b.netns, b.name)) await run('ip', ['-n', b.netns, 'link', 'del', b.name]);
  await run('ip', [
    '-n', a.netns, 'link', 'add', a.name, ...(a.mac ? ['address', a.mac] : []),
    'type', 'veth', 'peer', 'name', b.name, ...(b.mac ? ['address', b.mac] : []), 'netns', b.netns,
  ]);
}

async function configureAddress(netns: string, ifname: string, cidr: string): Promise<void> {
  // `replace` makes a second run a no-op; flush first so a changed plan leaves no stale address.
  const r = await run('ip', ['-n', netns, '-j', 'addr', 'show', 'dev', ifname]);
  const have = (JSON.parse(r.stdout || '[]') as IpLink[])[0]?.addr_info?.filter((a) => a.family === 'inet') ?? [];
  for (const a of have) {
    if (`${a.local}/${a.prefixlen}` !== cidr) await run('ip', ['-n', netns, 'addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', ifname]);
  }
  await run('ip', ['-n', netns, 'addr', 'replace', cidr, 'dev', ifname]);
  await run('ip', ['-n', netns, 'link', 'set', ifname, 'up']);
}

/** The config a lab of `plan` runs with: the lab's addresses and defaults, `patch`
 *  merged over them, validated like any config file (a refused value throws
 *  ERR_INTACT_CONFIG naming the field). */
function labConfig(plan: LabPlan, patch: ConfigPatch, key: string): ConfigInput {
  const labDefaults: ConfigInput = {
    vip: VIP,
    servicePrefixLength: SERVICE_PREFIX_LENGTH,
    primary: {
      serviceInterface: SERVICE_IF,
      serviceAddress: serviceAddress('primary')!,
      replicationInterface: REPLICATION_IF,
      replicationAddress: replicationAddress('primary'),
    },
    backup: {
      serviceInterface: SERVICE_IF,
      serviceAddress: serviceAddress('backup')!,
      replicationInterface: REPLICATION_IF,
      replicationAddress: replicationAddress('backup'),
    },
    replication: { port: REPLICATION_PORT, key, heartbeatIntervalMs: 10, deadTimeMs: 80, storeBytesPerConnection: 4 * 1024 * 1024 },
    logDir: join(plan.stateDir, 'logs'),
  };
  const cfg = mergeConfig(labDefaults, patch);
  parseConfig(cfg, plan.configs.primary); // the lab must never write a config its own programs refuse
  return cfg;
}

/** Throws ERR_INTACT_CONFIG when `patch` over the lab's config is not a valid config:
 *  `intact scenario --set` checks its settings before it builds anything, so a typo
 *  costs no lab. */
export function checkConfigPatch(patch: ConfigPatch): void {
  labConfig(planLab(), patch, '0'.repeat(64));
}

function writeLabConfig(plan: LabPlan, patch: ConfigPatch = {}): void {
  mkdirSync(plan.stateDir, { recursive: true, mode: 0o700 });
  const path = plan.configs.primary;
  // Keep the key of an earlier `up`: programs already running with it stay in step.
  let key = randomBytes(32).toString('hex');
  if (existsSync(path)) {
    try {
      key = (JSON.parse(readFileSync(path, 'utf8')) as ConfigInput).replication.key;
    } catch {
      // unreadable: write a fresh one
    }
  }
  const cfg = labConfig(plan, patch, key);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/** Builds the lab (or repairs it, or does nothing when it is complete). Clients beyond
 *  `clients` left by an earlier, larger `up` are removed. */
export async function labUp(opts: UpOptions = {}): Promise<Lab> {
  const plan = planLab(opts);
  requireLab(opts.txCsumOff ? ['ip', 'nft', 'ethtool'] : ['ip', 'nft']);
  log.debug({ prefix: plan.prefix, clients: plan.clients }, 'lab up');

  const existing = new Set(await listNetns());
  const wanted = new Set(plan.nodes.map((n) => n.netns));
  for (const ns of existing) {
    if (nodeOfNetns(plan.prefix, ns) !== undefined && !wanted.has(ns)) removeNamespaceSync(ns);
  }
  for (const node of plan.nodes) await ensureNamespace(node, existing);

  const sw = findNode(plan, 'sw');
  await ensureBridge(sw);
  await ensureSwitchRules(sw.netns);

  for (const node of plan.nodes) {
    if (node.role === 'sw') continue;
    const svc = node.interfaces.find((i) => i.kind === 'service')!;
    await ensureVeth({ netns: sw.netns, name: portName(node.node) }, { netns: node.netns, name: SERVICE_IF, mac: svc.mac });
    await run('ip', ['-n', sw.netns, 'link', 'set', portName(node.node), 'master', BRIDGE_IF, 'up']);
    await configureAddress(node.netns, SERVICE_IF, svc.cidr!);
    if (opts.txCsumOff && node.role === 'client') {
      await run('ip', ['netns', 'exec', node.netns, 'ethtool', '-K', SERVICE_IF, 'tx', 'off']);
    }
  }

  const primary = findNode(plan, 'primary');
  const backup = findNode(plan, 'backup');
  const pRep = primary.interfaces.find((i) => i.kind === 'replication')!;
  const bRep = backup.interfaces.find((i) => i.kind === 'replication')!;
  await ensureVeth(
    { netns: primary.netns, name: REPLICATION_IF, mac: pRep.mac },
    { netns: backup.netns, name: REPLICATION_IF, mac: bRep.mac },
  );
  await configureAddress(primary.netns, REPLICATION_IF, pRep.cidr!);
  await configureAddress(backup.netns, REPLICATION_IF, bRep.cidr!);

  writeLabConfig(plan, opts.config);
  await waitOperUp(plan);
  return plan;
}

/** The kernel reports carrier on a new veth a little later (linkwatch runs at most once
 *  a second): wait for it, so frames sent the moment `up` returns are not dropped. */
async function waitOperUp(plan: LabPlan, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const down: string[] = [];
    for (const n of plan.nodes) {
      const r = await run('ip', ['-n', n.netns, '-j', 'link', 'show']);
      for (const l of JSON.parse(r.stdout || '[]') as IpLink[]) {
        if (l.ifname !== 'lo' && l.operstate !== 'UP') down.push(`${n.node}:${l.ifname}=${l.operstate}`);
      }
    }
    if (down.length === 0) return;
    if (Date.now() > deadline) {
      throw new IntactError('ERR_INTACT_LAB_COMMAND', `lab ${plan.prefix}: links not up after ${timeoutMs} ms: ${down.join(' ')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------- down

function removeNamespaceSync(netns: string): void {
  killNetnsSync(netns);
  // Deleting the namespace destroys its veths, and with them their peers elsewhere.
  runSync('ip', ['netns', 'del', netns], { allowFail: true });
}

export interface DownOptions {
  stateRoot?: string;
}

/** Removes every namespace of this prefix (killing what runs in them) and the state
 *  directory. Safe on a half-made lab, after a crash, and when nothing exists. */
export function labDownSync(prefix: string, opts: DownOptions = {}): string[] {
  checkPrefix(prefix);
  requireLab(['ip']);
  const r = runSync('ip', ['-j', 'netns', 'list']);
  const gone = parseNetnsList(r.stdout).filter((ns) => nodeOfNetns(prefix, ns) !== undefined);
  for (const ns of gone) removeNamespaceSync(ns);
  rmSync(join(opts.stateRoot ?? DEFAULT_STATE_ROOT, prefix), { recursive: true, force: true });
  if (gone.length) log.debug({ prefix, removed: gone }, 'lab down');
  return gone;
}

export async function labDown(prefix: string, opts: DownOptions = {}): Promise<string[]> {
  return labDownSync(prefix, opts);
}

// ---------------------------------------------------------------- exec

/** Runs a command in a namespace and collects its output (exit code, never a throw for
 *  a non-zero exit). */
export function nsExec(
  netns: string,
  argv: readonly string[],
  opts: { input?: string; timeoutMs?: number; killSignal?: NodeJS.Signals } = {},
): Promise<RunResult> {
  if (argv.length === 0) throw new IntactError('ERR_INTACT_INVALID_ARG', 'nsExec needs a command');
  return run('ip', ['netns', 'exec', netns, ...argv], { ...opts, allowFail: true });
}

/** Starts a long-running command in a namespace (a server, a client). `ip netns exec`
 *  execs the command in place, so the child's PID is the command's own. */
export function nsSpawn(netns: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  if (argv.length === 0) throw new IntactError('ERR_INTACT_INVALID_ARG', 'nsSpawn needs a command');
  requireLab(['ip']);
  return spawn(toolPath('ip'), ['netns', 'exec', netns, ...argv], opts);
}

// ---------------------------------------------------------------- status

export interface LinkStatus {
  name: string;
  state: string;
  mac?: string;
  /** The bridge this interface is a port of. */
  master?: string;
  addresses: string[];
}

export interface ProcessStatus {
  pid: number;
  command: string;
}

export interface NodeStatus {
  node: string;
  netns: string;
  present: boolean;
  links: LinkStatus[];
  processes: ProcessStatus[];
}

export interface LabStatus {
  prefix: string;
  /** Every namespace of the plan exists. */
  up: boolean;
  clients: number;
  vip: string;
  stateDir: string;
  configs: { primary: string | null; backup: string | null };
  nodes: NodeStatus[];
  faults: FaultState;
}

function commandOf(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return cmd || `[${readlinkSync(`/proc/${pid}/exe`)}]`;
  } catch {
    return '?';
  }
}

async function nodeStatus(node: string, netns: string, present: boolean): Promise<NodeStatus> {
  if (!present) return { node, netns, present, links: [], processes: [] };
  const r = await run('ip', ['-n', netns, '-j', 'addr', 'show']);
  const links = (JSON.parse(r.stdout || '[]') as IpLink[]).map((l) => ({
    name: l.ifname,
    state: l.operstate,
    ...(l.address ? { mac: l.address } : {}),
    ...(l.master ? { master: l.master } : {}),
    addresses: (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
  }));
  const processes = netnsPidsSync(netns).map((pid) => ({ pid, command: commandOf(pid) }));
  return { node, netns, present, links, processes };
}

/** What exists of the lab with this prefix, observed from the kernel (not remembered). */
export async function labStatus(prefix: string, opts: DownOptions = {}): Promise<LabStatus> {
  requireLab(['ip', 'nft']);
  const found = await labNamespaces(prefix);
  const clients = found.filter((ns) => nodeOfNetns(prefix, ns)!.startsWith('client')).length;
  const plan = planLab({ prefix, clients: Math.max(1, clients), stateRoot: opts.stateRoot });
  const names = new Set(found);
  const planned = new Set(plan.nodes.map((n) => n.netns));
  const nodes = await Promise.all(plan.nodes.map((n) => nodeStatus(n.node, n.netns, names.has(n.netns))));
  // Namespaces of the prefix outside the plan (e.g. client3 while client2 is missing).
  for (const ns of found) {
    if (!planned.has(ns)) nodes.push(await nodeStatus(nodeOfNetns(prefix, ns)!, ns, true));
  }
  const config = existsSync(plan.configs.primary) ? plan.configs.primary : null;
  return {
    prefix,
    up: plan.nodes.every((n) => names.has(n.netns)),
    clients,
    vip: plan.vip,
    stateDir: plan.stateDir,
    configs: { primary: config, backup: config },
    nodes,
    faults: await readFaults(prefix),
  };
}

// ---------------------------------------------------------------- withLab

const cleanups = new Map<string, () => void>();
const SIGNALS_TO_TRAP = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function runCleanups(): void {
  for (const [prefix, fn] of cleanups) {
    cleanups.delete(prefix);
    try {
      fn();
    } catch (e) {
      process.stderr.write(`intact lab: cleanup of ${prefix} failed: ${(e as Error).message}\n`);
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  runCleanups();
  process.removeListener(sig, onSignal);
  // Deliver the signal again, now without us: with no other listener the process dies
  // of it as it would have; a listener such as signal-exit's (tap loads it) already saw
  // this delivery while we were still listening and did nothing, so it needs a second.
  process.kill(process.pid, sig);
}

/** Makes sure the lab `prefix` is torn down when this process exits or is killed by
 *  SIGINT/SIGTERM/SIGHUP, whatever else happens. Returns the function that cancels it. */
export function teardownOnExit(prefix: string, opts: DownOptions = {}): () => void {
  if (cleanups.size === 0) {
    process.on('exit', runCleanups);
    for (const s of SIGNALS_TO_TRAP) process.on(s, onSignal);
  }
  cleanups.set(prefix, () => labDownSync(prefix, opts));
  return () => {
    cleanups.delete(prefix);
    if (cleanups.size === 0) {
      process.removeListener('exit', runCleanups);
      for (const s of SIGNALS_TO_TRAP) process.removeListener(s, onSignal);
    }
  };
}

/** Builds a lab (a unique prefix unless one is given), runs `fn` with it, and tears it
 *  down afterwards: on return, on throw, on process exit and on the usual signals. */
export async function withLab<T>(opts: UpOptions, fn: (lab: Lab) => Promise<T> | T): Promise<T> {
  const prefix = opts.prefix ?? uniquePrefix();
  const cancel = teardownOnExit(prefix, opts);
  try {
    const lab = await labUp({ ...opts, prefix });
    return await fn(lab);
  } finally {
    try {
      labDownSync(prefix, opts);
    } finally {
      cancel();
    }
  }
}
