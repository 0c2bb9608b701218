// A stand-in for the engine's TcpConnection and Listener, with the peer's side exposed:
// tests deliver bytes and FINs "from the wire", free send space at will, and read what
// the app queued. It keeps the engine's contract (shared/tcp/stack.ts): recv() opens
// the window, send() accepts at most sendFree(), writable() after a short send.
import { Duplex } from 'node:stream';
import type { ConnectionHandler, EngineConnection, SocketProtection, SocketTimers } from '../../primary/socket.js';
import type { EngineListener, ListenRuntime } from '../../primary/server.js';

let nextPort = 40000;

export class FakeConnection implements EngineConnection {
  readonly localAddr = 0xc0000264; // 192.0.2.100
  readonly localPort: number;
  readonly remoteAddr = 0xc000020a; // 192.0.2.10
  readonly remotePort = nextPort++;
  handler: ConnectionHandler | undefined;
  state = 'ESTABLISHED';

  /** Bytes the peer sent that the app has not taken yet. */
  readonly rcvQueue: Buffer[] = [];
  /** Everything the app queued, in order ("what reaches the wire"). */
  readonly sent: Buffer[] = [];
  sendCapacity: number;
  sendUsed = 0;
  recvCalls = 0;
  finSent = false;
  reset = false;
  noDelay: boolean | undefined;
  keepAlive: [boolean, number | undefined] | undefined;
  private shortSend = false;
  /** Called after the app queued bytes or its FIN (for peerStream). */
  onOutput: (() => void) | undefined;

  constructor(opts: { localPort?: number; sendCapacity?: number } = {}) {
    this.localPort = opts.localPort ?? 7;
    this.sendCapacity = opts.sendCapacity ?? 1 << 20;
  }

  // --- the engine's API, as the socket sees it ---
  recv(max?: number): Buffer | undefined {
    this.recvCalls++;
    if (this.rcvQueue.length === 0) return undefined;
    const all = Buffer.concat(this.rcvQueue);
    const n = Math.min(all.length, max ?? all.length);
    this.rcvQueue.length = 0;
    if (n < all.length) this.rcvQueue.push(all.subarray(n));
    return all.subarray(0, n);
  }
  recvQueued(): number {
    return this.rcvQueue.reduce((a, b) => a + b.length, 0);
  }
  send(data: Buffer): number {
    if (this.finSent || this.reset) throw new Error('send after close');
    const n = Math.min(data.length, this.sendFree());
    if (n < data.length) this.shortSend = true;
    if (n > 0) this.sent.push(Buffer.from(data.subarray(0, n)));
    this.sendUsed += n;
    if (n > 0) this.onOutput?.();
    return n;
  }
  sendFree(): number {
    return this.sendCapacity - this.sendUsed;
  }
  close(): void {
    this.finSent = true;
    this.onOutput?.();
  }
  abort(): void {
    this.reset = true;
    this.state = 'CLOSED';
    const h = this.handler;
    h?.closed();
  }
  setNoDelay(on: boolean): void {
    this.noDelay = on;
  }
  setKeepAlive(on: boolean, idleMs?: number): void {
    this.keepAlive = [on, idleMs];
  }

  // --- the peer's side ---
  deliver(data: Buffer | string): void {
    this.rcvQueue.push(Buffer.from(data));
    this.handler?.readable();
  }
  deliverFin(): void {
    this.handler?.end();
  }
  /** The peer acknowledged n bytes: send space opens. */
  ack(n = this.sendUsed): void {
    this.sendUsed -= n;
    if (this.shortSend && n > 0) {
      this.shortSend = false;
      this.handler?.writable();
    }
  }
  peerReset(): void {
    this.state = 'CLOSED';
    const e = Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' });
    this.handler?.closed(e);
  }
  /** Our FIN was acknowledged after the peer's: the connection is gone, cleanly. */
  finish(): void {
    this.state = 'CLOSED';
    this.handler?.closed();
  }
  sentBytes(): Buffer {
    return Buffer.concat(this.sent);
  }
}

