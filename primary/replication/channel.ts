// The primary's end of the replication link: connect, prove the key, then stream
// messages in batches and hear confirmations. When the link is idle (every batch
// written is confirmed: request/response, the start of a burst) a batch is written at
// the end of the turn that produced it (a microtask): the frames just received, the
// app's reply to them and the mirror's coalesced updates leave in one write, with no
// event-loop hop between the client's segment and the backup's copy of it (strict
// output commit puts that hop on every exchange's latency). While batches are
// unconfirmed (bulk), the turns of one event-loop iteration share one write instead:
// fewer, larger writes cost both ends less per byte.
// Messages are numbered 1, 2, 3... in the order written after the handshake; the
// backup's CONFIRM {upTo} says all up to that number are held. What the numbers gate
// is the mirror's business (primary/replication/mirror.ts), not the channel's.
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { IntactError } from '../../shared/errors.js';
import { BusyPoll } from '../../shared/replication/busy-poll.js';
import { logger } from '../../shared/log.js';
import { Encoder, FrameDecoder, encode } from '../../shared/replication/codec.js';
import { MsgType, type Message } from '../../shared/replication/messages.js';
import { hello, newNonce, verifyWelcome } from '../../shared/replication/auth.js';

/** What one read of the link takes at most: CONFIRMs are 13 bytes each. */
const READ_BUFFER_BYTES = 64 * 1024;

export interface ChannelOptions {
  host: string;
  port: number;
  key: Buffer;
  vip: number;
  /** Local address to connect from (the replication link's own address). */
  localAddress?: string;
  connectTimeoutMs?: number;
  /** replication.busyPollUs: poll, not sleep, this long after each batch and CONFIRM. */
  busyPollUs?: number;
  /** The name of the app this primary serves: a backup running another refuses us. */
  app?: string;
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
  /** Number of the last message handed to the socket. */
  private written = 0;
  private readonly flushHooks: Array<() => void> = [];
  private readonly flushTask = () => this.flush();
  private ready = false;
  private closed = false;
  /** Number of the last message written (or queued) after the handshake. */
  lastSent = 0;
  confirmed = 0;
  private readonly log = logger('replication');
  private readonly busyPoll: BusyPoll;

  constructor(private readonly opts: ChannelOptions) {
    super();
    this.busyPoll = new BusyPoll(opts.busyPollUs ?? 0);
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Resolves when the backup accepted us; rejects with a coded error otherwise. */
  connect(): Promise<void> {
    const o = this.opts;
    return new Promise((resolve, reject) => {
      // Reads land in one buffer of ours (onread): no allocation per read, and no stream
      // machinery between the kernel and the handler on the path of every CONFIRM. The
      // decoder copies whatever it keeps past the call (a transient chunk).
      const readBuf = Buffer.allocUnsafe(READ_BUFFER_BYTES);
      let onBytes: (chunk: Buffer) => void = () => {};
      const sock = net.connect({
        host: o.host, port: o.port, localAddress: o.localAddress,
        onread: {
          buffer: readBuf,
          callback: (n) => {
            this.busyPoll.touch();
            onBytes(readBuf.subarray(0, n));
            return true;
          },
        },
      });
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
      onBytes = (chunk: Buffer) => {
        const { messages, error } = decoder.push(chunk, true);
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
            this.writeNow(hello(o.key, o.vip, nonceB, nonceP, o.app ?? ''));
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
      };
    });
  }

  /** Queues a message for the batch of this turn; returns its number. */
  send(m: Message): number {
    this.enc.write(m);
    this.lastSent++;
    this.requestFlush();
    return this.lastSent;
  }

  /** `fn` runs just before each batch is written, and may send: the mirror adds the
   *  control-block updates it coalesced over the turn to the batch they belong with. */
  beforeFlush(fn: () => void): void {
    this.flushHooks.push(fn);
  }

  /** A batch soon even if nothing is sent before then: at the end of this turn when
   *  the link is idle, at the end of this event-loop iteration otherwise. */
  requestFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.idle) queueMicrotask(this.flushTask);
    else setImmediate(this.flushTask);
  }

  /** Every message written has been confirmed: nobody is waiting on the link. */
  get idle(): boolean {
    return this.written === this.confirmed;
  }

  /** Writes the batch now if the link is idle (the runtime's call before it polls the
   *  stack); otherwise the scheduled write will. */
  flushIfIdle(): void {
    if (this.idle) this.flush();
  }

  /** Bytes queued and not yet handed to the socket, plus the socket's own buffer. */
  get pendingBytes(): number {
    return this.enc.length + (this.sock?.writableLength ?? 0);
  }

  flush(): void {
    for (const fn of this.flushHooks) fn();
    this.flushScheduled = false;
    if (this.enc.length === 0 || !this.sock || this.closed) return;
    const pieces = this.enc.batch();
    if (pieces.length === 1) {
      this.sock.write(pieces[0]!);
    } else {
      // One gathered write (writev): framing from the batch buffer, payloads as they are.
      this.sock.cork();
      for (const p of pieces) this.sock.write(p);
      this.sock.uncork();
    }
    // Node completed the write at once (nothing left queued): the kernel has the bytes
    // and the batch buffer is free again. Otherwise the socket holds views of it.
    if (this.sock.writableLength === 0) this.enc.reset();
    else this.enc.detach();
    this.written = this.lastSent;
    // The CONFIRM comes back within a round trip: be awake for it.
    this.busyPoll.touch();
  }

  close(): void {
    this.closed = true;
    this.busyPoll.stop();
    this.sock?.destroy();
  }

  private writeNow(m: Message): void {
    this.sock?.write(encode(m));
  }

  private abort(reason: string): void {
    this.log.error({ reason }, 'replication protocol violation by the backup');
    this.sock?.destroy();
    this.down(reason);
  }

  private down(reason: string): void {
    this.busyPoll.stop();
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    this.emit('down', reason);
  }
}
