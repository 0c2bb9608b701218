// Puts a running primary under the backup's protection: the replication channel, the
// mirror on every connection of a listener that opted in, heartbeats on both paths,
// and the rules for losing the backup or the VIP (DESIGN.md rule 6):
//   - backup silent on every path, or the replication link gone: keep serving,
//     unprotected, and say so loudly; retry the link, and once it is back protect new
//     connections at once and the others at their app's next checkpoint (the mirror's
//     resync: the only instant the primary holds everything a replica needs);
//   - another host claims the VIP: stop sending at once.
import { EventEmitter } from 'node:events';
import { replayWindow, type Config } from '../../shared/config.js';
import { logger } from '../../shared/log.js';
import { toIpv4U32 } from '../../shared/wire/addr.js';
import { HeartbeatPeer, heartbeatsFor } from '../../shared/heartbeat/peer.js';
import { macToString } from '../../shared/wire/addr.js';
import type { Runtime } from '../runtime.js';
import { ReplicationChannel } from './channel.js';
import { Mirror } from './mirror.js';

const log = logger('protection');

/** How long a dropped replication link may hold the gates shut while the backup's
 *  heartbeats say it is alive. */
const LINK_GRACE_MS = 3000;

/** The longest the primary may go without running before its output is held
 *  (VipHost.fenceAfterFreeze). A freeze that starts right after a beat can be declared
 *  a death after the dead time minus one beat interval; half of that leaves room for
 *  late timers, and a false fence only costs one event-loop iteration. Defaults: 35 ms. */
export function wakeFenceMs(replication: Config['replication']): number {
  return Math.max(1, (replication.deadTimeMs - replication.heartbeatIntervalMs) / 2);
}

export interface ProtectionEvents {
  protected: [];
  unprotected: [reason: string];
  /** Another host answers for the VIP: this primary went silent. */
  conflict: [mac: string];
}

