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
  /** Monotonic clock in ms. */
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
      const snap = rebuildSnapshot(r, { rcvMss: stack.cfg.mss, rcvBuf: stack.cfg.rcvBuf });
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
    }
  }
  const t3 = now();

  // 4. kick: everything unacknowledged goes again now, with an ACK saying where we are.
  for (const { c } of rebuilt) if (c.state !== 'CLOSED') c.kick();
  i.runtime.host.schedule();
  const t4 = now();

  const times = { rebuildMs: t1 - t0, claimMs: t2 - t1, restartMs: t3 - t2, kickMs: t4 - t3, totalMs: t4 - t0 };
  log.info({ connections: rebuilt.length, failed, ...times }, 'takeover done');
  return { connections: rebuilt.length, failed, served, ...times };
}
