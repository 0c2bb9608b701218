// What the client saw on its wire during a failover, from a classic pcap file written
// by tcpdump in the client's namespace: every TCP RST (either way), and the stall — the
// gap between the last frame the VIP sent from the primary's MAC and the first it sent
// from the backup's MAC (DESIGN: "client-visible stall", seen at the client).
// A frame from the backup whose TSval is below the last TSval the primary sent is
// dropped by the client's PAWS check (DESIGN rule 8) and ends no stall: the stall ends
// at the first backup frame the client can accept. Such frames are counted too.
// Only Ethernet + IPv4 + TCP is looked at; anything else in the file is skipped.

export interface PcapSummary {
  frames: number;
  /** Frames of connections whose SYN this capture did not see (left from before): skipped. */
  foreign: number;
  /** TCP segments with RST set, from the VIP to the client and from the client. */
  rstFromVip: number;
  rstToVip: number;
  /** Frames from the VIP, by the MAC that sent them. */
  fromPrimary: number;
  fromBackup: number;
  /** Capture time (µs since epoch) of the last VIP frame from the primary's MAC. */
  lastPrimaryUs?: number;
  /** ... and of the first VIP frame from the backup's MAC. */
  firstBackupUs?: number;
  /** ... and of the first one whose TSval passes the client's PAWS check. */
  firstAcceptableBackupUs?: number;
  /** Backup frames with a TSval below the primary's last (the client drops them). */
  tsBackwards: number;
  /** Per connection, firstAcceptableBackup - lastPrimary in ms (when both exist):
   *  the worst connection's stall, and the median connection's. */
  stallMs?: number;
  stallMedianMs?: number;
  /** Connections with a stall measured. */
  stalledConnections: number;
  /** firstBackup - lastPrimary in ms: the silence on the wire, PAWS aside. */
  silenceMs?: number;
  /** For uploads: per connection, the client's first data segment after the backup
   *  spoke to it, minus lastPrimary, in ms (the worst connection): how long the
   *  client's own data stalled. Its timers decide it unless something makes it resend
   *  sooner (backup-daemon/takeover.ts pmtuKick). */
  clientResumeMs?: number;
}

export interface PcapRoles {
  vip: string;
  primaryMac: string;
  backupMac: string;
}

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const LINKTYPE_ETHERNET = 1;
const TCP_RST = 0x04;
const TCP_SYN = 0x02;
const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_TS = 8;

/** The TSval of a TCP header's timestamp option, if it has one. */
function tsVal(tcp: Buffer): number | undefined {
  const end = Math.min(tcp.length, ((tcp[12]! >> 4) & 0xf) * 4);
  let i = 20;
  while (i < end) {
    const kind = tcp[i]!;
    if (kind === TCPOPT_EOL) return undefined;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    const len = tcp[i + 1];
    if (len === undefined || len < 2) return undefined;
    if (kind === TCPOPT_TS && len === 10 && i + 6 <= end) return tcp.readUInt32BE(i + 2);
    i += len;
  }
  return undefined;
}

/** a < b in 32-bit serial arithmetic (RFC 1982), as PAWS compares TSvals. */
function tsBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

