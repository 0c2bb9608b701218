// The VIP belongs to intact's user-space stack alone. A kernel that also holds it
// answers ARP for it and, for every TCP segment to it that none of its own sockets owns,
// sends a RST: the clients of intact's connections would be reset by the very host that
// serves them. So the primary, and the backup that will serve the VIP after a takeover,
// refuse to start on a host whose kernel has the VIP on any interface (Linux answers for
// a local address on every interface by default).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { IntactError } from './errors.js';
import type { IpLink } from './ip-json.js';

export interface KernelAddress {
  ifname: string;
  address: string;
  prefixLength: number;
}

/** The kernel's IPv4 addresses in this process's network namespace, or in `netns` (a
 *  name under /run/netns or a path, as the native link takes it: read with `ip`). */
export function kernelAddresses(netns?: string): KernelAddress[] {
  if (netns === undefined) {
    return Object.entries(os.networkInterfaces()).flatMap(([ifname, list]) =>
      (list ?? []).filter((a) => a.family === 'IPv4').map((a) => ({ ifname, address: a.address, prefixLength: Number(a.cidr?.split('/')[1] ?? 32) })),
    );
  }
  const argv = netns.includes('/')
    ? ['nsenter', `--net=${netns}`, 'ip', '-j', '-4', 'addr', 'show']
    : ['ip', '-n', netns, '-j', '-4', 'addr', 'show'];
  let out: string;
  try {
    out = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new IntactError('ERR_INTACT_NETNS', `cannot list the addresses of network namespace ${netns}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  const links = JSON.parse(out) as IpLink[];
  return links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => ({ ifname: l.ifname, address: a.local, prefixLength: a.prefixlen })));
}

/** Throws ERR_INTACT_VIP_IN_KERNEL when `addresses` hold the VIP. */
export function assertVipNotInKernel(vip: string, addresses: readonly KernelAddress[]): void {
  const held = addresses.find((a) => a.address === vip);
  if (!held) return;
  throw new IntactError(
    'ERR_INTACT_VIP_IN_KERNEL',
    `the VIP ${vip} is configured in this host's kernel, on ${held.ifname}: the kernel would answer ARP for it and reset the connections intact serves on it. ` +
      `Only intact's user-space stack may hold the VIP: remove it (ip addr del ${vip}/${held.prefixLength} dev ${held.ifname}).`,
  );
}
