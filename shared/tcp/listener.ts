// A listening port: passive opens (RFC 9293 §3.10.7.2 "If the state is LISTEN"), the
// half-open (SYN) queue limit and the accept queue of established connections not yet
// handed to the application.

import type { TcpConnection } from './connection.js';

/** What a listener needs from its stack. */
export interface ListenerHost {
  closeListener(l: Listener): void;
}

export class Listener {
  readonly port: number;
  /** Local IPv4 address served; undefined: any. */
  readonly addr: number | undefined;
  /** Established connections waiting for onConnection, at most this many. */
  readonly backlog: number;
  /** Half-open connections, at most this many. */
  readonly synBacklog: number;
  /** @internal half-open connections now. */
  synQueue = 0;
  /** @internal established, not yet handed over. */
  readonly acceptQueue: TcpConnection[] = [];
  /** @internal */
  closed = false;
  readonly #host: ListenerHost;
  #onConnection: ((c: TcpConnection) => void) | undefined;

  constructor(host: ListenerHost, port: number, o: { backlog?: number; synBacklog?: number; addr?: number } = {}) {
    this.#host = host;
    this.port = port;
    this.addr = o.addr;
    // Linux: somaxconn 4096 bounds backlog; tcp_max_syn_backlog defaults to 1024+.
    this.backlog = o.backlog ?? 511;
    this.synBacklog = o.synBacklog ?? 1024;
  }

  /** An accepted, ESTABLISHED connection. While unset, connections wait in the accept
   *  queue (bounded by backlog); setting it hands them over at once. */
  get onConnection(): ((c: TcpConnection) => void) | undefined {
    return this.#onConnection;
  }

  set onConnection(fn: ((c: TcpConnection) => void) | undefined) {
    this.#onConnection = fn;
    if (fn === undefined) return;
    while (this.acceptQueue.length > 0 && this.#onConnection === fn) {
      const c = this.acceptQueue.shift()!;
      if (c.state === 'CLOSED') continue;
      fn(c);
      // Whatever arrived while it waited: tell the handler the API layer just set.
      if (c.recvQueued() > 0) c.handler?.readable();
      if (c.finReceived()) c.handler?.end();
    }
  }

  /** @internal hand over an established connection, or queue it. */
  deliver(c: TcpConnection): void {
    const fn = this.#onConnection;
    if (fn !== undefined) fn(c);
    else this.acceptQueue.push(c);
  }

  /** Room for one more established connection? */
  hasRoom(): boolean {
    return this.#onConnection !== undefined || this.acceptQueue.length < this.backlog;
  }

  /** Stop accepting; half-open and unaccepted connections are reset. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#host.closeListener(this);
  }
}
