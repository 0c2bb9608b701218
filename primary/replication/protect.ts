// Puts a running primary under the backup's protection: the replication channel, the
// mirror on every connection of a listener that opted in, heartbeats on both paths,
// and the rules for losing the backup or the VIP (DESIGN.md rule 6):
//   - backup silent on every path, or the replication link gone: keep serving,
//     unprotected, and say so loudly; retry the link, and protect new connections
//     once it is back (connections opened meanwhile stay unprotected);
//   - another host claims the VIP: stop sending at once.
import { EventEmitter } from 'node:events';
import type { Config } from '../../shared/config.js';
import { logger } from '../../shared/log.js';
import { toIpv4U32 } from '../../shared/wire/addr.js';
import { HeartbeatPeer } from '../../shared/heartbeat/peer.js';
import { macToString } from '../../shared/wire/addr.js';
import type { Runtime } from '../runtime.js';
import { ReplicationChannel } from './channel.js';
import { Mirror } from './mirror.js';

const log = logger('protection');

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

  constructor(private readonly runtime: Runtime, private readonly config: Config) {
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
    this.heartbeats = new HeartbeatPeer({
      keyHex: c.replication.key,
      vip: toIpv4U32(c.vip),
      role: 'primary',
      intervalMs: c.replication.heartbeatIntervalMs,
      deadMs: c.replication.deadTimeMs,
      paths: [
        { name: 'replication', localAddr: c.primary.replicationAddress, port: c.replication.port, peerAddr: c.backup.replicationAddress },
        { name: 'service', localAddr: c.primary.serviceAddress, port: c.replication.port, peerAddr: c.backup.serviceAddress },
      ],
    });
    this.heartbeats.on('dead', (_at, silentMs) => this.lost(`backup silent on every heartbeat path for ${silentMs.toFixed(0)} ms`));
    this.heartbeats.on('alive', () => log.info('backup heartbeats heard'));
    this.heartbeats.on('error', (e) => log.error({ err: e.message }, 'heartbeat path failed'));
    this.heartbeats.start();
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (await this.connect()) return true;
      if (Date.now() >= deadline || this.closed) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    this.lost('backup not reachable at start');
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
    });
    try {
      await ch.connect();
    } catch (e) {
      ch.close();
      log.debug({ err: (e as Error).message }, 'replication connect failed');
      return false;
    }
    this.channel = ch;
    const mirror = new Mirror({
      channel: ch,
      bytesPerConnection: c.replication.storeBytesPerConnection,
      wake: () => this.runtime.host.schedule(),
      protects: (conn) => this.runtime.protectedPorts.has(conn.localPort),
    });
    this.runtime.mirror = mirror;
    this.runtime.stack.observer = mirror;
    ch.on('down', (reason) => this.lost(`replication link down: ${reason}`));
    ch.on('confirm', () => this.heartbeats?.heard('replication'));
    log.info({ backup: `${c.backup.replicationAddress}:${c.replication.port}` }, 'protected by the backup');
    this.emit('protected');
    return true;
  }

  private lost(reason: string): void {
    if (this.closed) return;
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
    if (!this.retry) {
      this.retry = setInterval(() => {
        if (this.channel || this.closed) return;
        void this.connect().then((ok) => {
          if (ok && this.retry) {
            clearInterval(this.retry);
            this.retry = undefined;
          }
        });
      }, 1000);
      this.retry.unref();
    }
  }

  private conflict(mac: Buffer): void {
    const who = macToString(mac);
    log.error({ mac: who }, 'another host claims the VIP: this primary stops sending now');
    this.runtime.host.silence();
    this.heartbeats?.silence();
    this.emit('conflict', who);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearInterval(this.retry);
    this.channel?.close();
    await this.heartbeats?.close();
  }
}
