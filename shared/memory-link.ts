// Two Links wired to each other in memory: the wire for every test above native/.
// Delivery is asynchronous and batched like the real link (everything sent before
// the next turn of the event loop arrives in one onFrames call), frames are copied on
// send (the sender may reuse its buffers), checksums are 'unknown' (verify them) and
// nothing is offloaded. Hooks let a test drop, inspect or count frames.
import { IntactError } from './errors.js';
import type { Link, LinkCapabilities, LinkStats, RxFrame, TxFrame } from './link.js';

/** Which way a frame travels: 'ab' is from the first link of the pair to the second. */
export type Direction = 'ab' | 'ba';

export interface MemoryLinkOptions {
  /** Interface names (default 'mem0', 'mem1'). */
  readonly names?: readonly [string, string];
  /** MACs (default 02:00:00:00:00:01 and :02). */
  readonly macs?: readonly [Buffer, Buffer];
  /** IP MTU (default 1500). Longer frames are refused on send, counted in txErrors. */
  readonly mtu?: number;
  /** Return true to drop the frame on the wire (after it was sent and counted). */
  readonly drop?: (frame: Buffer, dir: Direction) => boolean;
  /** Sees every frame put on the wire, dropped or not. */
  readonly inspect?: (frame: Buffer, dir: Direction) => void;
  /** Frames held for a link with no handler yet, beyond which they count as dropped. */
  readonly queueLimit?: number;
  /** Schedules a delivery; default setImmediate. Tests may pass queueMicrotask. */
  readonly schedule?: (fn: () => void) => void;
}

const NO_OFFLOAD: LinkCapabilities = Object.freeze({ gso: false, csumOffload: false });

class MemoryLink implements Link {
  readonly caps = NO_OFFLOAD;
  peer: MemoryLink | undefined;
  #handler: ((frames: readonly RxFrame[]) => void) | undefined;
  #inbox: RxFrame[] = [];
  #scheduled = false;
  #closed = false;
  readonly #stats: LinkStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txErrors: 0 };

  constructor(
    readonly name: string,
    readonly ifindex: number,
    readonly mac: Buffer,
    readonly mtu: number,
    private readonly dir: Direction,
    private readonly opts: MemoryLinkOptions,
  ) {}

  onFrames(handler: (frames: readonly RxFrame[]) => void): void {
    if (this.#closed) throw closed(this.name);
    this.#handler = handler;
    if (this.#inbox.length > 0) this.#schedule();
  }

  send(frames: readonly TxFrame[]): number {
    if (this.#closed) throw closed(this.name);
    for (const f of frames) {
      if (f.gsoSize !== undefined || f.csumOffload) {
        throw new IntactError('ERR_INTACT_BAD_FRAME', `link ${this.name} has no offloads (caps false)`);
      }
    }
    for (const f of frames) {
      const data = Buffer.isBuffer(f.data) ? Buffer.from(f.data) : Buffer.concat(f.data as readonly Buffer[]);
      if (data.length > this.mtu + 14 || data.length < 14) {
        this.#stats.txErrors++;
        continue;
      }
      this.#stats.txFrames++;
      this.#stats.txBytes += data.length;
      this.opts.inspect?.(data, this.dir);
      if (this.opts.drop?.(data, this.dir)) continue;
      this.peer?.deliver(data);
    }
    return frames.length;
  }

  deliver(data: Buffer): void {
    if (this.#closed) return;
    if (this.#handler === undefined && this.#inbox.length >= (this.opts.queueLimit ?? 4096)) {
      this.#stats.rxDropped++;
      return;
    }
    this.#inbox.push({ data, csum: 'unknown', gso: false });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#handler === undefined) return;
    this.#scheduled = true;
    (this.opts.schedule ?? setImmediate)(() => {
      this.#scheduled = false;
      const handler = this.#handler;
      if (this.#closed || handler === undefined || this.#inbox.length === 0) return;
      const batch = this.#inbox;
      this.#inbox = [];
      for (const f of batch) {
        this.#stats.rxFrames++;
        this.#stats.rxBytes += f.data.length;
      }
      handler(batch);
    });
  }

  stats(): LinkStats {
    return { ...this.#stats };
  }

  discardPending(): number {
    if (this.#closed) throw closed(this.name);
    const n = this.#inbox.length;
    this.#inbox = [];
    return n;
  }

  close(): void {
    this.#closed = true;
    this.#handler = undefined;
    this.#inbox = [];
  }
}

function closed(name: string): IntactError {
  return new IntactError('ERR_INTACT_LINK_CLOSED', `link ${name} is closed`);
}

/** Two links, each delivering what it sends to the other. */
export function memoryLinkPair(options: MemoryLinkOptions = {}): [Link, Link] {
  const [na, nb] = options.names ?? ['mem0', 'mem1'];
  const [ma, mb] = options.macs ?? [Buffer.from('020000000001', 'hex'), Buffer.from('020000000002', 'hex')];
  const mtu = options.mtu ?? 1500;
  const a = new MemoryLink(na, 1, Buffer.from(ma), mtu, 'ab', options);
  const b = new MemoryLink(nb, 2, Buffer.from(mb), mtu, 'ba', options);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
