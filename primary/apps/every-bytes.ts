// A checkpoint every N bytes of a connection's progress, for the built-in apps that
// stream (http downloads, source, echo). A checkpoint must describe exactly what was
// consumed and produced (socket.checkpoint), which holds only at some instants; the app
// says which through `exact`. One is tried on the tick after the write that passed the
// next mark (Node's http corks a socket until then, and writes of one turn may come in
// several calls), and again whenever the socket drains. The drain matters to a
// connection left unprotected while the backup was away: only a checkpoint taken with
// all output in the engine can put it under a new backup's protection (resync), and at
// full speed that holds when the socket drains.
import { z } from 'zod';
import type { IntactSocket } from '../socket.js';

/** The apps' `--app-opt checkpointBytes=N` (0: never), defaulting to `bytes`. */
export function checkpointBytesOption(bytes: number) {
  return z.coerce
    .number({ error: 'must be a number of bytes (0: never)' })
    .int({ error: 'must be a whole number of bytes' })
    .min(0, { error: 'must be 0 (never) or more' })
    .default(bytes);
}

export class EveryBytes {
  private nextAt: number;
  private stopped = false;
  private readonly attempt = () => this.tryNow();
  private readonly attemptSoon = () => process.nextTick(this.attempt);

  constructor(
    private readonly socket: IntactSocket,
    /** Bytes between checkpoints; 0: never. */
    private readonly every: number,
    /** Progress already made when counting starts (a restored connection's). */
    private done: number,
    /** Whether a checkpoint at progress `done` would be exact now. */
    private readonly exact: (done: number) => boolean,
    private readonly state: () => unknown,
  ) {
    this.nextAt = every > 0 ? done + every : Infinity;
    if (every > 0) socket.on('drain', this.attempt);
  }

  /** `n` more bytes of progress (written to, or read from, the socket). */
  add(n: number): void {
    this.done += n;
    if (this.done >= this.nextAt) this.attemptSoon();
  }

  /** The stream is over (or the connection): no more checkpoints. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.socket.off('drain', this.attempt);
    this.nextAt = Infinity;
  }

  private tryNow(): void {
    if (this.done < this.nextAt || this.socket.destroyed || !this.exact(this.done)) return;
    // False: not protected, and no backup took the connection on: the next write or
    // drain tries again.
    if (this.socket.checkpoint(this.state())) this.nextAt = this.done + this.every;
  }
}