function ipv4(s: string): number {
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

function macBytes(s: string): Buffer {
  return Buffer.from(s.split(':').map((h) => parseInt(h, 16)));
}

export function summarizePcap(file: Buffer, roles: PcapRoles): PcapSummary {
  const out: PcapSummary = { frames: 0, foreign: 0, rstFromVip: 0, rstToVip: 0, fromPrimary: 0, fromBackup: 0, tsBackwards: 0, stalledConnections: 0 };
  if (file.length < 24) return out;
  let le: boolean;
  const m = file.readUInt32LE(0);
  if (m === MAGIC_US || m === MAGIC_NS) le = true;
  else if (file.readUInt32BE(0) === MAGIC_US || file.readUInt32BE(0) === MAGIC_NS) le = false;
  else throw new Error('not a pcap file');
  const u32 = (off: number) => (le ? file.readUInt32LE(off) : file.readUInt32BE(off));
  const nano = (le ? m : file.readUInt32BE(0)) === MAGIC_NS;
  if (u32(20) !== LINKTYPE_ETHERNET) throw new Error(`pcap link type ${u32(20)} is not Ethernet`);

  const vip = ipv4(roles.vip);
  const pMac = macBytes(roles.primaryMac);
  const bMac = macBytes(roles.backupMac);
  // Per connection (keyed by the client's port and address): each has its own TSval clock.
  const flows = new Map<number, { lastPrimaryUs?: number; lastPrimaryTs?: number; firstAcceptableUs?: number; clientResumeUs?: number }>();
  const opened = new Set<number>();
  let off = 24;
  while (off + 16 <= file.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const caplen = u32(off + 8);
    const us = sec * 1e6 + (nano ? frac / 1000 : frac);
    const f = file.subarray(off + 16, Math.min(file.length, off + 16 + caplen));
    off += 16 + caplen;
    out.frames++;
    // Ethernet II, IPv4, protocol TCP; the capture keeps at least the headers.
    if (f.length < 14 + 20 || f.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (f[14]! & 0x0f) * 4;
    if (f[14 + 9] !== 6 || f.length < 14 + ihl + 14) continue;
    const src = f.readUInt32BE(14 + 12);
    const dst = f.readUInt32BE(14 + 16);
    const flags = f[14 + ihl + 13]!;
    const clientPort = src === vip ? f.readUInt16BE(14 + ihl + 2) : f.readUInt16BE(14 + ihl);
    const flowKey = (src === vip ? dst : src) * 65536 + clientPort;
    // Only connections opened during this capture count: a connection left over from an
    // earlier cycle (its client gone, its kernel still retransmitting) is rightly reset
    // by a new primary that never knew it.
    if (dst === vip && flags & TCP_SYN) opened.add(flowKey);
    if (!opened.has(flowKey)) {
      out.foreign++;
      continue;
    }
    if (src === vip) {
      if (flags & TCP_RST) out.rstFromVip++;
      const srcMac = f.subarray(6, 12);
      const tcp = f.subarray(14 + ihl);
      const ts = tsVal(tcp);
      let flow = flows.get(flowKey);
      if (!flow) flows.set(flowKey, (flow = {}));
      if (srcMac.equals(pMac)) {
        out.fromPrimary++;
        out.lastPrimaryUs = us;
        flow.lastPrimaryUs = us;
        if (ts !== undefined && (flow.lastPrimaryTs === undefined || tsBefore(flow.lastPrimaryTs, ts))) flow.lastPrimaryTs = ts;
      } else if (srcMac.equals(bMac)) {
        out.fromBackup++;
        out.firstBackupUs ??= us;
        const backwards = ts !== undefined && flow.lastPrimaryTs !== undefined && tsBefore(ts, flow.lastPrimaryTs);
        if (backwards) out.tsBackwards++;
        else {
          out.firstAcceptableBackupUs ??= us;
          flow.firstAcceptableUs ??= us;
        }
      }
    } else if (dst === vip) {
      if (flags & TCP_RST) out.rstToVip++;
      const flow = flows.get(flowKey);
      const payload = f.readUInt16BE(14 + 2) - ihl - ((f[14 + ihl + 12]! >> 4) & 0xf) * 4;
      if (flow?.firstAcceptableUs !== undefined && payload > 0) flow.clientResumeUs ??= us;
    }
  }
  if (out.lastPrimaryUs !== undefined && out.firstBackupUs !== undefined) {
    out.silenceMs = Math.round(out.firstBackupUs - out.lastPrimaryUs) / 1000;
  }
  const stalls: number[] = [];
  for (const fl of flows.values()) {
    if (fl.lastPrimaryUs !== undefined && fl.firstAcceptableUs !== undefined) stalls.push(fl.firstAcceptableUs - fl.lastPrimaryUs);
  }
  stalls.sort((a, b) => a - b);
  for (const fl of flows.values()) {
    if (fl.lastPrimaryUs === undefined || fl.clientResumeUs === undefined) continue;
    const ms = Math.round(fl.clientResumeUs - fl.lastPrimaryUs) / 1000;
    if (out.clientResumeMs === undefined || ms > out.clientResumeMs) out.clientResumeMs = ms;
  }
  out.stalledConnections = stalls.length;
  if (stalls.length) {
    out.stallMs = Math.round(stalls[stalls.length - 1]!) / 1000;
    out.stallMedianMs = Math.round(stalls[Math.floor(stalls.length / 2)]!) / 1000;
  }
  return out;
}
