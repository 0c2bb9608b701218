// IntactServer: net.Server's surface over the user-space stack. An app written for
// net.createServer moves here by passing the runtime:
//
//   const server = createServer({ runtime }, (socket) => socket.pipe(socket));
//   server.listen(7);
//
// Why `runtime` is an option and not a global: one process may serve several VIPs (the
// backup after a takeover serves every failed primary's), and tests hand in a fake.
// The runtime (primary/runtime.ts) owns the engine, the host and the link; the server
// only asks it for a listener on a port of its VIP.
import { EventEmitter } from 'node:events';
import { IntactSocket, type SocketProtector, type EngineConnection, type ResumePoint, type SocketTimers, systemError } from './socket.js';

/** The engine's Listener (shared/tcp/stack.ts), structurally. */
export interface EngineListener {
  readonly port: number;
  onConnection: ((c: EngineConnection) => void) | undefined;
  close(): void;
}

/** What a server needs of its runtime. primary/runtime.ts's Runtime is one. */
export interface ListenRuntime extends SocketProtector {
  /** The service address (dotted quad) the server answers on. */
  readonly vip: string;
  /** Listen on `port` of the VIP (0: a free ephemeral port). Throws an error with code
   *  EADDRINUSE when the port is taken. */
  listen(port: number, opts: { backlog?: number; backup?: boolean }): EngineListener;
}

export interface ServerOptions {
  runtime: ListenRuntime;
  /** As net's: keep our side open after the client's FIN until the app ends it. */
  allowHalfOpen?: boolean;
  /** As net's: accepted sockets start paused (ours never read ahead of the app anyway). */
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** The thesis' backup socket option: connections accepted by this server are
   *  replicated to the backup when the runtime has one (default true). */
  backup?: boolean;
  /** Clock for sockets' idle timeouts; tests pass a manual one. */
  timers?: SocketTimers;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
}

export interface AddressInfo {
  address: string;
  family: 'IPv4';
  port: number;
}

function serverError(code: string, message: string): Error & { code: string } {
  const e = new Error(message) as Error & { code: string };
  e.code = code;
  return e;
}

const ANY_HOSTS = new Set(['0.0.0.0', '::', '']);

/** The IntactServer that holds a socket. Not `socket.server`: Node's http server sets
 *  that to itself when it is handed the socket. */
const OWNER = Symbol('intact.server');
type OwnedSocket = IntactSocket & { [OWNER]?: IntactServer };

export class IntactServer extends EventEmitter {
  /** As net's: beyond this many open connections new ones are reset and 'drop' emitted. */
  maxConnections: number | undefined;
  readonly runtime: ListenRuntime;
  private readonly opts: ServerOptions;
  private listener: EngineListener | undefined;
  private readonly sockets = new Set<IntactSocket>();
  private closing = false;

  constructor(options: ServerOptions, connectionListener?: (socket: IntactSocket) => void) {
    super();
    if (!options || typeof options.runtime?.listen !== 'function') {
      throw new TypeError('createServer needs { runtime } (primary/runtime.ts openRuntime)');
    }
    this.opts = options;
    this.runtime = options.runtime;
    if (connectionListener) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.listener !== undefined;
  }

