// The scenarios the failover simulation kills the primary in, at every step. Small on
// purpose: each one is run once per kill point (every step of the primary), so the
// number of runs grows with the square of its length.

import type { Scenario } from './world.js';

const link = { loss: 0.03, dup: 0.01, delay: 5, jitter: 3 };
const repl = { delay: 0.5, jitter: 0.3 };
const base = {
  link,
  repl,
  bytesPerConnection: 1 << 20,
  stack: { mss: 536, timeWaitMs: 30_000 },
  detectMs: 300,
  deadlineMs: 180_000,
  finishDelayMs: 0,
};

export const SCENARIOS: Record<string, Scenario> = {
  /** The handshake and one small exchange: most kill points fall in the handshake and
   *  the close (client's FIN first). */
  handshake: {
    ...base,
    name: 'handshake',
    workload: { requests: [{ reply: 20, pad: 5 }], closer: 'client', maxWrite: 100, pipelined: true },
    checkpointEvery: 1,
  },
  /** Client to server: large requests, small replies, each request after the reply to
   *  the one before, a checkpoint per request. */
  upload: {
    ...base,
    name: 'upload',
    workload: {
      requests: [{ reply: 10, pad: 3000 }, { reply: 10, pad: 2500 }, { reply: 30, pad: 1200 }],
      closer: 'client', maxWrite: 1500, pipelined: false,
    },
    checkpointEvery: 1,
  },
  /** Server to client: small requests, large replies, one at a time, a checkpoint every
   *  other one; the server lingers a little after the client's FIN (CLOSE-WAIT). */
  download: {
    ...base,
    name: 'download',
    workload: {
      requests: [{ reply: 3000, pad: 5 }, { reply: 2000, pad: 5 }, { reply: 3500, pad: 5 }],
      closer: 'client', maxWrite: 100, pipelined: false,
    },
    checkpointEvery: 2,
    finishDelayMs: 15,
  },
  /** Both ways at once (pipelined); the server closes first (a quit request), the
   *  client 20 ms after it saw the server's FIN; sequence numbers wrap. */
  serverCloses: {
    ...base,
    name: 'serverCloses',
    workload: {
      requests: [{ reply: 1500, pad: 1500 }, { reply: 2500, pad: 600 }, { reply: 400, pad: 2200 }],
      closer: 'server', maxWrite: 900, pipelined: true, closeDelayMs: 20,
    },
    checkpointEvery: 1,
    issNearWrap: true,
  },
  /** An app that never checkpoints: the backup replays the streams from byte 0. */
  noCheckpoint: {
    ...base,
    name: 'noCheckpoint',
    workload: {
      requests: [{ reply: 1200, pad: 800 }, { reply: 2000, pad: 1500 }, { reply: 100, pad: 900 }],
      closer: 'client', maxWrite: 700, pipelined: false,
    },
    checkpointEvery: 0,
    finishDelayMs: 15,
  },
  /** The backup's bound per connection is small (rule 7): the mirror holds the app and
   *  the client back until checkpoints and acknowledgments free room. Received bytes
   *  may take half the bound, so a request line must fit in 1600 bytes. */
  backPressure: {
    ...base,
    name: 'backPressure',
    bytesPerConnection: 3200,
    workload: {
      requests: [{ reply: 1800, pad: 1400 }, { reply: 1500, pad: 1500 }, { reply: 900, pad: 1000 }, { reply: 2500, pad: 200 }],
      closer: 'client', maxWrite: 800, pipelined: true,
    },
    checkpointEvery: 1,
  },
  /** Two connections at once, staggered: the gates of both wait in one FIFO of
   *  message numbers, and the backup rebuilds both. */
  twoClients: {
    ...base,
    name: 'twoClients',
    clients: 2,
    stagger: 7,
    workload: {
      requests: [{ reply: 900, pad: 700 }, { reply: 1200, pad: 300 }],
      closer: 'client', maxWrite: 600, pipelined: false,
    },
    checkpointEvery: 1,
    finishDelayMs: 5,
  },
  /** The backup arrives 30 ms into a session (or is back after a loss): the connection
   *  is unprotected until the app's first checkpoint after that, which resynchronises
   *  it (the store gets its streams from the checkpoint on); kills count from then. */
  resync: {
    ...base,
    name: 'resync',
    protectAfterMs: 30,
    workload: {
      requests: [{ reply: 600, pad: 400 }, { reply: 100, pad: 300 }, { reply: 1500, pad: 300 }, { reply: 300, pad: 1800 }, { reply: 2500, pad: 100 }, { reply: 200, pad: 900 }],
      closer: 'client', maxWrite: 700, pipelined: false,
    },
    checkpointEvery: 1,
    finishDelayMs: 5,
  },
  /** Output replay: the download's bytes leave unreplicated, up to a window of 4,000
   *  bytes past the backup's snd_una (smaller than a reply, so the window binds); the
   *  backup's app writes them again and the client's ACK tells the rebuilt engine how
   *  many to drop. */
  replayDownload: {
    ...base,
    name: 'replayDownload',
    workload: {
      requests: [{ reply: 3000, pad: 5 }, { reply: 6000, pad: 5 }, { reply: 3500, pad: 5 }],
      closer: 'client', maxWrite: 100, pipelined: false,
    },
    checkpointEvery: 2,
    finishDelayMs: 15,
    replayWindow: 4000,
  },
  /** Output replay with an app that never checkpoints: the backup's app writes the
   *  whole reply stream again from byte 0. */
  replayNoCheckpoint: {
    ...base,
    name: 'replayNoCheckpoint',
    workload: {
      requests: [{ reply: 1200, pad: 800 }, { reply: 5000, pad: 1500 }, { reply: 100, pad: 900 }],
      closer: 'client', maxWrite: 700, pipelined: false,
    },
    checkpointEvery: 0,
    finishDelayMs: 15,
    replayWindow: 3000,
  },
  /** Output replay on a bad link (10% loss, duplicates, reordering): the client's ACKs
   *  that tell the rebuilt connection where it is come late, twice, out of order. */
  replayLossy: {
    ...base,
    name: 'replayLossy',
    link: { loss: 0.1, dup: 0.03, delay: 4, jitter: 12 },
    workload: {
      requests: [{ reply: 2500, pad: 900 }, { reply: 600, pad: 1600 }, { reply: 4200, pad: 100 }],
      closer: 'server', maxWrite: 500, pipelined: false,
    },
    checkpointEvery: 1,
    replayWindow: 3000,
  },
  /** Output replay, the server closes after replies it never checkpointed: the close
   *  comes while the backup's send stream lags snd_una, so the jump and our FIN must go
   *  in separate UPDATEs (found in review: one UPDATE carrying both was refused by the
   *  store, which ends the session). */
  replayCloseNoCheckpoint: {
    ...base,
    name: 'replayCloseNoCheckpoint',
    workload: {
      requests: [{ reply: 3000, pad: 5 }, { reply: 3000, pad: 5 }],
      closer: 'server', maxWrite: 100, pipelined: false, closeDelayMs: 5,
    },
    checkpointEvery: 0,
    issNearWrap: true,
    replayWindow: 40000,
  },
  /** Output replay, a small store bound and the server closing: a jump that empties the
   *  bytes waiting for room must still send the checkpoints and the FIN behind them
   *  (found in review: the FIN stalled for good). */
  replayBackPressureServerCloses: {
    ...base,
    name: 'replayBackPressureServerCloses',
    bytesPerConnection: 3200,
    workload: {
      requests: [{ reply: 1800, pad: 400 }, { reply: 1500, pad: 500 }, { reply: 900, pad: 300 }, { reply: 2500, pad: 200 }],
      closer: 'server', maxWrite: 800, pipelined: true,
    },
    checkpointEvery: 1,
    replayWindow: 8000,
  },
  /** Output replay with a send buffer smaller than what the client may hold beyond the
   *  backup's snd_una: the client's ACK lands past the restored app's full queue, which
   *  must wake the app (found in review: it waited for good), on a lossy link. */
  replaySmallBuffer: {
    ...base,
    name: 'replaySmallBuffer',
    stack: { mss: 536, timeWaitMs: 30_000, sndBuf: 2000 },
    link: { loss: 0.08, dup: 0.03, delay: 4, jitter: 10 },
    workload: {
      requests: [{ reply: 7000, pad: 5 }, { reply: 5000, pad: 5 }],
      closer: 'server', maxWrite: 100, pipelined: false,
    },
    checkpointEvery: 1,
    issNearWrap: true,
    replayWindow: 4000,
  },
  /** A bad link: 10% loss, duplicates, reordering by up to 12 ms. */
  lossy: {
    ...base,
    name: 'lossy',
    link: { loss: 0.1, dup: 0.03, delay: 4, jitter: 12 },
    workload: {
      requests: [{ reply: 1500, pad: 900 }, { reply: 600, pad: 1600 }, { reply: 2200, pad: 100 }],
      closer: 'server', maxWrite: 500, pipelined: false,
    },
    checkpointEvery: 1,
  },
};

/** `s` with output replay (`replayWindow` bytes past the snd_una the backup holds),
 *  named replay<Name>. */
function withReplay(s: Scenario, replayWindow: number): Scenario {
  return { ...s, name: `replay${s.name[0]!.toUpperCase()}${s.name.slice(1)}`, replayWindow };
}

for (const r of [
  // Both ways, the server closes first: the FIN waits for the backup to hold it and
  // every byte before it.
  withReplay(SCENARIOS.serverCloses!, 4000),
  // A small bound on the backup (rule 7): a checkpoint's output and the bytes before
  // our FIN wait for room while the client's ACKs make some of them unneeded.
  withReplay(SCENARIOS.backPressure!, 3000),
  // A connection resynchronised when the backup arrives mid-session.
  withReplay(SCENARIOS.resync!, 2000),
]) SCENARIOS[r.name] = r;
