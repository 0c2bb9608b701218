// Takeover, the steps of DESIGN.md after detection, each timed:
//   rebuild  every connection of the dead primary from the replica (rule 3), into the
//            same engine the primary ran;
//   restart  the application: a server on its port for new clients, and each rebuilt
//            connection handed to its restore hook with the last checkpoint (rule 4);
//   claim    the VIP: start answering for it and send gratuitous ARP requests (after the
//            restart, unlike DESIGN.md's order: see takeover() for the measured reason);
//   kick     the clients: resend what is unacknowledged and ACK at once, instead of
//            waiting for anyone's retransmission timer (a Linux client's next RTO can be
//            a second away after a few hundred ms of silence); paced, each client's
//            address resolved first (kick.ts). Until then every rebuilt connection is
//            held silent, from before the restart, so no pass of the host sends for it.
import { logger } from '../shared/log.js';
import type { Runtime } from '../primary/runtime.js';
import { serveApp, type PreparedApp, type ServedApp } from '../primary/app.js';
import type { TcpConnection, TcpStack } from '../shared/tcp/stack.js';
import type { ReplicaStore, Replica } from './store.js';
import { rebuildSnapshot } from './rebuild.js';
import { kickAll, type KickResult } from './kick.js';
import { emitIcmpFragNeeded } from '../shared/wire/icmp.js';
import { IPV4_HEADER_LEN } from '../shared/wire/ipv4.js';
import { TCP_HEADER_LEN } from '../shared/wire/tcp.js';

const log = logger('takeover');

export interface TakeoverTimes {
  /** Milliseconds spent in each step. */
  rebuildMs: number;
  claimMs: number;
  restartMs: number;
  kickMs: number;
  totalMs: number;
}

export interface TakeoverResult extends TakeoverTimes {
  connections: number;
  /** Of those, rebuilt for output replay: the backup did not hold all their output, the
   *  restored app writes it again (shared/tcp/process.ts, replayCatchUp). */
  replayed: number;
  /** Of those, handed to the app's restore hook with its last checkpoint (not from
   *  their first byte). */
  checkpointed: number;
  /** How the paced kick went (turns, client addresses it could not resolve). */
  kick: KickResult;
  /** Replicas that could not be rebuilt (logged with the reason). */
  failed: number;
  /** Frames received while passive, discarded unread before the claim. */
  staleFrames: number;
  /** The rebuild and restart ran at real-time priority (false: not permitted, or not asked). */
  realtime: boolean;
  /** How many connections were rebuilt in each TCP state (the kick differs by state). */
  states: Record<string, number>;
  served: ServedApp;
}

export interface TakeoverInput {
  /** What the backup holds of the dead primary (empty if it never connected). */
  store: ReplicaStore | undefined;
  /** The runtime on the backup's service link, built and NOT started. */
  runtime: Runtime;
  app: PreparedApp;
  /** After each kick's ACK, an ICMP "fragmentation needed" (pmtuKick); default true. */
  pmtuKick?: boolean;
  /** Monotonic clock in ms, the one the store stamps messages with (StoreOptions.clock;
   *  both default to performance.now). */
  now?: () => number;
  /** Raises this thread's scheduling priority for the CPU-bound steps (rebuild and
   *  restart) and lowers it after; the daemon passes the addon's real-time switch. */
  priority?: { raise(): boolean; lower(): void };
}

