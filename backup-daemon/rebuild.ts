// Rule 3 of DESIGN.md as code: a connection's control block rebuilt from what the
// backup holds, in the engine's own snapshot form, so the same engine that ran on
// the primary continues the connection (TcpStack.restore).
import type { TcbSnapshot } from '../shared/tcp/tcb.js';
import { STATES, finIssued, replayRunsAhead } from '../shared/replication/states.js';
import type { Replica } from './store.js';
import { seqGt } from '../shared/tcp/seq.js';

export interface RebuildOptions {
  /** The MSS we advertise (the engine's StackOptions.mss). */
  rcvMss: number;
  /** Our receive buffer: the window the rebuilt connection offers from rcv_nxt. The
   *  primary never offered a right edge beyond its ACK + this, and its ACK never
   *  passed the replicated rcv_nxt, so the window cannot shrink across the move. */
  rcvBuf: number;
  /** Now, on the store's clock (StoreOptions.clock): how long the primary's timestamp
   *  clock may have run since its last reading reached us. */
  now: number;
}

/** Covers the time from the primary reading its timestamp clock to the store applying
 *  the message (replication latency and queueing). A TSval that jumps forward is
 *  harmless (PAWS rejects only older ones); one that goes back loses its segment. */
export const TS_SLACK_MS = 1000;

export function rebuildSnapshot(r: Replica, o: RebuildOptions): TcbSnapshot {
  const open = r.open;
  const u = r.update;
  // Only an OPEN held: the SYN-ACK went out (it waited for the OPEN's confirmation),
  // the client may have completed the handshake; SYN-RECEIVED retransmits the SYN-ACK
  // and the client answers with an ACK that completes it (rule 5).
  const state = u ? STATES[u.state] : 'SYN-RECEIVED';
  const dataEnd = r.sndMax;
  const ourFin = finIssued(state);
  const sndMax = ourFin ? (dataEnd + 1) >>> 0 : dataEnd;
  // The send queue starts where the backup freed it; an older update (or one from
  // before the handshake completed) may name an earlier snd_una, which is stale.
  const freedTo = r.sndSeq(r.snd.basePos);
  const sndUna = state === 'SYN-RECEIVED' ? open.iss : u && seqGt(u.sndUna, freedTo) ? u.sndUna : freedTo;
  const rcvNxt = r.rcvNxt;
  const tsLast = u ? u.tsLast : open.tsLast;
  const snap: TcbSnapshot = {
    localAddr: open.localAddr,
    localPort: open.localPort,
    remoteAddr: open.remoteAddr,
    remotePort: open.remotePort,
    state,
    iss: open.iss,
    irs: open.irs,
    sndUna,
    // snd_nxt = snd_max: the kick retransmits from snd_una at once.
    sndNxt: sndMax,
    sndMax,
    sndWnd: u ? u.sndWnd : open.sndWnd,
    sndWl1: rcvNxt,
    sndWl2: sndUna,
    sndWndShift: open.sndWndShift,
    maxSndWnd: u ? u.sndWnd : open.sndWnd,
    rcvNxt,
    rcvWnd: o.rcvBuf,
    rcvWndShift: open.rcvWndShift,
    sndMss: open.mss,
    rcvMss: o.rcvMss,
    sackOk: open.sackOk,
    tsOk: open.tsOk,
    tsRecent: u ? u.tsRecent : open.tsRecent,
    tsLastSent: open.tsOk ? (tsLast + Math.ceil(Math.max(0, o.now - r.tsHeardAt)) + TS_SLACK_MS) >>> 0 : tsLast,
    lastAckSent: rcvNxt,
    ccName: 'cubic',
    // Congestion state starts afresh (initial window): the path may have changed.
    cwnd: 0,
    ssthresh: 0x7fffffff,
    // The held chunks as they are: restore() queues them without gathering them.
    sendQueue: r.snd.heldChunks(),
    recvQueue: r.rcv.heldChunks(),
    ooo: [],
    rcvFinSeq: u?.finReceived ? u.finSeq : undefined,
    finSeq: ourFin ? dataEnd : undefined,
    bytesConsumed: r.rcv.basePos,
    bytesWritten: r.snd.endPos,
    noDelay: true,
    keepAlive: false,
    keepAliveIdleMs: 7_200_000,
  };
  // Output replay: the primary may have sent up to the window past the snd_una it had
  // replicated (never its FIN), bytes this backup does not hold; the client's ACK for
  // them tells the rebuilt engine how much of the regenerated output to drop.
  if (open.replayWindow > 0 && replayRunsAhead(state)) {
    snap.replayAckLimit = (sndUna + open.replayWindow) >>> 0;
  }
  return snap;
}
