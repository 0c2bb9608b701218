// The server application of the simulation, written straight on the engine connection
// but keeping IntactSocket's checkpoint contract (primary/socket.ts), so the failover
// path is exercised without a Duplex and its event-loop turns:
//   - it is handed no received byte beyond what the mirror replicated (recvLimit);
//   - a checkpoint {state, consumed, produced} is recorded after the replies it covers
//     were written, and submitted only once the engine accepted all of them;
//   - restored after a takeover, it resumes from the last checkpoint: reads from the
//     consumed point, writes from the produced point, and drops what it produces again
//     below the replicated send end (DESIGN rule 2).
// It answers each request line with replyTo(line), and after a quit or the client's
// FIN writes the trailer (requests counted, hash of every consumed byte) and closes.

import type { TcpConnection } from '../../../shared/tcp/connection.js';
import type { SocketProtection, ResumePoint } from '../../../primary/socket.js';
import { FNV_OFFSET, fnv, isQuit, replyTo, trailer } from './protocol.js';

export interface AppState {
  requests: number;
  hash: number;
}

export interface ServerAppOptions {
  /** Checkpoint after every this many requests; 0: never. */
  checkpointEvery: number;
  /** After the client's FIN, wait this long before the trailer and our FIN. */
  finishDelayMs?: number;
  /** Runs fn after ms of virtual time (the simulation's agenda). */
  later?: (fn: () => void, ms: number) => void;
  protection?: SocketProtection;
  /** Unprotected now, a backup may take the connection on at a checkpoint (as
   *  IntactSocket asks its runtime): the hooks then, or undefined (not this time). */
  resync?: (state: Buffer, consumed: number, produced: number) => SocketProtection | undefined;
  /** Restored after a takeover: where to resume, and the last checkpoint's state. */
  resume?: ResumePoint;
  state?: AppState;
}

export class ServerApp {
  state: AppState;
  /** Stream positions, as IntactSocket keeps them. */
  consumed = 0;
  pulled = 0;
  produced = 0;
  accepted = 0;
  dropOnResume = 0;
  /** Bytes of the current request line, not yet complete. */
  #line: number[] = [];
  #pending: Buffer[] = [];
  #checkpoints: Array<{ state: Buffer; consumed: number; produced: number }> = [];
  #peerEnded = false;
  /** The trailer is written: nothing more to produce, close once it is in the engine. */
  finished = false;
  #closeSent = false;
  #finishing = false;
  closed = false;
  error: string | undefined;
  checkpointsTaken = 0;
  /** Checkpoints that put the connection under a backup's protection. */
  resynced = 0;
  #protection: SocketProtection | undefined;

  constructor(readonly c: TcpConnection, readonly o: ServerAppOptions) {
    this.#protection = o.protection;
    this.state = o.state ? { ...o.state } : { requests: 0, hash: FNV_OFFSET };
    if (o.resume) {
      this.consumed = this.pulled = o.resume.consumed;
      this.produced = this.accepted = o.resume.produced;
      this.dropOnResume = Math.max(0, o.resume.replicatedEnd - o.resume.produced);
    }
    c.handler = {
      readable: () => this.pump(),
      writable: () => this.flush(),
      end: () => {
        this.#peerEnded = true;
        this.pump();
      },
      closed: (err) => {
        this.closed = true;
        if (err) this.error = (err as NodeJS.ErrnoException).code ?? err.message;
      },
    };
    // A restored connection may already hold input and the client's FIN: no event
    // will announce them.
    if (o.resume) {
      if (c.finReceived()) this.#peerEnded = true;
      this.pump();
    }
  }

  /** Read and answer everything available, as far as the replication gate allows. */
  pump(): void {
    const c = this.c;
    for (;;) {
      const room = this.#protection ? this.#protection.recvLimit() - this.pulled : undefined;
      if (room !== undefined && room <= 0) break;
      const b = c.recv(room);
      if (b === undefined || b.length === 0) break;
      this.pulled += b.length;
      for (let i = 0; i < b.length && !this.finished; i++) this.#consume(b[i]!);
    }
    if (this.#peerEnded && !this.finished && !this.#finishing && c.recvQueued() === 0) {
      const delay = this.o.finishDelayMs ?? 0;
      if (delay > 0 && this.o.later) {
        this.#finishing = true;
        this.o.later(() => this.#finish(), delay);
      } else {
        this.#finish();
      }
    }
  }

  #consume(byte: number): void {
    this.consumed++;
    this.state.hash = fnv(this.state.hash, byte);
    this.#line.push(byte);
    if (byte !== 0x0a) return;
    const line = Buffer.from(this.#line);
    this.#line = [];
    if (isQuit(line)) {
      this.#finish();
      return;
    }
    this.state.requests++;
    const reply = replyTo(line);
    if (reply !== undefined) this.#write(reply);
    const every = this.o.checkpointEvery;
    if (every > 0 && this.state.requests % every === 0) this.#checkpoint();
  }

  #finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.#write(trailer(this.state.requests, this.state.hash));
  }

  #write(b: Buffer): void {
    this.produced += b.length;
    this.#pending.push(b);
    this.flush();
  }

  #checkpoint(): void {
    if (!this.#protection) {
      // IntactSocket's resync: only when everything pulled is consumed and every
      // reply is in the engine.
      if (!this.o.resync || this.#checkpoints.length > 0 || this.produced > this.accepted || this.consumed !== this.pulled) return;
      this.#protection = this.o.resync(Buffer.from(JSON.stringify(this.state)), this.consumed, this.produced);
      if (this.#protection) this.resynced++;
      return;
    }
    this.#checkpoints.push({ state: Buffer.from(JSON.stringify(this.state)), consumed: this.consumed, produced: this.produced });
    this.#submitCheckpoints();
  }

  #submitCheckpoints(): void {
    while (this.#checkpoints.length > 0 && this.#checkpoints[0]!.produced <= this.accepted) {
      const k = this.#checkpoints.shift()!;
      this.#protection?.checkpoint(k.state, k.consumed, k.produced);
      this.checkpointsTaken++;
    }
  }

  /** Move pending output into the engine as far as its send queue has room. */
  flush(): void {
    const c = this.c;
    while (this.#pending.length > 0) {
      let b = this.#pending[0]!;
      if (this.dropOnResume > 0) {
        const d = Math.min(this.dropOnResume, b.length);
        this.dropOnResume -= d;
        this.accepted += d;
        b = this.#pending[0] = b.subarray(d);
      }
      let n = 0;
      try {
        n = b.length === 0 ? 0 : c.send(b);
      } catch (err) {
        // The engine refuses output after our FIN or in a closing state: the app wrote
        // more than the connection it resumed can carry, a failure the test reports.
        this.error = (err as Error).message;
        this.#pending = [];
        return;
      }
      this.accepted += n;
      if (this.#checkpoints.length > 0) this.#submitCheckpoints();
      if (n < b.length) {
        this.#pending[0] = b.subarray(n);
        return;
      }
      this.#pending.shift();
    }
    if (this.finished && !this.#closeSent) {
      this.#closeSent = true;
      c.close();
    }
  }
}
