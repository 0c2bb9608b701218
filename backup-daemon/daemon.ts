// The backup daemon: holds the replica of a primary, watches it, and takes over when
// every heartbeat path has been silent for the dead time. Everything a takeover needs
// is prepared at start (the app validated, the service link open, the runtime built),
// so the takeover itself only rebuilds, restarts, claims and kicks.
//
// It prints one JSON line per event on stdout ({"event": "ready" | "session" |
// "primary-dead" | "takeover" | ...}) for scripts and `intact demo`; logs go to stderr.
import { EventEmitter } from 'node:events';
import { BACKUP_RX_RING_FRAMES, type Config } from '../shared/config.js';
import { logger } from '../shared/log.js';
import { toIpv4U32, u32ToIpv4 } from '../shared/wire/addr.js';
import { HeartbeatPeer, heartbeatsFor } from '../shared/heartbeat/peer.js';
import { openLink, setThreadNormal, setThreadRealtime } from '../native/index.js';
import { arpOrIpv4To } from '../native/bpf.js';
import { Runtime } from '../primary/runtime.js';
import type { PreparedApp, ServedApp } from '../primary/app.js';
import { ReplicationServer } from './replication-server.js';
import { takeover, type TakeoverResult } from './takeover.js';
import { REWARM_MS, warmUpTakeover } from './warmup.js';
import { assertVipNotInKernel, kernelAddresses } from '../shared/vip-guard.js';

const log = logger('backup');

/** SCHED_RR priority of the main thread during the takeover's rebuild and restart. */
const TAKEOVER_PRIORITY = 5;

export interface BackupOptions {
  config: Config;
  app: PreparedApp;
  netns?: string;
  gso?: boolean;
  /** Where event lines go (default: stdout). */
  emitLine?: (line: string) => void;
}

export type BackupState = 'watching' | 'taking-over' | 'serving';

