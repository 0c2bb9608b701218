// IntactSocket: one engine connection (shared/tcp/connection.ts) as a stream.Duplex in
// the manner of net.Socket, so code written for Node's net (and Node's own http server)
// runs over the user-space stack unchanged.
//
// Back-pressure goes both ways through the engine's buffers, never through a copy of
// our own: bytes are taken out of the engine with recv() only while the readable side
// wants them (push() returning false stops us; _read resumes), so a slow reader closes
// the TCP window; a write completes only once the engine accepted every byte into its
// send queue, otherwise it waits for handler.writable().
//
// Closing follows the kernel: end() sends FIN after the queued data; destroy() is
// close(fd): FIN after the queued data, or RST when received bytes lie unread in the
// engine; resetAndDestroy() is an RST. Errors carry Node's codes (ECONNRESET,
// ETIMEDOUT, EPIPE) with errno and syscall as net.Socket's do.
import { Duplex } from 'node:stream';
import { u32ToIpv4 } from '../shared/wire/addr.js';

/** The part of the engine's TcpConnection this layer uses (shared/tcp/connection.ts);
 *  declared structurally so tests can drive a socket with a fake connection. */
export interface EngineConnection {
  readonly localAddr: number;
  readonly localPort: number;
  readonly remoteAddr: number;
  readonly remotePort: number;
  handler: ConnectionHandler | undefined;
  recv(max?: number): Buffer | undefined;
  recvQueued(): number;
  send(data: Buffer): number;
  sendFree(): number;
  close(): void;
  abort(): void;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean, idleMs?: number): void;
}

/** The engine's callbacks (shared/tcp/connection.ts ConnectionHandler). */
export interface ConnectionHandler {
  readable(): void;
  writable(): void;
  end(): void;
  closed(err?: Error): void;
}

