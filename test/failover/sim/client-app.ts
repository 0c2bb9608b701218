// The peer's application: an ordinary client on the test-only active opener. It writes
// its requests as the send queue allows, in chunks of seeded sizes — all at once
// (pipelined) or each after the reply to the one before — reads everything, and
// closes: after its last request (the client's FIN comes first), or after the
// server's EOF when the last request is a quit (the server's FIN comes first).
// What it received is compared with expected(): every reply, then the trailer.

import type { TcpConnection } from '../../../shared/tcp/connection.js';
import { FNV_OFFSET, QUIT, fnvBuf, replyTo, requestLine, trailer } from './protocol.js';

export interface Workload {
  /** Per request: reply bytes asked for, and padding bytes sent. */
  requests: ReadonlyArray<{ reply: number; pad: number }>;
  /** Who closes first. */
  closer: 'client' | 'server';
  /** Largest write() the client makes. */
  maxWrite: number;
  /** Send every request at once; otherwise each waits for the reply before it. */
  pipelined: boolean;
  /** When the server closes first: close this long after its EOF (the server then
   *  waits in FIN-WAIT-2). */
  closeDelayMs?: number;
}

export class ClientApp {
  readonly stream: Buffer;
  readonly expected: Buffer;
  sent = 0;
  readonly got: Buffer[] = [];
  gotBytes = 0;
  ended = false;
  closed = false;
  /** The connect() completed (the peer saw the handshake finish). */
  connected = false;
  error: string | undefined;
  #closeSent = false;
  /** Stream position after each request line, and in `expected` after each reply. */
  readonly #lineEnds: number[] = [];
  readonly #replyEnds: number[] = [];

  constructor(
    readonly c: TcpConnection,
    readonly w: Workload,
    readonly rand: () => number,
    readonly later: (fn: () => void, ms: number) => void,
  ) {
    const lines = w.requests.map((r, i) => requestLine(i, r.reply, r.pad, rand));
    if (w.closer === 'server') lines.push(QUIT);
    this.stream = Buffer.concat(lines);
    const replies = lines.map((l) => replyTo(l)).filter((b): b is Buffer => b !== undefined);
    let end = 0;
    for (const l of lines) this.#lineEnds.push((end += l.length));
    end = 0;
    for (const r of replies) this.#replyEnds.push((end += r.length));
    this.expected = Buffer.concat([...replies, trailer(w.requests.length, fnvBuf(FNV_OFFSET, this.stream))]);
    c.handler = {
      readable: () => {
        this.read();
        this.write();
      },
      writable: () => this.write(),
      end: () => {
        this.ended = true;
        this.read();
        if (this.w.closer !== 'server') return;
        if (this.w.closeDelayMs) this.later(() => this.close(), this.w.closeDelayMs);
        else this.close();
      },
      closed: (err) => {
        this.read();
        this.closed = true;
        if (err) this.error = (err as NodeJS.ErrnoException).code ?? err.message;
      },
    };
  }

  write(): void {
    const c = this.c;
    if (c.state !== 'ESTABLISHED' && c.state !== 'CLOSE-WAIT') return;
    this.connected = true;
    const limit = this.#writeLimit();
    while (this.sent < limit) {
      const len = Math.min(limit - this.sent, 1 + Math.floor(this.rand() * this.w.maxWrite));
      const n = c.send(this.stream.subarray(this.sent, this.sent + len));
      this.sent += n;
      if (n < len) return;
    }
    if (this.sent === this.stream.length && this.w.closer === 'client') this.close();
  }

  /** How far the request stream may be written now. */
  #writeLimit(): number {
    if (this.w.pipelined) return this.stream.length;
    let answered = 0;
    while (answered < this.#replyEnds.length && this.gotBytes >= this.#replyEnds[answered]!) answered++;
    return this.#lineEnds[Math.min(answered, this.#lineEnds.length - 1)]!;
  }

  close(): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.c.close();
  }

  read(): void {
    for (;;) {
      const b = this.c.recv();
      if (b === undefined || b.length === 0) break;
      this.got.push(Buffer.from(b));
      this.gotBytes += b.length;
    }
  }

  received(): Buffer {
    return Buffer.concat(this.got);
  }

  /** Both FINs are through on the client's side. */
  get done(): boolean {
    return this.ended && (this.c.state === 'TIME-WAIT' || this.c.state === 'CLOSED');
  }
}
