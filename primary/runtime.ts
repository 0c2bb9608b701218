// The runtime: one TCP engine (shared/tcp/stack.ts) + one VipHost (primary/host.ts)
// + one Link, serving one VIP. Servers (primary/server.ts) take it as an option:
//
//   const runtime = openRuntime({ link, vip: '192.0.2.100' });
//   createServer({ runtime }, onConnection).listen(80);
//
// It owns nothing of the app: ports are the only thing it arbitrates (EADDRINUSE), so
// two servers on one runtime cannot steal each other's connections.
//
// Two ways in: openRuntime({ link, vip }) with any Link (tests: shared/memory-link.ts),
// or openServiceRuntime({ ifname, vip }) which opens the AF_PACKET link (native/) on a
// service interface with a BPF filter for ARP and IPv4 to the VIP.
import type { Link } from '../shared/link.js';
import { logger } from '../shared/log.js';
import { IntactError } from '../shared/errors.js';
import { toIpv4U32, u32ToIpv4 } from '../shared/wire/addr.js';
import { TcpStack, type StackOptions, type TcpConnection } from '../shared/tcp/stack.js';
import type { Mirror } from './replication/mirror.js';
import { arpOrIpv4To } from '../native/bpf.js';
import { openLink } from '../native/index.js';
import { VipHost, type HostOptions, type HostStack } from './host.js';
import type { EngineListener, ListenRuntime } from './server.js';
import type { EngineConnection, SocketProtection } from './socket.js';
import { systemError } from './socket.js';
import { assertVipNotInKernel, kernelAddresses } from '../shared/vip-guard.js';

const log = logger('runtime');

const EPHEMERAL_FIRST = 49152;
/** Payload of one GSO super-frame: 65535 (IPv4 total length) - 20 (IP) - 60 (TCP max). */
const GSO_MAX_BYTES = 65535 - 20 - 60;
const EPHEMERAL_LAST = 65535;

export interface RuntimeOptions {
  link: Link;
  /** The service address, dotted or as an unsigned 32-bit number. */
  vip: string | number;
  /** The engine's options; `wake` is the runtime's own. */
  stackOptions?: Omit<StackOptions, 'wake'>;
  /** Monotonic clock in ms (tests inject one); default performance.now(). */
  now?: () => number;
  /** Host options beyond link/vip/stack/now (timers, neighbours...). */
  host?: Omit<HostOptions, 'link' | 'vip' | 'stack' | 'now'>;
  /** Send gratuitous ARP for the VIP at start (default true): clients that knew the
   *  VIP at another MAC (a previous run, the backup) learn ours at once. */
  announce?: boolean;
  /** Close the link with the runtime (default true: the runtime was given it to own). */
  ownsLink?: boolean;
}

export class Runtime implements ListenRuntime {
  readonly vip: string;
  readonly vipU32: number;
  readonly link: Link;
  readonly stack: TcpStack;
  readonly host: VipHost;
  private readonly ports = new Set<number>();
  /** Ports whose listener opted into replication (the thesis' backup socket option). */
  readonly protectedPorts = new Set<number>();
  /** The replication layer, once a backup protects this runtime (issue 4). */
  mirror: Mirror | undefined;
  private readonly ownsLink: boolean;
  private closed = false;

  constructor(o: RuntimeOptions) {
    this.vipU32 = toIpv4U32(o.vip);
    this.vip = u32ToIpv4(this.vipU32);
    this.link = o.link;
    this.ownsLink = o.ownsLink ?? true;
    // The stack wakes the host, the host drives the stack: tie the knot through a
    // closure, since neither exists before the other.
    let host: VipHost | undefined;
    // A GSO link takes one super-frame per window-full instead of one per MSS: the
    // biggest lever for send throughput (DESIGN.md). The IPv4 total length caps it.
    const gsoMaxBytes = o.stackOptions?.gsoMaxBytes ?? (o.link.caps.gso ? GSO_MAX_BYTES : 0);
    this.stack = new TcpStack({ ...o.stackOptions, gsoMaxBytes, wake: () => host?.schedule() });
    const stack = this.stack;
    // The host polls the stack after each batch of frames it took in. What those frames
    // brought and what the app answered at once is replicated first: the batch is on its
    // way to the backup while the stack works out its output, whose payload and ACKs the
    // gates hold until the backup confirms that batch (strict output commit).
    const hostStack: HostStack = {
      input: (d, now) => stack.input(d, now),
      poll: (now) => {
        this.mirror?.flush();
        return stack.poll(now);
      },
      pollAt: () => stack.pollAt(),
    };
    host = new VipHost({ ...o.host, link: o.link, vip: this.vipU32, stack: hostStack, now: o.now });
    this.host = host;
  }

