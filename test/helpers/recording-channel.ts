// A replication channel for the mirror's tests: keeps every message it is given and
// confirms on demand, no socket, no batching.
import type { MirrorChannel } from '../../primary/replication/mirror.js';
import type { Message } from '../../shared/replication/messages.js';

export class RecordingChannel implements MirrorChannel {
  readonly sent: Message[] = [];
  #confirm: Array<(upTo: number) => void> = [];
  send(m: Message): number {
    this.sent.push(m);
    return this.sent.length;
  }
  on(_e: 'confirm', fn: (upTo: number) => void): this {
    this.#confirm.push(fn);
    return this;
  }
  /** The backup holds every message up to `upTo` (default: all sent so far). */
  confirm(upTo = this.sent.length): void {
    for (const fn of this.#confirm) fn(upTo);
  }
}
