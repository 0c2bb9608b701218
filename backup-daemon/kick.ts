// The takeover's kick step, paced (takeover.ts calls it). Measured with 10,000
// connections from one client (scenario takeover-vs-connections): kicked all at once,
// 9,936 of the 10,000 kick frames were dropped before they left (936 of 1,000 at 1,000
// connections), because the backup did not know the client's MAC yet and the neighbour
// queue holds 64 frames per address. Nor should thousands go in one burst: a veth takes
// net.core.netdev_max_backlog (1,000) frames at once (the client's own retransmission
// bursts lost 843 to 7,761 frames there in the same runs), and the answers come back to
// a receive ring of 256 slots (native/). So:
//   - the rebuilt connections are held silent (TcpConnection.hold) until kicked;
//   - each client address is resolved first (an ARP request, VipHost.resolve), and its
//     connections are kicked once the address is known (or after resolveTimeoutMs
//     anyway: their retransmission timers and kick probes carry on from there);
//   - `batch` connections per event-loop turn, so what the clients answer is read from
//     the ring between batches, and no batch while the host still holds frames the link
//     refused (VipHost.txBacklog); for each client, first the connections whose kick
//     carries something (our unacknowledged data, an ACK the client has not seen, a
//     half-open handshake), then the ones whose kick only repeats what the client knows.
// A held connection whose client speaks first is kicked at once by the engine
// (shared/tcp/process.ts), whatever its turn.
import type { TcpConnection } from '../shared/tcp/stack.js';

/** What the kick needs of the host (primary/host.ts's VipHost has it). */
export interface KickHost {
  resolve(ip: number): boolean;
  onNeighbor(handler: (ip: number) => void): () => void;
  readonly txBacklog: number;
}

export interface KickOptions {
  /** Kicks one connection (takeover.ts's kick). */
  kick(c: TcpConnection, now: number): void;
  /** The stack's clock, ms. */
  now(): number;
  /** Connections kicked per event-loop turn (default 128: their answers fit the
   *  receive ring, 256 slots, with room for other traffic). */
  batch?: number;
  /** How long to wait for a client address before kicking its connections anyway. */
  resolveTimeoutMs?: number;
  /** Resolves after one event-loop turn (default setImmediate; tests step by hand). */
  turn?(): Promise<void>;
  /** Resolves after `ms` unless woken first (default setTimeout). */
  sleep?(ms: number, wake: Promise<void>): Promise<void>;
}

export interface KickResult {
  /** Connections kicked by this step (not those their client's segment kicked first). */
  kicked: number;
  /** Event-loop turns the kick took. */
  turns: number;
  /** Client addresses not resolved within resolveTimeoutMs (kicked anyway). */
  unresolved: number;
}

const DEFAULT_BATCH = 128;
const DEFAULT_RESOLVE_TIMEOUT_MS = 1000;

const NEVER = new Promise<void>(() => undefined);

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

function sleepUnlessWoken(ms: number, wake: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const slept = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  return Promise.race([slept, wake]).finally(() => clearTimeout(timer));
}

/** A kick that carries something: a resend, an ACK the client has not seen, or the probe
 *  that completes a half-open handshake. */
function urgent(c: TcpConnection): boolean {
  return c.sndUna !== c.sndMax || c.effAck() !== c.lastAckSent || c.state === 'SYN-RECEIVED';
}

/** Kicks every connection of `conns` still held (TcpConnection.hold) when its turn
 *  comes; resolves once none is left waiting. */
export async function kickAll(conns: readonly TcpConnection[], host: KickHost, o: KickOptions): Promise<KickResult> {
  const batch = Math.max(1, o.batch ?? DEFAULT_BATCH);
  const turn = o.turn ?? nextTurn;
  const sleep = o.sleep ?? sleepUnlessWoken;
  const byAddr = new Map<number, TcpConnection[]>();
  for (const c of conns) {
    const list = byAddr.get(c.remoteAddr);
    if (list === undefined) byAddr.set(c.remoteAddr, [c]);
    else list.push(c);
  }
  for (const [ip, list] of byAddr) byAddr.set(ip, [...list.filter(urgent), ...list.filter((c) => !urgent(c))]);
  // Connections whose client address is known, in the order their addresses were.
  const ready: TcpConnection[] = [];
  const waiting = new Map<number, TcpConnection[]>();
  let wake: () => void = () => undefined;
  let woken = new Promise<void>((r) => (wake = r));
  const off = host.onNeighbor((ip) => {
    const list = waiting.get(ip);
    if (list === undefined) return;
    waiting.delete(ip);
    for (const c of list) ready.push(c);
    wake();
  });
  const result: KickResult = { kicked: 0, turns: 0, unresolved: 0 };
  try {
    for (const [ip, list] of byAddr) {
      if (host.resolve(ip)) for (const c of list) ready.push(c);
      else waiting.set(ip, list);
    }
    const giveUpAt = o.now() + (o.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS);
    let next = 0;
    while (next < ready.length || waiting.size > 0) {
      if (next < ready.length && host.txBacklog === 0) {
        const now = o.now();
        for (let n = 0; n < batch && next < ready.length; next++) {
          const c = ready[next]!;
          // Closed meanwhile, or kicked already by its client's segment.
          if (c.state === 'CLOSED' || !c.kickHeld) continue;
          o.kick(c, now);
          result.kicked++;
          n++;
        }
      }
      if (next >= ready.length && waiting.size > 0) {
        const left = giveUpAt - o.now();
        if (left <= 0) {
          result.unresolved += waiting.size;
          for (const list of waiting.values()) for (const c of list) ready.push(c);
          waiting.clear();
          continue;
        }
        await sleep(left, woken);
        woken = new Promise<void>((r) => (wake = r));
      } else if (host.txBacklog > 0) {
        // The link is refusing frames: the host sends them again within a millisecond.
        await sleep(1, NEVER);
      } else if (next < ready.length) {
        await turn();
      }
      result.turns++;
    }
  } finally {
    off();
  }
  return result;
}
