// The JSON `ip -j addr` / `ip -j link` prints (iproute2), the fields intact reads: one
// shape for the VIP guard (shared/vip-guard.ts) and the lab (lab/topology.ts), which
// both parse it. shared/ may not import lab/, so it lives here.

export interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
}

export interface IpLink {
  ifname: string;
  operstate: string;
  address?: string;
  master?: string;
  link?: string;
  flags?: string[];
  addr_info?: IpAddrInfo[];
}
