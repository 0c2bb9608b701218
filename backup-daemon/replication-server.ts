// The backup's end of the replication link: a kernel TCP server (the thesis'
// dedicated link). Each primary connects, proves it holds the shared key, and then
// streams messages that its ReplicaStore applies in order; after a burst of reads the
// backup confirms, in one message, everything applied so far (pipelined: the primary
// never waits a round trip per segment). A malformed frame, a failed check or a
// protocol violation ends that session with a logged reason; it never crashes.
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { IntactError } from '../shared/errors.js';
import { logger } from '../shared/log.js';
import { LogLimiter } from '../shared/log-limit.js';
import { BusyPoll } from '../shared/replication/busy-poll.js';
import { FrameDecoder, encode } from '../shared/replication/codec.js';
import { MsgType, type Message } from '../shared/replication/messages.js';
import { challenge, newNonce, verifyHello, welcome } from '../shared/replication/auth.js';
import { ReplicaStore, type StoreOptions } from './store.js';
import { u32ToIpv4 } from '../shared/wire/addr.js';

/** What Node reads from a socket at most at once (libuv's 64 KiB): a read that size
 *  leaves more bytes in the kernel, read in the same turn. */
const FULL_READ_BYTES = 64 * 1024;

export interface ReplicationServerOptions {
  host: string;
  port: number;
  key: Buffer;
  store: StoreOptions;
  /** VIPs this backup protects; a primary announcing another VIP is refused. */
  vips: readonly number[];
  helloTimeoutMs?: number;
  /** replication.busyPollUs: poll, not sleep, this long after each read from a primary. */
  busyPollUs?: number;
  /** The app this backup would restart (IntactApp.name): a primary serving another is
   *  refused, since this app could not restore its checkpoints. Unset: any. */
  app?: string;
}

export interface ReplicationServerEvents {
  session: [vip: number];
  'session-end': [vip: number, reason: string];
  refused: [remote: string, reason: string];
  /** Messages arrived from the primary of `vip`: it is alive. */
  activity: [vip: number];
}

export class ReplicationServer extends EventEmitter<ReplicationServerEvents> {
  /** The replica of each primary, by VIP. Kept when a session ends: the primary may be
   *  dead, and this is what the takeover rebuilds from. */
  readonly stores = new Map<number, ReplicaStore>();
  private readonly server: net.Server;
  private readonly sessions = new Map<number, net.Socket>();
  private readonly log = logger('replication');
  /** A refused primary retries about once a second (primary/replication/protect.ts):
   *  one line per peer address and reason, then one a minute with the count. */
  private readonly refusals = new LogLimiter();

  constructor(private readonly opts: ReplicationServerOptions) {
    super();
    this.server = net.createServer((s) => this.accept(s));
  }

