// The primary's end of the replication link: connect, prove the key, then stream
// messages in batches (one socket write per event-loop turn) and hear confirmations.
// Messages are numbered 1, 2, 3... in the order written after the handshake; the
// backup's CONFIRM {upTo} says all up to that number are held. What the numbers gate
// is the mirror's business (primary/replication/mirror.ts), not the channel's.
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { IntactError } from '../../shared/errors.js';
import { logger } from '../../shared/log.js';
import { Encoder, FrameDecoder } from '../../shared/replication/codec.js';
import { MsgType, type Message } from '../../shared/replication/messages.js';
import { hello, newNonce, verifyWelcome } from '../../shared/replication/auth.js';

export interface ChannelOptions {
  host: string;
  port: number;
  key: Buffer;
  vip: number;
  /** Local address to connect from (the replication link's own address). */
  localAddress?: string;
  connectTimeoutMs?: number;
}

export interface ChannelEvents {
  ready: [];
  confirm: [upTo: number];
  /** The channel is gone; everything unconfirmed is unconfirmed for ever. */
  down: [reason: string];
}

export class ReplicationChannel extends EventEmitter<ChannelEvents> {
  private sock: net.Socket | undefined;
  private readonly enc = new Encoder();
  private flushScheduled = false;
  private ready = false;
  private closed = false;
  /** Number of the last message written (or queued) after the handshake. */
  lastSent = 0;
  confirmed = 0;
  private readonly log = logger('replication');

  constructor(private readonly opts: ChannelOptions) {
    super();
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Resolves when the backup accepted us; rejects with a coded error otherwise. */
  connect(): Promise<void> {
    const o = this.opts;
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress });
      this.sock = sock;
      sock.setNoDelay(true);
      const decoder = new FrameDecoder();
      const nonceP = newNonce();
      let nonceB: Buffer | undefined;
      let settled = false;
      const fail = (code: string, msg: string) => {
        if (!settled) {
          settled = true;
          reject(new IntactError(code, msg));
        }
        this.down(msg);
      };
      const timer = setTimeout(() => fail('ERR_INTACT_REPLICATION_TIMEOUT', `backup ${o.host}:${o.port} did not complete the hello`), o.connectTimeoutMs ?? 3000);
      sock.on('error', (e: NodeJS.ErrnoException) => fail('ERR_INTACT_REPLICATION_CONNECT', `replication link to ${o.host}:${o.port}: ${e.code ?? e.message}`));
      sock.on('close', () => {
        clearTimeout(timer);
        fail('ERR_INTACT_REPLICATION_CONNECT', 'replication link closed');
      });
      sock.on('data', (chunk: Buffer) => {
        const { messages, error } = decoder.push(chunk);
        for (const m of messages) {
          if (this.ready) {
            if (m.type === MsgType.Confirm) {
              if (m.upTo > this.lastSent || m.upTo < this.confirmed) return this.abort(`bad-confirm:${m.upTo}`);
              this.confirmed = m.upTo;
              this.emit('confirm', m.upTo);
            } else if (m.type === MsgType.Refuse) {
              // The backup ends the session on purpose; "takeover" means it has
              // declared us dead and now answers for the VIP.
              this.sock?.destroy();
              return this.down(`refused:${m.reason}`);
            } else if (m.type !== MsgType.Heartbeat) {
              return this.abort(`unexpected-message:${m.type}`);
            }
          } else if (m.type === MsgType.Challenge && !nonceB) {
            nonceB = m.nonce;
            this.writeNow(hello(o.key, o.vip, nonceB, nonceP));
          } else if (m.type === MsgType.Welcome && nonceB) {
            if (!verifyWelcome(o.key, m, nonceP, nonceB)) return fail('ERR_INTACT_REPLICATION_AUTH', 'the backup does not hold the shared key');
            clearTimeout(timer);
            this.ready = true;
            settled = true;
            resolve();
            this.emit('ready');
          } else if (m.type === MsgType.Refuse) {
            return fail('ERR_INTACT_REPLICATION_REFUSED', `the backup refused us: ${m.reason}`);
          } else {
            return fail('ERR_INTACT_REPLICATION_PROTOCOL', `unexpected message ${m.type} during the hello`);
          }
        }
        if (error) fail('ERR_INTACT_REPLICATION_PROTOCOL', `malformed frame from the backup: ${error.reason}`);
      });
    });
  }

  /** Queues a message for the next batch; returns its number. */
  send(m: Message): number {
    this.enc.write(m);
    this.lastSent++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return this.lastSent;
  }

  /** Bytes queued and not yet handed to the socket, plus the socket's own buffer. */
  get pendingBytes(): number {
    return this.enc.length + (this.sock?.writableLength ?? 0);
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.enc.length === 0 || !this.sock || this.closed) return;
    this.sock.write(this.enc.take());
  }

  close(): void {
    this.closed = true;
    this.sock?.destroy();
  }

  private writeNow(m: Message): void {
    const e = new Encoder();
    e.write(m);
    this.sock?.write(e.take());
  }

  private abort(reason: string): void {
    this.log.error({ reason }, 'replication protocol violation by the backup');
    this.sock?.destroy();
    this.down(reason);
  }

  private down(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    this.emit('down', reason);
  }
}