  listen(port?: number, host?: string, backlog?: number, cb?: () => void): this;
  listen(port: number, cb?: () => void): this;
  listen(port: number, host: string, cb?: () => void): this;
  listen(port: number, backlog: number, cb?: () => void): this;
  listen(options: ListenOptions, cb?: () => void): this;
  listen(cb?: () => void): this;
  listen(...args: unknown[]): this {
    const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    let o: ListenOptions;
    if (typeof args[0] === 'object' && args[0] !== null) {
      o = args[0] as ListenOptions;
    } else {
      o = { port: args[0] as number | undefined };
      for (const a of args.slice(1)) {
        if (typeof a === 'string') o.host = a;
        else if (typeof a === 'number') o.backlog = a;
      }
    }
    if (cb) this.once('listening', cb);
    const port = o.port === undefined || o.port === null ? 0 : Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer in [0, 65535]: ${String(o.port)}`);
    }
    if (this.listener) {
      throw serverError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
    }
    if (o.host !== undefined && !ANY_HOSTS.has(o.host) && o.host !== this.runtime.vip) {
      process.nextTick(() => this.emit('error', systemError('EADDRNOTAVAIL', 'listen')));
      return this;
    }
    try {
      this.listener = this.runtime.listen(port, { backlog: o.backlog, backup: this.opts.backup ?? true });
    } catch (e) {
      process.nextTick(() => this.emit('error', e));
      return this;
    }
    this.closing = false;
    this.listener.onConnection = (c) => this.accept(c);
    process.nextTick(() => {
      if (this.listener) this.emit('listening');
    });
    return this;
  }

  address(): AddressInfo | null {
    if (!this.listener) return null;
    return { address: this.runtime.vip, family: 'IPv4', port: this.listener.port };
  }

  /** Stop accepting; 'close' (and cb) once every open connection has closed. */
  close(cb?: (err?: Error) => void): this {
    if (cb) {
      if (!this.listener) this.once('close', () => cb(serverError('ERR_SERVER_NOT_RUNNING', 'Server is not running.')));
      else this.once('close', () => cb());
    }
    if (this.listener) {
      this.listener.onConnection = undefined;
      this.listener.close();
      this.listener = undefined;
    }
    this.closing = true;
    this.emitCloseIfDrained();
    return this;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.sockets.size;
    process.nextTick(() => cb(null, n));
    return this;
  }

  /** The open sockets (http's closeAllConnections has its own list; this is ours). */
  connections(): IterableIterator<IntactSocket> {
    return this.sockets.values();
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** Wrap a new engine connection as a socket of this server and announce it with
   *  'connection'. */
  accept(conn: EngineConnection): IntactSocket | undefined {
    if (this.maxConnections !== undefined && this.sockets.size >= this.maxConnections) {
      conn.abort();
      this.emit('drop', {
        localAddress: this.runtime.vip,
        localPort: conn.localPort,
        remotePort: conn.remotePort,
        remoteFamily: 'IPv4',
      });
      return undefined;
    }
    const socket = this.wrap(conn);
    this.emit('connection', socket);
    return socket;
  }

  /** Wrap a connection rebuilt after a takeover: no 'connection' event, the caller
   *  hands the socket to the app's restore hook with its last checkpoint. */
  adopt(conn: EngineConnection, resume: ResumePoint): IntactSocket {
    return this.wrap(conn, resume);
  }

  private wrap(conn: EngineConnection, resume?: ResumePoint): IntactSocket {
    const socket = new IntactSocket(conn, { allowHalfOpen: this.opts.allowHalfOpen, timers: this.opts.timers, resume });
    socket.protector = this.runtime;
    if (this.opts.noDelay) socket.setNoDelay(true);
    if (this.opts.keepAlive) socket.setKeepAlive(true, this.opts.keepAliveInitialDelay ?? 0);
    if (this.opts.pauseOnConnect) socket.pause();
    (socket as IntactSocket & { server?: IntactServer }).server = this;
    this.sockets.add(socket);
    (socket as OwnedSocket)[OWNER] = this;
    socket.on('close', IntactServer.socketClosed);
    return socket;
  }

  /** 'close' of any of our sockets (EventEmitter calls it with the socket as `this`):
   *  one function for all of them, not a closure and a once() wrapper per socket,
   *  which a takeover's restart step paid for every rebuilt connection at once. */
  private static socketClosed(this: OwnedSocket): void {
    const server = this[OWNER];
    if (server === undefined || !server.sockets.delete(this)) return;
    server.emitCloseIfDrained();
  }

  private emitCloseIfDrained(): void {
    if (!this.closing || this.listener || this.sockets.size > 0) return;
    this.closing = false;
    process.nextTick(() => this.emit('close'));
  }
}

export function createServer(options: ServerOptions, connectionListener?: (socket: IntactSocket) => void): IntactServer {
  return new IntactServer(options, connectionListener);
}
