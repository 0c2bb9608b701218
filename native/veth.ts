// Throwaway network namespaces joined by a veth pair, for the addon's tests and its
// benchmark (lab/ builds the real emulated cluster). Names are unique per call (prefix +
// random hex); both namespaces are deleted on cleanup and, failing that, at process exit.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface VethPair {
  /** Namespace names (under /run/netns). */
  readonly nsA: string;
  readonly nsB: string;
  /** Interface names inside them (names are per namespace, so these are fixed). */
  readonly ifA: 'va';
  readonly ifB: 'vb';
  /** Kernel addresses, when `addresses` was asked for. */
  readonly ipA: string;
  readonly ipB: string;
  /** Runs a command inside a namespace, returning its stdout. */
  exec(ns: string, cmd: string, args: readonly string[]): string;
  /** Deletes both namespaces (and with them the veth pair). Idempotent. */
  cleanup(): void;
}

const live = new Set<string>();
let exitHookInstalled = false;

function deleteNetns(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
  live.delete(ns);
}

function ip(args: readonly string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface VethOptions {
  /** Prefix of the namespace names (default 'intact-t'). */
  readonly prefix?: string;
  /** Give the kernels addresses 192.0.2.1/24 (A) and 192.0.2.2/24 (B). Default true. */
  readonly addresses?: boolean;
}

export function makeVethPair(options: VethOptions = {}): VethPair {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const ns of [...live]) deleteNetns(ns);
    });
  }
  const id = randomBytes(4).toString('hex');
  const prefix = options.prefix ?? 'intact-t';
  const nsA = `${prefix}${id}a`;
  const nsB = `${prefix}${id}b`;
  const cleanup = (): void => {
    deleteNetns(nsA);
    deleteNetns(nsB);
  };
  try {
    for (const ns of [nsA, nsB]) {
      ip(['netns', 'add', ns]);
      live.add(ns);
      // No IPv6: its router solicitations and MLD reports would be stray frames.
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { stdio: 'ignore' });
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    ip(['-n', nsA, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', nsB]);
    if (options.addresses ?? true) {
      ip(['-n', nsA, 'addr', 'add', '192.0.2.1/24', 'dev', 'va']);
      ip(['-n', nsB, 'addr', 'add', '192.0.2.2/24', 'dev', 'vb']);
    }
    ip(['-n', nsA, 'link', 'set', 'va', 'up']);
    ip(['-n', nsB, 'link', 'set', 'vb', 'up']);
  } catch (e) {
    cleanup();
    throw e;
  }
  return {
    nsA,
    nsB,
    ifA: 'va',
    ifB: 'vb',
    ipA: '192.0.2.1',
    ipB: '192.0.2.2',
    exec: (ns, cmd, args) => execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8' }),
    cleanup,
  };
}

/** Whether a program is on PATH (ethtool is optional for some tests). */
export function haveCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