export class FakeListener implements EngineListener {
  onConnection: ((c: EngineConnection) => void) | undefined;
  closed = false;
  constructor(readonly port: number) {}
  close(): void {
    this.closed = true;
  }
  /** A client completed the handshake. */
  connect(opts: { sendCapacity?: number } = {}): FakeConnection {
    const c = new FakeConnection({ localPort: this.port, ...opts });
    this.onConnection?.(c);
    return c;
  }
}

export class FakeRuntime implements ListenRuntime {
  readonly vip = '192.0.2.100';
  readonly listeners = new Map<number, FakeListener>();
  listen(port: number, _opts: { backlog?: number }): FakeListener {
    if (port === 0) port = 49152 + this.listeners.size;
    const existing = this.listeners.get(port);
    if (existing && !existing.closed) {
      throw Object.assign(new Error(`listen EADDRINUSE: address already in use ${this.vip}:${port}`), {
        code: 'EADDRINUSE',
      });
    }
    const l = new FakeListener(port);
    this.listeners.set(port, l);
    return l;
  }
}

/** A checkpoint as the mirror (or a resynchronisation offer) receives it, its state
 *  parsed back from JSON. */
export interface RecordedCheckpoint {
  state: unknown;
  consumed: number;
  produced: number;
}

/** A runtime whose every connection is protected: the app's checkpoints are recorded
 *  (state parsed back from its JSON), as the mirror would receive them. */
export class CheckpointingRuntime extends FakeRuntime {
  readonly checkpoints: RecordedCheckpoint[] = [];
  protection(): SocketProtection {
    return {
      checkpoint: (state, consumed, produced) => {
        this.checkpoints.push({ state: JSON.parse(state.toString('utf8')), consumed, produced });
        return true;
      },
      recvLimit: () => Number.MAX_SAFE_INTEGER,
    };
  }
}

/** A runtime with no backup that a new one would take each connection on from: every
 *  resynchronisation offer is recorded and accepted. */
export class ResyncRuntime extends FakeRuntime {
  readonly offers: RecordedCheckpoint[] = [];
  resync(_c: unknown, state: Buffer, consumed: number, produced: number): boolean {
    this.offers.push({ state: JSON.parse(state.toString('utf8')), consumed, produced });
    return true;
  }
}

/** A manual clock for idle timeouts: advance() fires what is due, in order. */
export class ManualTimers implements SocketTimers {
  private t = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.due.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.due.delete(h as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.due) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.due.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
  pending(): number {
    return this.due.size;
  }
}

/** The client's end of a FakeConnection as a Duplex (a net.Socket stand-in for Node's
 *  http client): writes become bytes from the peer, the app's output is readable, and
 *  reading it acknowledges it (send space opens). */
export function peerStream(conn: FakeConnection): Duplex & { setNoDelay(): void; setKeepAlive(): void; setTimeout(): void; ref(): void; unref(): void } {
  let idx = 0;
  let ended = false;
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      conn.deliver(chunk);
      cb();
    },
    final(cb) {
      conn.deliverFin();
      cb();
    },
  });
  const pump = () => {
    // Deferred: the app may still be inside send().
    queueMicrotask(() => {
      // ack() may let the app send more (and FIN) synchronously: loop until quiet.
      while (idx < conn.sent.length) {
        let n = 0;
        while (idx < conn.sent.length) {
          const b = conn.sent[idx++]!;
          n += b.length;
          d.push(b);
        }
        conn.ack(n);
      }
      if (conn.finSent && !ended) {
        ended = true;
        d.push(null);
      }
    });
  };
  conn.onOutput = pump;
  pump();
  return Object.assign(d, { setNoDelay() {}, setKeepAlive() {}, setTimeout() {}, ref() {}, unref() {} });
}