export async function takeover(i: TakeoverInput): Promise<TakeoverResult> {
  const now = i.now ?? (() => performance.now());
  const t0 = now();
  const stack = i.runtime.stack;
  // The rebuild and the restart are pure CPU work on a machine that may be busy with
  // the clients' retransmissions: measured in CPU profiles of the lab's takeovers of
  // 1,000 connections, the daemon's thread went unscheduled for 7-16 ms at a time in
  // the middle of them (a timeslice of another task on the 2 cores), as long as the
  // whole rebuild's own work. Real-time for these two steps only, then back to normal
  // before the claim, whose frames the kernel's normal-priority work must carry.
  const raised = i.priority?.raise() ?? false;

  // 1. rebuild
  const { rebuilt, failed } = rebuildConnections(i.store, stack, t0);
  // The rebuilt connections stay silent until the kick releases them, paced.
  for (const { c } of rebuilt) hold(c);
  const rebuiltAt = now();
  const states: Record<string, number> = {};
  for (const { c } of rebuilt) states[c.state] = (states[c.state] ?? 0) + 1;

  // 2. restart the application, before the claim: the event loop is busy for the whole
  // step (10,000 connections: 130-340 ms measured), and once the VIP is claimed the
  // clients' retransmissions come to us; arriving while nobody reads, they overflowed
  // the receive ring (its slots are 64 KB each, for GSO frames): 22,533 of 62,454 frames
  // dropped in one 10,000-connection takeover, and their senders backed off for 7-28 s.
  // Before the claim they go to the dead primary's MAC, which costs them nothing more:
  // no one could have answered them sooner.
  let served: ServedApp;
  let checkpointed: number;
  try {
    ({ served, checkpointed } = await restartApp(i.app, i.runtime, rebuilt));
  } finally {
    if (raised) i.priority?.lower();
  }
  const restartedAt = now();

  // 3. claim the VIP: the host starts answering ARP for it and announces it. What the
  // link received while we were passive is old (ARP broadcasts, the old primary's own
  // announcements, which the host would take for a claim on the VIP by another host):
  // it goes unread.
  const stale = i.runtime.link.discardPending();
  i.runtime.start(true);
  const claimedAt = now();

  // 4. kick: everything unacknowledged goes again now, with an ACK saying where we are,
  // a batch per event-loop turn, each client's address resolved first (kick.ts).
  const host = i.runtime.host;
  const pmtu = i.pmtuKick ?? true;
  const k = await kickAll(rebuilt.map(({ c }) => c), host, {
    kick: (c, at) => {
      kick(c, at);
      if (pmtu) pmtuKick(c, host);
    },
    now,
  });
  const kickedAt = now();

  const times = {
    rebuildMs: rebuiltAt - t0, restartMs: restartedAt - rebuiltAt, claimMs: claimedAt - restartedAt,
    kickMs: kickedAt - claimedAt, totalMs: kickedAt - t0,
  };
  let replayed = 0;
  for (const { c } of rebuilt) if (c.replayAckLimit !== undefined) replayed++;
  log.info({ connections: rebuilt.length, replayed, checkpointed, failed, ...times, kick: k, staleFrames: stale, realtime: raised, states }, 'takeover done');
  return { connections: rebuilt.length, replayed, checkpointed, failed, served, kick: k, staleFrames: stale, realtime: raised, states, ...times };
}

/** The error listener every adopted socket gets before the app has it (one function
 *  for all, not a closure per connection). */
function ignoreError(): void {}

/** A connection rebuilt from its replica (step 1), before the app has it (step 3). */
export interface Rebuilt {
  r: Replica;
  c: TcpConnection;
}

/** Step 1: every replica of the store into `stack`, per rule 3, timers starting at
 *  `now` (the store's clock). A replica that cannot be rebuilt is logged and counted.
 *  One whose resynchronisation had not completed is left out and counted as
 *  `incomplete`: its connection was unprotected, and the replica may lack bytes the
 *  client was already acknowledged or sent. */
export function rebuildConnections(store: ReplicaStore | undefined, stack: TcpStack, now: number): { rebuilt: Rebuilt[]; failed: number; incomplete: number } {
  const rebuilt: Rebuilt[] = [];
  let failed = 0;
  let incomplete = 0;
  const o = { rcvMss: stack.cfg.mss, rcvBuf: stack.cfg.rcvBuf, now };
  for (const r of store?.replicas.values() ?? []) {
    if (r.resyncing) {
      incomplete++;
      continue;
    }
    try {
      const snap = rebuildSnapshot(r, o);
      rebuilt.push({ r, c: stack.restore(snap, now) });
    } catch (e) {
      failed++;
      log.error({ conn: r.open.conn, err: (e as Error).message }, 'connection could not be rebuilt');
    }
  }
  if (incomplete > 0) log.warn({ incomplete }, 'connections whose resynchronisation had not completed are not taken over');
  return { rebuilt, failed, incomplete };
}

/** States in which both directions are over: our FIN is out and the client's came in.
 *  When the app had also consumed all input by its last checkpoint, it has nothing left
 *  to read or write, and the engine finishes the connection alone (resends our FIN
 *  until acknowledged, answers a late FIN, waits out TIME-WAIT). Handed to the app, such
 *  a connection would make one that never checkpoints produce its whole output again,
 *  only for rule 2 to drop it: measured, a `source` app restored on two finished 1 GB
 *  transfers (TIME-WAIT) kept the takeover busy for 3.9 s. Input not yet consumed (an
 *  app that closed its side first and read on) still goes to the app. */
const BOTH_WAYS_DONE: ReadonlySet<string> = new Set(['CLOSING', 'LAST-ACK', 'TIME-WAIT', 'CLOSED']);

/** Step 3: the app served on its port, and each rebuilt connection handed to its
 *  restore hook with the last checkpoint (rule 4), except those finished both ways
 *  with all input consumed (BOTH_WAYS_DONE), which the engine completes alone. */