  /** Resolves once listening; rejects with ERR_INTACT_REPLICATION_LISTEN, saying which
   *  setting is wrong for the two errors a deployment meets. */
  listen(): Promise<void> {
    const where = `${this.opts.host}:${this.opts.port}`;
    return new Promise((resolve, reject) => {
      const failed = (e: NodeJS.ErrnoException) => {
        const why = e.code === 'EADDRNOTAVAIL'
          ? `${this.opts.host} is not an address of this host (backup.replicationAddress must be the backup's own address on the replication link)`
          : e.code === 'EADDRINUSE'
            ? `port ${this.opts.port} is taken on ${this.opts.host} (another intact backup? replication.port)`
            : e.message;
        reject(new IntactError('ERR_INTACT_REPLICATION_LISTEN', `cannot take replication on ${where}: ${why} (${e.code ?? 'error'})`, { cause: e }));
      };
      this.server.once('error', failed);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
  }

  /** Stop taking replication for `vip` (at takeover: the primary is dead to us). */
  endSession(vip: number, reason: string): void {
    const s = this.sessions.get(vip);
    if (s) {
      // Say why before closing: a primary told "takeover" goes silent at once instead
      // of taking the closed link for a dead backup (and opening its gates).
      s.end(encode({ type: MsgType.Refuse, reason }));
      setTimeout(() => s.destroy(), 100).unref();
    }
    this.sessions.delete(vip);
    this.emit('session-end', vip, reason);
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.server.close();
  }

  private accept(sock: net.Socket): void {
    sock.setNoDelay(true);
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    const nonceB = newNonce();
    const decoder = new FrameDecoder();
    let store: ReplicaStore | undefined;
    let vip = 0;
    const refuse = (reason: string) => {
      const seen = this.refusals.admit(`${sock.remoteAddress} ${reason}`);
      if (seen.log) this.log.warn({ remote, reason, count: seen.count, since: seen.suppressed }, 'replication peer refused');
      this.emit('refused', remote, reason);
      sock.end(encode({ type: MsgType.Refuse, reason }));
      sock.destroySoon();
    };
    const timer = setTimeout(() => refuse('hello-timeout'), this.opts.helloTimeoutMs ?? 2000);
    sock.write(encode(challenge(nonceB)));
    const busyPoll = new BusyPoll(this.opts.busyPollUs ?? 0);
    let confirmedUpTo = 0;
    let confirmLater: NodeJS.Immediate | undefined;
    const confirm = () => {
      if (!store || this.sessions.get(vip) !== sock || store.applied === confirmedUpTo) return;
      confirmedUpTo = store.applied;
      sock.write(encode({ type: MsgType.Confirm, upTo: confirmedUpTo }));
      // After the CONFIRM, not before: the primary is waiting for it.
      this.emit('activity', vip);
    };
    const confirmAtEndOfTurn = () => {
      confirmLater = undefined;
      confirm();
    };

    sock.on('error', (e) => this.log.debug({ remote, err: e.message }, 'replication socket error'));
    sock.on('close', () => {
      busyPoll.stop();
      clearTimeout(timer);
      if (confirmLater) clearImmediate(confirmLater);
      if (store && this.sessions.get(vip) === sock) {
        this.sessions.delete(vip);
        this.log.warn({ vip: u32ToIpv4(vip) }, 'replication session ended');
        this.emit('session-end', vip, 'closed');
      }
    });
    sock.on('data', (chunk: Buffer) => {
      // The next batch may come within a round trip of the client: be awake for it.
      busyPoll.touch();
      // After endSession (takeover) nothing more from this primary is applied.
      if (store && this.sessions.get(vip) !== sock) return;
      const { messages, error } = decoder.push(chunk);
      for (const m of messages) {
        if (!store) {
          const r = this.handshake(m, nonceB);
          if (typeof r === 'string') return refuse(r);
          clearTimeout(timer);
          vip = r;
          this.sessions.get(vip)?.destroy();
          store = new ReplicaStore(this.opts.store);
          this.stores.set(vip, store);
          this.sessions.set(vip, sock);
          sock.write(encode(welcome(this.opts.key, (m as { nonce: Buffer }).nonce, nonceB)));
          this.log.info({ vip: u32ToIpv4(vip), remote }, 'replication session open');
          this.emit('session', vip);
          continue;
        }
        const err = store.apply(m);
        if (err) return this.violation(sock, vip, `${err.reason}${err.conn !== undefined ? ` (conn ${err.conn})` : ''}`);
      }
      if (error) {
        if (!store) return refuse(`decode:${error.reason}`);
        return this.violation(sock, vip, `decode:${error.reason}`);
      }
      if (store && messages.length > 0) {
        // One CONFIRM per burst of reads, not per read: a full read means more bytes
        // are waiting and will be read in this turn, so the last read of the burst (a
        // short one) confirms them all, or the end of the turn does. One write and one
        // wake-up of the primary per burst instead of per 64 KiB; a lone short read
        // (request/response) confirms at once.
        if (chunk.length >= FULL_READ_BYTES) confirmLater ??= setImmediate(confirmAtEndOfTurn);
        else confirm();
      }
    });
  }

  private handshake(m: Message, nonceB: Buffer): number | string {
    if (m.type !== MsgType.Hello) return `expected-hello:${m.type}`;
    const v = verifyHello(this.opts.key, m, nonceB);
    if (v !== 'ok') return v;
    if (!this.opts.vips.includes(m.vip)) return `unknown-vip:${u32ToIpv4(m.vip)}`;
    if (this.opts.app !== undefined && m.app !== this.opts.app) {
      return `app-mismatch: the primary serves ${JSON.stringify(m.app)}, this backup runs ${JSON.stringify(this.opts.app)}`;
    }
    return m.vip;
  }

  private violation(sock: net.Socket, vip: number, reason: string): void {
    // The replica stays: it is still everything confirmed so far, and the primary
    // never relied on anything we did not confirm.
    this.log.error({ vip: u32ToIpv4(vip), reason }, 'replication protocol violation: session dropped');
    if (this.sessions.get(vip) === sock) this.sessions.delete(vip);
    sock.destroy();
    this.emit('session-end', vip, reason);
  }
}
