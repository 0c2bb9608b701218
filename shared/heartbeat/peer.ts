// The main thread's side of the heartbeat thread: events about the peer.
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker.js';
import { logger } from '../log.js';
import { LogLimiter } from '../log-limit.js';
import type { Config } from '../config.js';
import { toIpv4U32 } from '../wire/addr.js';
import type { HeartbeatWorkerData, WorkerEvent } from './worker.js';
import { HeardBoard, heardClockMs } from './heard.js';

export type { HeartbeatPath } from './worker.js';

export interface HeartbeatPeerEvents {
  ready: [];
  alive: [at: number];
  dead: [at: number, silentMs: number, lastHeard: number];
  'path-down': [path: string, at: number];
  'path-up': [path: string, at: number];
  refused: [path: string, reason: string];
  error: [Error];
}

export class HeartbeatPeer extends EventEmitter<HeartbeatPeerEvents> {
  private worker: Worker | undefined;
  private readonly log = logger('heartbeat');
  readonly refusedCount = new Map<string, number>();
  private readonly refusals = new LogLimiter();
  private readonly board: HeardBoard;
  private readonly pathIndex: Map<string, number>;

  constructor(private readonly data: HeartbeatWorkerData) {
    super();
    this.board = new HeardBoard(data.paths.length);
    this.pathIndex = new Map(data.paths.map((p, i) => [p.name, i]));
  }

  start(): this {
    const w = startWorker(new URL('./worker.js', import.meta.url), { workerData: { ...this.data, heard: this.board.buffer } });
    this.worker = w;
    w.on('message', (e: WorkerEvent) => this.onEvent(e));
    w.on('error', (e) => this.emit('error', e));
    return this;
  }

  /** The main thread saw traffic from the peer on `path`: as good as a beat, once
   *  beats have shown the peer alive. Cheap (shared memory, heard.ts): call it per batch. */
  heard(path: string): void {
    const i = this.pathIndex.get(path);
    if (i !== undefined) this.board.mark(i, heardClockMs());
  }

  /** Stop beating at once (a primary that lost its VIP to another host). */
  silence(): void {
    this.worker?.postMessage({ cmd: 'silence' });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private onEvent(e: WorkerEvent): void {
    switch (e.kind) {
      case 'ready': this.emit('ready'); break;
      case 'info':
        if (!e.realtime) this.log.warn('heartbeat thread runs at normal priority (no CAP_SYS_NICE): a saturated host may see false failures');
        break;
      case 'alive': this.emit('alive', e.at); break;
      case 'dead': this.emit('dead', e.at, e.silentMs, e.lastHeard); break;
      case 'path-down': this.emit('path-down', e.path, e.at); break;
      case 'path-up': this.emit('path-up', e.path, e.at); break;
      case 'refused': {
        this.refusedCount.set(e.reason, (this.refusedCount.get(e.reason) ?? 0) + 1);
        // One policy with the backup's replication refusals: a line per path and reason,
        // then one a minute with the count (a forged or misconfigured peer beats 100
        // times a second; every 1000th, as before, was a line every 10 s).
        const seen = this.refusals.admit(`${e.path} ${e.reason}`);
        if (seen.log) this.log.warn({ path: e.path, reason: e.reason, count: seen.count, since: seen.suppressed }, 'heartbeat refused');
        this.emit('refused', e.path, e.reason);
        break;
      }
      case 'error': {
        const err = Object.assign(new Error(`heartbeat path ${e.path}: ${e.message}`), { code: e.code ?? 'ERR_INTACT_HEARTBEAT' });
        this.emit('error', err);
        break;
      }
    }
  }
}

/** The heartbeat thread's settings for one role of a deployment: beats on the
 *  replication link and on the service LAN, each host's own address to the other's. */
export function heartbeatsFor(config: Config, role: 'primary' | 'backup'): HeartbeatWorkerData {
  const me = role === 'primary' ? config.primary : config.backup;
  const peer = role === 'primary' ? config.backup : config.primary;
  const port = config.replication.port;
  return {
    keyHex: config.replication.key,
    vip: toIpv4U32(config.vip),
    role,
    intervalMs: config.replication.heartbeatIntervalMs,
    deadMs: config.replication.deadTimeMs,
    paths: [
      { name: 'replication', localAddr: me.replicationAddress, port, peerAddr: peer.replicationAddress },
      { name: 'service', localAddr: me.serviceAddress, port, peerAddr: peer.serviceAddress },
    ],
  };
}