export class BackupDaemon extends EventEmitter<{ takeover: [TakeoverResult & { detectedAt: number; lastHeardAt: number }] }> {
  state: BackupState = 'watching';
  private readonly log = log;
  private server: ReplicationServer | undefined;
  private heartbeats: HeartbeatPeer | undefined;
  private runtime: Runtime | undefined;
  private served: ServedApp | undefined;
  private readonly vip: number;
  private rewarm: NodeJS.Timeout | undefined;
  private warming: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly o: BackupOptions) {
    super();
    this.vip = toIpv4U32(o.config.vip);
  }

  private line(event: string, fields: Record<string, unknown> = {}): void {
    const s = JSON.stringify({ event, at: performance.timeOrigin + performance.now(), ...fields });
    (this.o.emitLine ?? ((l: string) => process.stdout.write(l + '\n')))(s);
  }

  async start(): Promise<void> {
    const c = this.o.config;
    // The service link is opened now: a missing interface or capability fails at start,
    // not in the middle of a takeover. The host is not started: the backup is silent on
    // the service LAN (no ARP answers for the VIP) until it takes over. Nor may its kernel
    // hold the VIP, which it will serve after a takeover (shared/vip-guard.ts).
    assertVipNotInKernel(c.vip, kernelAddresses(this.o.netns));
    const link = openLink(c.backup.serviceInterface, { filter: arpOrIpv4To(this.vip), netns: this.o.netns, gso: this.o.gso, ringFrames: c.backup.rxRingFrames ?? BACKUP_RX_RING_FRAMES });
    this.runtime = new Runtime({ link, vip: this.vip, ownsLink: true, stackOptions: c.tcp });
    this.server = new ReplicationServer({
      host: c.backup.replicationAddress,
      port: c.replication.port,
      key: Buffer.from(c.replication.key, 'hex'),
      vips: [this.vip],
      store: { bytesPerConnection: c.replication.storeBytesPerConnection },
      busyPollUs: c.replication.busyPollUs,
      app: this.o.app.app.name,
    });
    this.server.on('session', () => this.line('session', { vip: c.vip }));
    this.server.on('session-end', (_v, reason) => this.line('session-end', { reason }));
    await this.server.listen();
    this.heartbeats = new HeartbeatPeer(heartbeatsFor(c, 'backup'));
    this.heartbeats.on('alive', () => this.line('primary-alive'));
    this.heartbeats.on('path-down', (path) => this.line('path-down', { path }));
    this.heartbeats.on('path-up', (path) => this.line('path-up', { path }));
    this.heartbeats.on('error', (e) => log.error({ err: e.message }, 'heartbeat path failed'));
    this.heartbeats.on('dead', (at, silentMs, lastHeard) => {
      this.line('primary-dead', { detectedAt: at, lastHeardAt: lastHeard, silentMs });
      void this.takeOver(at, lastHeard);
    });
    this.server.on('activity', () => this.heartbeats?.heard('replication'));
    if (c.takeover.warmup) this.warmUp();
    this.heartbeats.start();
    // The buffers it will rebuild connections with: they must be the primary's (a smaller
    // receive buffer here would shrink the window clients were offered).
    const cfg = this.runtime.stack.cfg;
    this.line('ready', { vip: c.vip, app: this.o.app.app.name, port: this.o.app.port, tcp: { sndBuf: cfg.sndBuf, rcvBuf: cfg.rcvBuf } });
    log.info({ vip: c.vip, app: this.o.app.app.name }, 'backup watching the primary');
  }

  /** The takeover's code compiled before it is needed, now and every REWARM_MS while
   *  watching (warmup.ts says why), a slice per turn. A takeover stops it at the next
   *  slice. A failure is logged; it never stops the daemon. */
  private warmUp(): void {
    const run = (why: string) => {
      if (this.state !== 'watching' || !this.runtime || this.warming) return;
      const stackOptions = this.runtime.stack.cfg;
      this.warming = warmUpTakeover(stackOptions, { cancelled: () => this.closed || this.state !== 'watching' })
        .then((r) => log.info({ why, connections: r.connections, busyMs: Number(r.busyMs.toFixed(2)), wallMs: Number(r.wallMs.toFixed(1)) }, 'takeover code warmed up'))
        .catch((e: Error) => log.error({ err: e.message }, 'takeover warm-up failed (the takeover itself is unaffected)'))
        .finally(() => (this.warming = undefined));
    };
    run('start');
    this.rewarm = setInterval(() => run('periodic'), REWARM_MS);
    this.rewarm.unref();
  }

  private async takeOver(detectedAt: number, lastHeardAt: number): Promise<void> {
    if (this.state !== 'watching' || !this.runtime) return;
    this.state = 'taking-over';
    if (this.rewarm) clearInterval(this.rewarm);
    // The primary is dead to us: nothing more from it is applied, whatever arrives late.
    this.server?.endSession(this.vip, 'takeover');
    await this.heartbeats?.close();
    try {
      const t = this.o.config.takeover;
      // Below the heartbeat threads' 10: nothing of ours should preempt those.
      const priority = t.realtime ? { raise: () => setThreadRealtime(TAKEOVER_PRIORITY), lower: setThreadNormal } : undefined;
      const r = await takeover({ store: this.server?.stores.get(this.vip), runtime: this.runtime, app: this.o.app, pmtuKick: t.pmtuKick, priority });
      this.served = r.served;
      this.state = 'serving';
      // The connections are the engine's now (it shares the replica's buffers and frees
      // them as clients acknowledge); the replica would pin every byte for good.
      this.server?.stores.delete(this.vip);
      const { served: _s, ...figures } = r;
      this.line('takeover', { ...figures, detectedAt, lastHeardAt, vip: u32ToIpv4(this.vip) });
      this.emit('takeover', { ...r, detectedAt, lastHeardAt });
      log.warn({ vip: u32ToIpv4(this.vip) }, 'serving the VIP as primary now (unprotected: no backup)');
    } catch (e) {
      log.error({ err: (e as Error).message }, 'takeover failed');
      this.line('takeover-failed', { error: (e as Error).message });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.rewarm) clearInterval(this.rewarm);
    await this.heartbeats?.close();
    this.server?.close();
    await this.served?.close();
    await this.runtime?.close();
  }
}