export async function restartApp(app: PreparedApp, runtime: Runtime, rebuilt: readonly Rebuilt[]): Promise<{ served: ServedApp; checkpointed: number }> {
  const served = await serveApp(app, { runtime });
  let checkpointed = 0;
  for (const { r, c } of rebuilt) {
    if (BOTH_WAYS_DONE.has(c.state) && c.recvQueued() === 0) continue;
    if (c.localPort !== served.port) {
      log.warn({ port: c.localPort }, 'rebuilt connection for a port the app does not serve: reset');
      c.abort();
      continue;
    }
    const socket = served.server.adopt(c, {
      consumed: r.rcv.basePos,
      produced: r.checkpoint?.produced ?? 0,
      replicatedEnd: r.snd.endPos,
    });
    socket.on('error', ignoreError);
    try {
      if (app.instance.restore) {
        const state = r.checkpoint ? JSON.parse(r.checkpoint.state.toString('utf8')) : undefined;
        app.instance.restore(socket, state);
        if (r.checkpoint) checkpointed++;
      } else {
        // No restore hook: the app restarts the connection from its first byte, which
        // the store still holds, since such an app never checkpoints.
        app.instance.connection(socket);
      }
    } catch (e) {
      log.error({ err: (e as Error).message }, 'app restore failed: connection reset');
      socket.destroy();
      continue;
    }
    // The client's FIN came before the move: no segment will announce it again, so
    // the socket hears it now, or it would never see EOF (and never close).
    if (c.finReceived()) c.handler?.end();
  }
  return { served, checkpointed };
}

/** The kick of one rebuilt connection. One rebuilt in SYN-RECEIVED (the backup holds
 *  its OPEN, not yet the update that it was established) most likely belongs to a
 *  client that completed the handshake: the primary's SYN-ACK left only once the backup
 *  held the OPEN. A SYN-ACK again would reach that ESTABLISHED client as an old SYN,
 *  which Linux answers with a challenge ACK (RFC 5961; TcpExtTCPChallengeACK moves,
 *  measured in test/failover/lab-kv.test.ts). A keepalive-style probe (an ACK at
 *  snd_una - 1) draws a plain ACK instead, which completes our handshake at once. A
 *  client still in SYN-SENT ignores the probe; its retransmitted SYN, or our own SYN-ACK
 *  timer, finishes the handshake then (DESIGN rule 5 holds either way). `now` is the
 *  stack's clock (default: the last time the stack was given). */
export function kick(c: TcpConnection, now?: number): void {
  if (c.state === 'SYN-RECEIVED') c.adoptedHalfOpen = true;
  c.kick(now);
}

/** States in which the client may have data of its own in flight. */
const CLIENT_MAY_SEND = new Set(['ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2']);

/** The client's segments that the dead primary never acknowledged wait for the
 *  client's own timers, whatever TCP segment we send: measured with `intact scenario
 *  kick` (Linux 6.18, SACK, RACK-TLP), ACKs, duplicate ACKs, window updates, a zero
 *  window, old data and probes all left the resend to the client's TLP or RTO, 100 ms to
 *  over a second later. An ICMP "fragmentation needed" naming a path MTU 8 bytes below
 *  the connection's segments is what made it resend at once (tcp_v4_mtu_reduced ->
 *  tcp_simple_retransmit): every segment in flight larger than the new MSS, within
 *  0.1 ms; 112 / 338 / 468 ms sooner after outages of 100 / 300 / 1000 ms for a
 *  7-segment request. Its costs: the client's path MTU to the VIP stays 8 bytes lower
 *  for its route's expiry (600 s on Linux), and a segment already smaller than the new
 *  MSS (a short request) is not resent by it. It quotes the client's first unacknowledged
 *  byte (our rcv_nxt, which Linux requires to lie in [snd_una, snd_nxt]); it sends no
 *  acknowledgment and no SACK, so nothing we lack is claimed (DESIGN step 5). Off with
 *  `takeover.pmtuKick: false` in the config. */
export function pmtuKick(c: TcpConnection, host: { queueIcmp(ip: number, icmp: Buffer): boolean }): boolean {
  if (!CLIENT_MAY_SEND.has(c.state)) return false;
  const mtu = Math.min(c.rcvMss, c.sndMss) + IPV4_HEADER_LEN + TCP_HEADER_LEN - PMTU_KICK_SHRINK;
  const icmp = emitIcmpFragNeeded({
    src: c.remoteAddr, dst: c.localAddr, srcPort: c.remotePort, dstPort: c.localPort, seq: c.rcvNxt,
    totalLength: mtu + PMTU_KICK_SHRINK,
  }, mtu);
  return host.queueIcmp(c.remoteAddr, icmp);
}

/** Bytes the pmtuKick's MTU is below the connection's segments (the least that works). */
export const PMTU_KICK_SHRINK = 8;

/** Keeps a rebuilt connection silent until kick() (TcpConnection.hold). Marked adopted
 *  already if half-open: its client may speak before its turn, and the engine then
 *  kicks it at once, as kick() would. */
export function hold(c: TcpConnection): void {
  if (c.state === 'SYN-RECEIVED') c.adoptedHalfOpen = true;
  c.hold();
}