export class Protection extends EventEmitter<ProtectionEvents> {
  private heartbeats: HeartbeatPeer | undefined;
  private channel: ReplicationChannel | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly key: Buffer;
  private linkLostTimer: NodeJS.Timeout | undefined;
  private connecting = false;
  /** Why the last connection attempt to the backup failed, for the operator. */
  private lastConnectError: string | undefined;
  private silenced = false;
  /** The mirror of a session whose link dropped: its gates stay shut until resolved. */
  private orphan: Mirror | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly config: Config,
    /** The served app's name, which the backup's must match (the HELLO carries it). */
    private readonly app = '',
  ) {
    super();
    this.key = Buffer.from(config.replication.key, 'hex');
  }

  get isProtected(): boolean {
    return this.channel?.isReady === true;
  }

  /** Starts heartbeats and connects to the backup; resolves once protected, or after
   *  `waitMs` unprotected (the link keeps being retried in the background). */
  async start(waitMs = 5000): Promise<boolean> {
    const c = this.config;
    this.runtime.host.onVipConflict((mac) => this.conflict(mac));
    this.runtime.host.fenceAfterFreeze(wakeFenceMs(c.replication));
    this.heartbeats = new HeartbeatPeer(heartbeatsFor(c, 'primary'));
    this.heartbeats.on('dead', (_at, silentMs) => this.lost(`backup silent on every heartbeat path for ${silentMs.toFixed(0)} ms`));
    this.heartbeats.on('alive', () => log.info('backup heartbeats heard'));
    this.heartbeats.on('error', (e) => log.error({ err: e.message }, 'heartbeat path failed'));
    this.heartbeats.start();
    const heard = new Promise<boolean>((resolve) => this.heartbeats!.once('alive', () => resolve(true)));
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (await this.connect()) {
        // The backup starts a primary's life from its heartbeats only (replication
        // traffic merely prolongs it): a primary that died before its first beat got
        // there would never be declared dead, and its connections would die with it.
        // The heartbeat thread takes a few hundred ms to start; protected means beating.
        const left = Math.max(0, deadline - Date.now());
        let timer: NodeJS.Timeout | undefined;
        const beating = await Promise.race([heard, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), left)))]);
        clearTimeout(timer);
        if (!beating) log.warn({ waitedMs: waitMs }, 'no heartbeat from the backup yet: it cannot tell if this primary dies now');
        return true;
      }
      if (Date.now() >= deadline || this.closed) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // The last attempt's error says what to fix: ECONNREFUSED (no backup listening),
    // EADDRNOTAVAIL (primary.replicationAddress is not this host's), a refusal, a timeout.
    this.lost(`backup not reachable at start${this.lastConnectError ? ` (last attempt: ${this.lastConnectError})` : ''}`);
    return false;
  }

  private async connect(): Promise<boolean> {
    const c = this.config;
    const ch = new ReplicationChannel({
      host: c.backup.replicationAddress,
      port: c.replication.port,
      key: this.key,
      vip: toIpv4U32(c.vip),
      localAddress: c.primary.replicationAddress,
      busyPollUs: c.replication.busyPollUs,
      app: this.app,
    });
    try {
      await ch.connect();
    } catch (e) {
      ch.close();
      this.lastConnectError = (e as Error).message;
      log.debug({ err: this.lastConnectError }, 'replication connect failed');
      return false;
    }
    this.channel = ch;
    // The backup replaced its store with the new session's: it can no longer take over
    // the connections of the old one. Their gates open now, before the new mirror
    // exists, so that mirror's gates on a connection it resynchronises are its own.
    this.orphan?.unprotect('the replication session was replaced');
    this.orphan = undefined;
    const mirror = new Mirror({
      channel: ch,
      bytesPerConnection: c.replication.storeBytesPerConnection,
      wake: () => this.runtime.host.schedule(),
      protects: (conn) => this.runtime.protectedPorts.has(conn.localPort),
      replays: c.replication.outputReplay ? () => true : undefined,
      replayWindow: replayWindow(c),
    });
    this.runtime.mirror = mirror;
    this.runtime.stack.observer = mirror;
    ch.on('down', (reason) => this.linkDown(reason));
    ch.on('confirm', () => this.heartbeats?.heard('replication'));
    const older = this.runtime.stack.connectionCount;
    log.info({ backup: `${c.backup.replicationAddress}:${c.replication.port}` }, 'protected by the backup');
    if (older > 0) {
      log.warn({ connections: older }, 'connections served before this backup came are protected again at their app\'s next checkpoint (never, for an app that does not checkpoint)');
    }
    this.emit('protected');
    return true;
  }

  /** The backup is dead (heartbeats silent on every path) or was never reachable:
   *  rule 6, keep serving, unprotected, and say so. */
  private lost(reason: string): void {
    if (this.closed) return;
    if (this.linkLostTimer) clearTimeout(this.linkLostTimer);
    this.linkLostTimer = undefined;
    const mirror = this.runtime.mirror;
    if (mirror || this.channel) {
      this.runtime.stack.observer = undefined;
      this.runtime.mirror = undefined;
      mirror?.unprotect(reason);
      this.channel?.close();
      this.channel = undefined;
    } else {
      log.error({ reason }, 'NO BACKUP: serving UNPROTECTED; a crash now loses every connection');
    }
    this.emit('unprotected', reason);
    this.retryConnect(1000);
  }

  /** The replication link dropped. That alone does not mean the backup is dead: it may
   *  have declared US dead (then it says "takeover" first, and we go silent), or the
   *  link broke while both live. Rule 1 forbids opening the gates on a guess: the
   *  backup still holds these connections and may take them over, and an ACK past what
   *  it holds would strand the client. So the gates stay shut (clients wait) until the
   *  heartbeats say the backup is dead, or a new session replaces its store, or the
   *  grace time runs out (then the backup, alive but unreachable, is given up on). */
  private linkDown(reason: string): void {
    if (this.closed) return;
    if (reason.startsWith('refused:takeover')) {
      log.error('the backup has taken over: this primary stops sending now');
      this.replaced('backup (takeover)');
      return;
    }
    log.error({ reason }, 'replication link down: holding acknowledgments and output until the backup is known dead or back');
    this.channel = undefined;
    this.orphan = this.runtime.mirror;
    this.linkLostTimer = setTimeout(() => {
      this.linkLostTimer = undefined;
      this.lost(`replication link down for ${LINK_GRACE_MS} ms with the backup alive: ${reason}`);
    }, LINK_GRACE_MS);
    this.linkLostTimer.unref();
    this.retryConnect(200);
  }

  private retryConnect(everyMs: number): void {
    if (this.retry) clearInterval(this.retry);
    this.retry = setInterval(() => {
      if (this.channel || this.closed || this.connecting) return;
      this.connecting = true;
      void this.connect().then((ok) => {
        this.connecting = false;
        if (!ok) return;
        if (this.retry) clearInterval(this.retry);
        this.retry = undefined;
        if (this.linkLostTimer) clearTimeout(this.linkLostTimer);
        this.linkLostTimer = undefined;
      });
    }, everyMs);
    this.retry.unref();
  }

  private conflict(mac: Buffer): void {
    const who = macToString(mac);
    log.error({ mac: who }, 'another host claims the VIP: this primary stops sending now');
    this.replaced(who);
  }

  /** Another host speaks for the VIP now (rule 6): silence, once. */
  private replaced(who: string): void {
    if (this.silenced) return;
    this.silenced = true;
    this.runtime.host.silence();
    this.heartbeats?.silence();
    this.emit('conflict', who);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearInterval(this.retry);
    if (this.linkLostTimer) clearTimeout(this.linkLostTimer);
    this.channel?.close();
    await this.heartbeats?.close();
  }
}
