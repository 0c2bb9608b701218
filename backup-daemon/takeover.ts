// Takeover, the steps of DESIGN.md after detection, each timed:
//   rebuild  every connection of the dead primary from the replica (rule 3), into the
//            same engine the primary ran;
//   claim    the VIP: start answering for it and send gratuitous ARP requests;
//   restart  the application: a server on its port for new clients, and each rebuilt
//            connection handed to its restore hook with the last checkpoint (rule 4);
//   kick     the clients: resend what is unacknowledged and ACK at once, instead of
//            waiting for anyone's retransmission timer (a Linux client's next RTO can be
//            a second away after a few hundred ms of silence).
import { logger } from '../shared/log.js';
import type { Runtime } from '../primary/runtime.js';
import { serveApp, type PreparedApp, type ServedApp } from '../primary/app.js';
import type { TcpConnection } from '../shared/tcp/stack.js';
import type { ReplicaStore, Replica } from './store.js';
import { rebuildSnapshot } from './rebuild.js';

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
  /** Replicas that could not be rebuilt (logged with the reason). */
  failed: number;
  served: ServedApp;
}

export interface TakeoverInput {
  /** What the backup holds of the dead primary (empty if it never connected). */
  store: ReplicaStore | undefined;
  /** The runtime on the backup's service link, built and NOT started. */
  runtime: Runtime;
  app: PreparedApp;
  /** Monotonic clock in ms, the one the store stamps messages with (StoreOptions.clock;
   *  both default to performance.now). */
  now?: () => number;
}

export async function takeover(i: TakeoverInput): Promise<TakeoverResult> {
  const now = i.now ?? (() => performance.now());
  const t0 = now();
  const stack = i.runtime.stack;

  // 1. rebuild
  const rebuilt: Array<{ r: Replica; c: TcpConnection }> = [];
  let failed = 0;
  for (const r of i.store?.replicas.values() ?? []) {
    try {
      const snap = rebuildSnapshot(r, { rcvMss: stack.cfg.mss, rcvBuf: stack.cfg.rcvBuf, now: t0 });
      rebuilt.push({ r, c: stack.restore(snap, t0) });
    } catch (e) {
      failed++;
      log.error({ conn: r.open.conn, err: (e as Error).message }, 'connection could not be rebuilt');
    }
  }
  const t1 = now();

  // 2. claim the VIP: the host starts answering ARP for it and announces it.
  i.runtime.start(true);
  const t2 = now();

  // 3. restart the application.
  const served = await serveApp(i.app, { runtime: i.runtime });
  for (const { r, c } of rebuilt) {
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
    socket.on('error', () => undefined);
    try {
      if (i.app.instance.restore) {
        const state = r.checkpoint ? JSON.parse(r.checkpoint.state.toString('utf8')) : undefined;
        i.app.instance.restore(socket, state);
      } else {
        // No restore hook: the app restarts the connection from its first byte, which
        // the store still holds, since such an app never checkpoints.
        i.app.instance.connection(socket);
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
  const t3 = now();

  // 4. kick: everything unacknowledged goes again now, with an ACK saying where we are.
  for (const { c } of rebuilt) if (c.state !== 'CLOSED') kick(c);
  i.runtime.host.schedule();
  const t4 = now();

  const times = { rebuildMs: t1 - t0, claimMs: t2 - t1, restartMs: t3 - t2, kickMs: t4 - t3, totalMs: t4 - t0 };
  log.info({ connections: rebuilt.length, failed, ...times }, 'takeover done');
  return { connections: rebuilt.length, failed, served, ...times };
}

/** The kick of one rebuilt connection. One rebuilt in SYN-RECEIVED (the backup holds
 *  its OPEN, not yet the update that it was established) most likely belongs to a
 *  client that completed the handshake: the primary's SYN-ACK left only once the backup
 *  held the OPEN. A SYN-ACK again would reach that ESTABLISHED client as an old SYN,
 *  which Linux answers with a challenge ACK (RFC 5961; TcpExtTCPChallengeACK moves,
 *  measured in test/failover/lab-kv.test.ts). A keepalive-style probe (an ACK at
 *  snd_una - 1) draws a plain ACK instead, which completes our handshake at once. A
 *  client still in SYN-SENT ignores the probe; its retransmitted SYN, or our own SYN-ACK
 *  timer, finishes the handshake then (DESIGN rule 5 holds either way). */
export function kick(c: TcpConnection): void {
  if (c.state === 'SYN-RECEIVED') {
    c.adoptedHalfOpen = true;
    c.probeNow = true;
    c.ctx.markDirty(c);
  } else {
    c.kick();
  }
}