  /** Start receiving; announce the VIP unless told not to. */
  start(announce = true): this {
    this.host.start();
    if (announce) {
      this.host.announce().catch((err: Error) => log.warn({ err: err.message }, 'VIP announcement failed'));
    }
    log.info({ vip: this.vip, link: this.link.name }, 'runtime started');
    return this;
  }

  /** The socket hooks of a mirrored connection; undefined when unprotected. */
  protection(conn: EngineConnection): SocketProtection | undefined {
    return this.mirror?.protectionFor(conn as TcpConnection);
  }

  /** Puts an unprotected connection under the backup's protection at this checkpoint
   *  (Mirror.resync); false when there is no backup or it cannot be done now. */
  resync(conn: EngineConnection, state: Buffer, consumed: number, produced: number): boolean {
    return this.mirror?.resync(conn as TcpConnection, state, consumed, produced) ?? false;
  }

  listen(port: number, opts: { backlog?: number; backup?: boolean } = {}): EngineListener {
    if (this.closed) throw new IntactError('ERR_INTACT_CLOSED', 'runtime is closed');
    if (port === 0) port = this.freePort();
    if (this.ports.has(port)) {
      const e = systemError('EADDRINUSE', 'listen');
      e.message = `listen EADDRINUSE: address already in use ${this.vip}:${port}`;
      throw e;
    }
    const inner = this.stack.listen(port, { backlog: opts.backlog, addr: this.vipU32 });
    this.ports.add(port);
    if (opts.backup !== false) this.protectedPorts.add(port);
    const ports = this.ports;
    const protectedPorts = this.protectedPorts;
    return {
      port,
      get onConnection() {
        return inner.onConnection as ((c: EngineConnection) => void) | undefined;
      },
      set onConnection(fn: ((c: EngineConnection) => void) | undefined) {
        inner.onConnection = fn;
      },
      close() {
        inner.close();
        ports.delete(port);
        protectedPorts.delete(port);
      },
    };
  }

  /** Let the last segments (FINs, RSTs of closing sockets) leave, then stop. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Destroyed sockets woke the host; its pass runs on the next immediate.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    this.host.close();
    if (this.ownsLink) this.link.close();
    log.info({ vip: this.vip, host: this.host.stats, stack: this.stack.stats }, 'runtime closed');
  }

  private freePort(): number {
    for (let p = EPHEMERAL_FIRST; p <= EPHEMERAL_LAST; p++) if (!this.ports.has(p)) return p;
    throw systemError('EADDRINUSE', 'listen');
  }
}

/** A started runtime over `link`. */
export function openRuntime(o: RuntimeOptions): Runtime {
  return new Runtime(o).start(o.announce ?? true);
}

export interface ServiceRuntimeOptions extends Omit<RuntimeOptions, 'link' | 'ownsLink'> {
  /** The service interface (config: primary.serviceInterface). */
  ifname: string;
  /** Open the link inside this network namespace (name under /run/netns). */
  netns?: string;
  /** Offer GSO / checksum offload on send (default true). */
  gso?: boolean;
  /** Receive ring slots (config: primary.rxRingFrames; default the addon's). */
  ringFrames?: number;
}

/** A started runtime on a real interface: AF_PACKET link (needs CAP_NET_RAW) whose BPF
 *  filter lets only ARP and IPv4 to the VIP reach user space. */
export function openServiceRuntime(o: ServiceRuntimeOptions): Runtime {
  assertVipNotInKernel(u32ToIpv4(toIpv4U32(o.vip)), kernelAddresses(o.netns));
  const link = openLink(o.ifname, { filter: arpOrIpv4To(toIpv4U32(o.vip)), netns: o.netns, gso: o.gso, ringFrames: o.ringFrames });
  try {
    return openRuntime({ ...o, link, ownsLink: true });
  } catch (e) {
    link.close();
    throw e;
  }
}