/** The clock and timers the idle timeout uses; tests pass a manual clock. */
export interface SocketTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: SocketTimers = {
  now: () => performance.now(),
  // Unref'd as net's socket timeouts are: an idle timer never keeps the process alive.
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Where a connection rebuilt after a takeover resumes (DESIGN rules 2 and 4). */
export interface ResumePoint {
  /** Stream position the app's last checkpoint consumed up to: reading resumes here. */
  consumed: number;
  /** Stream position the app had produced at that checkpoint: its writes resume here. */
  produced: number;
  /** The replicated send end (snd_max): the client has, or will get from the
   *  replica, everything below it, so bytes the restored app writes again below it
   *  are dropped, not sent twice. */
  replicatedEnd: number;
}

/** Records a checkpoint with the replication layer; false when not protected. */
export type CheckpointSink = (state: Buffer, consumed: number, produced: number) => boolean;

/** What the replication layer gives the socket of a protected connection. */
export interface SocketProtection {
  checkpoint: CheckpointSink;
  /** Stream position up to which received bytes are replicated. The app is handed no
   *  byte beyond it, so a checkpoint never covers input the backup lacks (rule 4). */
  recvLimit(): number;
}

/** Where a socket finds its protection: the runtime. Asked at each use, not kept: a
 *  connection loses its protection with the backup, and may gain a new backup's at a
 *  checkpoint (resync). */
export interface SocketProtector {
  /** The replication layer's hooks for a protected connection; undefined: unprotected. */
  protection?(conn: EngineConnection): SocketProtection | undefined;
  /** Puts an unprotected connection under the backup's protection with this checkpoint;
   *  false when there is no backup or it cannot be done now. */
  resync?(conn: EngineConnection, state: Buffer, consumed: number, produced: number): boolean;
}

export interface IntactSocketOptions {
  /** As net's: when false (default) the socket ends its side once the peer's FIN was read. */
  allowHalfOpen?: boolean;
  /** A connection rebuilt after a takeover: positions to resume from. */
  resume?: ResumePoint;
  timers?: SocketTimers;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
}

const ERRNO: Record<string, number> = { ECONNRESET: -104, ETIMEDOUT: -110, EPIPE: -32, ECONNABORTED: -103 };

export interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

/** An Error shaped like the ones libuv gives net.Socket: "read ECONNRESET" etc. */
export function systemError(code: string, syscall: string, cause?: unknown): SystemError {
  const e = new Error(`${syscall} ${code}`, cause === undefined ? undefined : { cause }) as SystemError;
  e.code = code;
  if (ERRNO[code] !== undefined) e.errno = ERRNO[code];
  e.syscall = syscall;
  return e;
}

function fromEngine(err: Error): SystemError {
  const code = (err as Partial<SystemError>).code;
  if (typeof code === 'string' && (err as Partial<SystemError>).syscall !== undefined) return err as SystemError;
  return systemError(typeof code === 'string' ? code : 'ECONNRESET', 'read', err);
}

/** While the app holds a socket it handles the engine's events; after destroy() the
 *  connection finishes on its own (FIN states) and, as the kernel does for a closed
 *  socket, answers data that still arrives with a reset. */
function orphanHandler(conn: EngineConnection): ConnectionHandler {
  return {
    readable: () => conn.abort(),
    writable: () => {},
    end: () => {},
    closed: () => {},
  };
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

interface PendingWrite {
  chunks: Buffer[];
  cb: (err?: Error | null) => void;
}

export class IntactSocket extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily = 'IPv4' as const;
  readonly localAddress: string;
  readonly localPort: number;
  readonly localFamily = 'IPv4' as const;
  /** Bytes handed to the application. */
  bytesRead = 0;
  /** Bytes the engine accepted into its send queue. */
  bytesWritten = 0;
  /** Idle timeout in ms, 0 when off (net.Socket.timeout). */
  timeout = 0;
  readonly connecting = false;
  readonly pending = false;

  private conn: EngineConnection | undefined;
  private readonly timers: SocketTimers;
  private wantRead = false;
  private pulling = false;
  private peerEnded = false;
  private eofPushed = false;
  private engineClosed = false;
  private forceReset = false;
  private finQueued = false;
  private writing: PendingWrite | undefined;
  private timer: unknown;
  private lastActivity = 0;
  /** Stream position of the next byte the app is handed ('data'). */
  private consumedPos = 0;
  /** Stream position after the last byte the app wrote (write/end), buffered or not. */
  private producedPos = 0;
  /** Stream position after the last byte the engine accepted (or a resume dropped). */
  private acceptedPos = 0;
  /** Bytes the app writes again after a takeover that the client already has. */
  private dropOnResume = 0;
  /** Checkpoints waiting until everything written before them is in the engine. */
  private checkpoints: Array<{ state: Buffer; consumed: number; produced: number }> = [];
  /** Stream position after the last byte taken from the engine. */
  private pulledPos = 0;
  /** Set by the server: the runtime, which knows whether a backup protects us. */
  protector: SocketProtector | undefined;

  constructor(conn: EngineConnection, opts: IntactSocketOptions = {}) {
    super({
      allowHalfOpen: opts.allowHalfOpen ?? false,
      readableHighWaterMark: opts.readableHighWaterMark,
      writableHighWaterMark: opts.writableHighWaterMark,
    });
    this.conn = conn;
    this.timers = opts.timers ?? realTimers;
    this.remoteAddress = u32ToIpv4(conn.remoteAddr);
    this.remotePort = conn.remotePort;
    this.localAddress = u32ToIpv4(conn.localAddr);
    this.localPort = conn.localPort;
    if (opts.resume) {
      const r = opts.resume;
      this.consumedPos = r.consumed;
      this.pulledPos = r.consumed;
      this.producedPos = r.produced;
      this.acceptedPos = r.produced;
      this.dropOnResume = Math.max(0, r.replicatedEnd - r.produced);
    }
    conn.handler = new IntactSocket.EngineEvents(this);
  }

  /** The engine's callbacks to this socket: one small object whose methods live on a
   *  prototype. Four closures per socket were a visible share of a takeover's restart
   *  step, which builds a socket for every rebuilt connection at once. */
  private static readonly EngineEvents = class implements ConnectionHandler {
    constructor(private readonly socket: IntactSocket) {}

    readable(): void {
      this.socket.pull();
    }

    writable(): void {
      this.socket.flush();
    }

    end(): void {
      this.socket.peerEnded = true;
      this.socket.pull();
    }

    closed(err?: Error): void {
      this.socket.onEngineClosed(err);
    }
  };

  /** The engine connection while the app holds it (replication, issue 4, reads it). */
  get connection(): EngineConnection | undefined {
    return this.conn;
  }

  get readyState(): 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.destroyed) return 'closed';
    const r = this.readable;
    const w = this.writable;
    return r && w ? 'open' : r ? 'readOnly' : w ? 'writeOnly' : 'closed';
  }

  address(): { address: string; family: 'IPv4'; port: number } {
    return { address: this.localAddress, family: 'IPv4', port: this.localPort };
  }

  setNoDelay(noDelay = true): this {
    this.conn?.setNoDelay(noDelay);
    return this;
  }

  /** As net's: initialDelay 0 keeps the engine's default idle time. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.conn?.setKeepAlive(enable, initialDelay > 0 ? initialDelay : undefined);
    return this;
  }

  /** Idle timeout: 'timeout' after `msecs` without reads or writes; the socket stays
   *  open (the listener decides). 0 turns it off. */
  setTimeout(msecs: number, callback?: () => void): this {
    if (!Number.isFinite(msecs) || msecs < 0) throw new RangeError(`timeout must be a non-negative number: ${msecs}`);
    this.timeout = msecs;
    this.clearTimer();
    if (msecs === 0) {
      if (callback) this.removeListener('timeout', callback);
    } else {
      if (callback) this.once('timeout', callback);
      this.lastActivity = this.timers.now();
      if (!this.destroyed) this.armTimer(msecs);
    }
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** Used by Node's http server: end, then destroy once the FIN is queued. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Close with an RST now (net.Socket.resetAndDestroy). */
  resetAndDestroy(): this {
    this.forceReset = true;
    return this.destroy();
  }

  /**
   * Records the application's state together with the stream positions, atomically
   * (DESIGN rule 4): the bytes handed to the app so far ('data' events) count as
   * consumed, the bytes it wrote so far (write/end) as produced. Call it when `state`
   * reflects exactly that input and that output: typically at the end of a 'data'
   * handler, after writing the replies. The checkpoint takes effect once every byte
   * written before it is in the engine, so produced output is never lost. `state` is
   * serialised with JSON. On a takeover the app's restore(socket, state) receives the
   * last checkpoint that took effect. Needs Buffer chunks (no setEncoding).
   * Returns false when the connection is not protected by a backup (nothing recorded).
   * A connection left unprotected while the backup was away is taken on by the backup
   * at a checkpoint, once one is back (true then): it must come when the app has read
   * nothing it has not handled, and after its writes, as checkpoints usually do.
   */
  checkpoint(state: unknown): boolean {
    if (!this.protection) return this.resync(state);
    const bytes = Buffer.from(JSON.stringify(state ?? null));
    this.checkpoints.push({ state: bytes, consumed: this.consumedPos, produced: this.producedPos });
    this.submitCheckpoints();
    return true;
  }

  /** The replication layer's hooks while a backup protects this connection. */
  get protection(): SocketProtection | undefined {
    return this.conn ? this.protector?.protection?.(this.conn) : undefined;
  }

  /** A checkpoint of an unprotected connection: the one instant a backup that came
   *  (back) since can take it on, when the app holds every byte it took from the engine
   *  and all its output is in the engine (Mirror.resync). Otherwise nothing is recorded
   *  and the app's next checkpoint tries again. */
  private resync(state: unknown): boolean {
    const conn = this.conn;
    if (!conn || !this.protector?.resync) return false;
    if (this.checkpoints.length > 0 || this.producedPos > this.acceptedPos || this.consumedPos !== this.pulledPos) return false;
    return this.protector.resync(conn, Buffer.from(JSON.stringify(state ?? null)), this.consumedPos, this.producedPos);
  }

  /** Stream positions, for tools and tests. */
  get positions(): { consumed: number; produced: number; accepted: number } {
    return { consumed: this.consumedPos, produced: this.producedPos, accepted: this.acceptedPos };
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') {
      const chunk = args[0];
      this.consumedPos += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
    }
    return super.emit(event, ...args);
  }

  override write(chunk: unknown, cb?: (error: Error | null | undefined) => void): boolean;
  override write(chunk: unknown, encoding: BufferEncoding, cb?: (error: Error | null | undefined) => void): boolean;
  override write(chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    this.producedPos += byteLength(chunk, encoding);
    return (super.write as (...a: unknown[]) => boolean)(chunk, encoding, cb);
  }

  override end(cb?: () => void): this;
  override end(chunk: unknown, cb?: () => void): this;
  override end(chunk: unknown, encoding: BufferEncoding, cb?: () => void): this;
  override end(chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') this.producedPos += byteLength(chunk, encoding);
    return (super.end as (...a: unknown[]) => this)(chunk, encoding, cb);
  }

  private submitCheckpoints(): void {
    while (this.checkpoints.length > 0 && this.checkpoints[0].produced <= this.acceptedPos) {
      const c = this.checkpoints.shift()!;
      this.protection?.checkpoint(c.state, c.consumed, c.produced);
    }
  }

  override _read(): void {
    this.wantRead = true;
    this.pull();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.startWrite([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.startWrite(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.conn || this.engineClosed) {
      cb(systemError('EPIPE', 'shutdown'));
      return;
    }
    this.finQueued = true;
    this.conn.close();
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.clearTimer();
    const conn = this.conn;
    this.conn = undefined;
    const w = this.writing;
    this.writing = undefined;
    if (conn && !this.engineClosed) {
      conn.handler = orphanHandler(conn);
      if (this.forceReset || conn.recvQueued() > 0) conn.abort();
      else if (!this.finQueued) conn.close();
    }
    if (w) w.cb(err ?? systemError('ECANCELED', 'write'));
    cb(err);
  }

  private startWrite(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    if (!this.conn || this.engineClosed) {
      cb(systemError('EPIPE', 'write'));
      return;
    }
    this.writing = { chunks, cb };
    this.flush();
  }

  /** Move the pending write into the engine as far as its send queue has room. */
  private flush(): void {
    const w = this.writing;
    const conn = this.conn;
    if (!w || !conn) return;
    while (w.chunks.length > 0) {
      let b = w.chunks[0]!;
      if (this.dropOnResume > 0) {
        const d = Math.min(this.dropOnResume, b.length);
        this.dropOnResume -= d;
        this.acceptedPos += d;
        b = w.chunks[0] = b.subarray(d);
      }
      let n: number;
      try {
        n = b.length === 0 ? 0 : conn.send(b);
      } catch (err) {
        // The engine refuses sends once the connection is closing or gone; its closed()
        // may not have reached us yet (events are delivered after each segment).
        this.writing = undefined;
        w.cb(systemError('EPIPE', 'write', err));
        return;
      }
      this.bytesWritten += n;
      this.acceptedPos += n;
      if (this.checkpoints.length > 0) this.submitCheckpoints();
      if (n < b.length) {
        if (n > 0) {
          w.chunks[0] = b.subarray(n);
          this.touch();
        }
        return; // handler.writable() resumes
      }
      w.chunks.shift();
    }
    this.writing = undefined;
    this.touch();
    w.cb();
  }

  /** Move in-order bytes from the engine into the readable side while it wants more. */
  private pull(): void {
    const conn = this.conn;
    // recv() may open the window and so call back into us; one loop is enough.
    if (!conn || this.pulling) return;
    this.pulling = true;
    try {
      while (this.wantRead) {
        // Asked each time round: the app may checkpoint (and so resynchronise) in push().
        const protection = this.protection;
        const room = protection ? protection.recvLimit() - this.pulledPos : undefined;
        if (room !== undefined && room <= 0) break;
        const b = conn.recv(room);
        if (b === undefined || b.length === 0) break;
        this.pulledPos += b.length;
        this.bytesRead += b.length;
        this.touch();
        if (!this.push(b)) this.wantRead = false;
      }
      if (this.peerEnded && !this.eofPushed && conn.recvQueued() === 0) {
        this.eofPushed = true;
        this.push(null);
      }
    } finally {
      this.pulling = false;
    }
  }

  private onEngineClosed(err?: Error): void {
    this.engineClosed = true;
    if (err) {
      this.destroy(fromEngine(err));
      return;
    }
    // Both FINs are done (or we aborted). Bytes still queued in the engine would go
    // with the connection, so take them all now, then EOF; autoDestroy finishes.
    const conn = this.conn;
    if (conn && !this.eofPushed) {
      for (let b = conn.recv(); b !== undefined && b.length > 0; b = conn.recv()) {
        this.pulledPos += b.length;
        this.bytesRead += b.length;
        this.push(b);
      }
      this.eofPushed = true;
      this.push(null);
    }
    if (this.writing) {
      const w = this.writing;
      this.writing = undefined;
      w.cb(systemError('EPIPE', 'write'));
    }
  }

  private touch(): void {
    if (this.timeout > 0) {
      this.lastActivity = this.timers.now();
      // After a 'timeout' the timer rests until the next activity, as net's does.
      if (this.timer === undefined && !this.destroyed) this.armTimer(this.timeout);
    }
  }

  private armTimer(ms: number): void {
    this.timer = this.timers.setTimeout(() => this.onTimer(), ms);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** One timer per socket, re-armed lazily: activity only stamps lastActivity, so the
   *  data path never touches the timer list. */
  private onTimer(): void {
    this.timer = undefined;
    if (this.destroyed || this.timeout === 0) return;
    const idle = this.timers.now() - this.lastActivity;
    if (idle >= this.timeout) {
      this.emit('timeout');
    } else {
      this.armTimer(this.timeout - idle);
    }
  }
}
