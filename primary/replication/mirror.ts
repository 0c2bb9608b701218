// The primary's mirror: hooks on every protected connection that put its opening,
// its bytes in both directions, its control-block changes and its checkpoints on the
// replication channel, and the gates that hold the wire back until the backup holds
// what the wire would reveal (DESIGN.md):
//   rule 1: the ACK the client sees never passes a byte the backup has not confirmed
//           (ackLimit follows confirmed RecvData, and the client's FIN);
//   rule 2: no byte (nor our FIN) leaves before the backup holds it (sendLimit);
//   rule 5: the SYN-ACK itself waits for the OPEN, so a client whose connect()
//           returned is known to the backup;
//   rule 7: per connection the backup holds at most `bytesPerConnection`; past it the
//           mirror stops replicating, so the gates stop, so the client stops (back-
//           pressure), until a checkpoint or an acknowledgment frees room.
// Output replay (a listener whose app regenerates its output from its input and last
// checkpoint, opted in with `replays`) relaxes rule 2 for data, not for the FIN: bytes
// the app writes leave without being replicated, at most `replayWindow` bytes past the
// snd_una the backup confirmed; the backup's send stream jumps to each replicated
// snd_una, and gets the bytes themselves only at our FIN (everything unacknowledged:
// the FIN leaves only once the backup holds it and all before it). A checkpoint goes
// to the backup once the client has acknowledged the output it covers (the restored
// app writes again from its produced point, so the client must hold what is below),
// or, when waiting for that would hold up the client's input, with that output
// shipped. A rebuilt connection learns from the client's ACK how much of the
// regenerated output the client already holds (shared/tcp/process.ts, replayCatchUp).
// Confirmations are pipelined: messages are numbered by the channel, the gates wait
// in a FIFO by message number, and one CONFIRM {upTo} releases all below it.
import type { TcpConnection, ConnectionObserver } from '../../shared/tcp/connection.js';
import type { TcpState } from '../../shared/tcp/tcb.js';
import { MsgType, type Message, type Open } from '../../shared/replication/messages.js';
import { replayRunsAhead, stateIndex } from '../../shared/replication/states.js';
import { logger } from '../../shared/log.js';
import { seqGt, seqLt } from '../../shared/tcp/seq.js';
import { dropFront } from '../../shared/chunks.js';
import type { SocketProtection } from '../socket.js';

export interface MirrorChannel {
  send(m: Message): number;
  on(event: 'confirm', fn: (upTo: number) => void): unknown;
  /** A batching channel (ReplicationChannel) runs `fn` just before each batch leaves,
   *  and requestFlush() asks for a batch this turn: the coalesced updates then travel
   *  with the data of the same turn, in one write. Without them the mirror sends its
   *  updates on a setImmediate of its own. */
  beforeFlush?(fn: () => void): void;
  requestFlush?(): void;
  /** Writes the batch now rather than later, if the link is idle. */
  flushIfIdle?(): void;
}

interface Gate {
  msg: number;
  m: Mirrored;
  ack?: number;
  /** Strict: the new sendLimit. Replay: output may go up to here (Mirrored.cap). */
  send?: number;
  /** Replay: our FIN (and every byte before it) is held. */
  fin?: boolean;
}

/** Replication bookkeeping of one connection. Positions are stream offsets. */
class Mirrored {
  readonly id: number;
  /** Receive stream: replicated up to, and freed (by checkpoints) up to. */
  rcvEnd = 0;
  rcvFreed = 0;
  /** Send stream: replicated up to, and freed (by snd_una updates) up to. */
  sndEnd = 0;
  sndFreed = 0;
  /** Bytes the engine handed us that wait for room in the backup's store. */
  pendingRecv: Buffer[] = [];
  pendingSend: Buffer[] = [];
  /** Checkpoints waiting for their output to be replicated. */
  checkpoints: Array<{ state: Buffer; consumed: number; produced: number }> = [];
  /** Input waits for room in the backup's store: the socket is holding the app back. */
  recvBlocked = false;
  finRecvSent = false;
  finSendSent = false;
  dirty = false;
  closed = false;
  /** The state the last UPDATE reported (index), and its snd_una (stream position). */
  lastState = -1;
  lastUna = 0;
  /** Output replay's window for this connection (see the top of this file); 0: strict. */
  replayWindow = 0;
  get replay(): boolean {
    return this.replayWindow > 0;
  }
  /** Replay: how far output may go (sequence number): the confirmed snd_una plus the
   *  replay window. */
  cap = 0;
  /** Replay: the engine's queue was copied for our FIN (shipOutput). */
  finShipped = false;
  /** Replay: the backup confirmed holding our FIN. */
  finHeld = false;
  /** The socket's hooks (Mirror.protectionFor), made on first use. */
  hooks: SocketProtection | undefined;

  constructor(readonly c: TcpConnection, id: number) {
    this.id = id;
  }

  get held(): number {
    return this.rcvEnd - this.rcvFreed + (this.sndEnd - this.sndFreed);
  }
}

export interface MirrorOptions {
  /** Where messages go (ReplicationChannel, or a simulation's): send() returns the
   *  message's number; 'confirm' events release the gates. */
  channel: MirrorChannel;
  bytesPerConnection: number;
  /** Run a poll of the stack soon (gates moved). */
  wake: () => void;
  /** Which connections to mirror (the listeners that opted in); default all. */
  protects?: (c: TcpConnection) => boolean;
  /** Which mirrored connections use output replay; default none. */
  replays?: (c: TcpConnection) => boolean;
  /** Output replay: how far past the confirmed snd_una output may go (bytes). The
   *  backup accepts a client's ACK up to there after a takeover. */
  replayWindow?: number;
}

export class Mirror implements ConnectionObserver {
  private readonly byConn = new Map<TcpConnection, Mirrored>();
  private readonly gates: Gate[] = [];
  private gateHead = 0;
  private nextId = 1;
  private dirty: Mirrored[] = [];
  private flushScheduled = false;
  /** Unprotected: the backup is gone, gates are open, nothing is mirrored. */
  private off = false;
  private readonly log = logger('mirror');
  readonly stats = { opened: 0, resynced: 0, backPressured: 0, checkpoints: 0 };

  constructor(private readonly o: MirrorOptions) {
    o.channel.on('confirm', (upTo) => this.confirmed(upTo));
    o.channel.beforeFlush?.(() => this.flushUpdates());
  }

  get connections(): number {
    return this.byConn.size;
  }

  // ---- ConnectionObserver ----

  opened(c: TcpConnection): void {
    if (this.off || (this.o.protects && !this.o.protects(c))) return;
    const m = this.track(c);
    this.stats.opened++;
    m.cap = c.iss;
    const msg = this.o.channel.send({ type: MsgType.Open, ...openFields(c, m.id, m.replayWindow) });
    // Nothing leaves, not even the SYN-ACK, before the backup knows the connection.
    c.sendLimit = c.iss;
    c.ackLimit = (c.irs + 1) >>> 0;
    this.gate({ msg, m, send: (c.iss + 1) >>> 0 });
  }

  received(c: TcpConnection, _seq: number, data: Buffer): void {
    const m = this.byConn.get(c);
    if (!m) return;
    // No copy: the engine never writes into a buffer it handed on.
    m.pendingRecv.push(data);
    this.pump(m);
  }

  queued(c: TcpConnection, _seq: number, data: Buffer): void {
    const m = this.byConn.get(c);
    // Replay: output is replicated only at checkpoints and the FIN (shipOutput).
    if (!m || m.replay) return;
    m.pendingSend.push(data);
    this.pump(m);
  }

  updated(c: TcpConnection): void {
    const m = this.byConn.get(c);
    if (!m) return;
    // The FINs gate the wire: the client's FIN may be acknowledged, and ours sent, only
    // once the backup holds them. Everything else in an update may be stale safely.
    const needFinRecv = c.rcvFinSeq !== undefined && !m.finRecvSent && m.pendingRecv.length === 0;
    const needFinSend = c.finSeq !== undefined && !m.finSendSent && m.pendingSend.length === 0;
    if (needFinRecv || needFinSend) {
      this.sendUpdate(m);
      return;
    }
    // Replay, in the steady state of a bulk transfer (nothing of the send stream held
    // or waiting on the backup, no checkpoint pending, no FIN): snd_una only moves the
    // cap, which runs a whole window ahead, so an UPDATE per quarter window keeps output
    // flowing, where one per batch cost the backup (and the primary's kernel) a message,
    // a write and a wake-up per event-loop turn.
    // A checkpoint waiting for the client's ACK (see checkpoint()) needs the UPDATE that
    // moves the backup's stream past it, not the ones before.
    if (m.replay && c.finSeq === undefined && m.pendingSend.length === 0 &&
        (m.checkpoints.length === 0 || this.sndUnaPos(m) < m.checkpoints[0].produced) &&
        m.sndEnd === m.sndFreed && stateIndex(reportedState(c.state, false, c.rcvFinSeq !== undefined && m.pendingRecv.length === 0)) === m.lastState &&
        this.sndUnaPos(m) - m.lastUna < m.replayWindow / 4) return;
    this.markDirty(m);
  }

  closing(c: TcpConnection): void {
    const m = this.byConn.get(c);
    if (!m?.replay || m.finShipped) return;
    // Replay: our FIN waits for the backup to hold it and every byte before it (it
    // would otherwise leave with the next dispatch: the cap is past it).
    m.finShipped = true;
    c.sendLimit = this.replayLimit(m);
    this.shipOutput(m, c.bytesWritten);
    this.pump(m);
  }

  closed(c: TcpConnection): void {
    const m = this.byConn.get(c);
    if (!m) return;
    this.byConn.delete(c);
    m.closed = true;
    if (!this.off) this.o.channel.send({ type: MsgType.Close, conn: m.id });
  }

  // ---- the application's checkpoint (rule 4) ----

  /** Records {state, consumed, produced} for `c`; false when the connection is not
   *  protected (no backup, or not a replicated listener). Positions are stream
   *  offsets; the socket layer calls this only once everything produced is in the
   *  engine, and the checkpoint waits here until that output is replicated too. */
  checkpoint(c: TcpConnection, state: Buffer, consumed: number, produced: number): boolean {
    const m = this.byConn.get(c);
    if (!m || this.off) return false;
    m.checkpoints.push({ state, consumed, produced });
    // Replay: the restored app writes again from `produced`, so what the client may lack
    // below it must be on the backup. Rather than ship those bytes (up to a replay
    // window of them per checkpoint: a 1 GB stream from `source` checkpointing every
    // 32 MiB sent the backup 54-59 MB that way, 2 MB this way), the checkpoint waits
    // until the client has acknowledged them: the UPDATE that then moves the backup's
    // stream past `produced` lets it go (sendUpdate, pump). Until then a takeover
    // restores from the previous checkpoint, whose input the backup still holds. Only
    // when that wait would hold up the client's input does pump() ship the bytes after
    // all. The UPDATE asked for here goes out even if the client's ACK came before this
    // checkpoint.
    if (m.replay) this.markDirty(m);
    this.pump(m);
    return true;
  }

  /**
   * Puts a connection this mirror does not know under the backup's protection, at one
   * of the app's checkpoints: a connection that was unprotected while the backup was
   * away, or served before this session began. Resynchronisation can only start here:
   * the backup needs the receive stream from the checkpoint's consumed point and the
   * send stream from snd_una, and only when the app has been handed every byte it took
   * from the engine (`consumed` is the engine's bytesConsumed) are those bytes all still
   * in the engine's queues. Sent as one run of messages: RESYNC (the OPEN's fields now,
   * and where the replica's streams start), UPDATE, the queued bytes, the CHECKPOINT;
   * the backup counts the replica only once the CHECKPOINT is in. From the RESYNC on the
   * gates hold what the client has not seen yet (the ACK at the one it was last sent,
   * output at snd_max) until the backup confirms the whole run.
   * False, and nothing sent, when it cannot be done now: not a protected port, not
   * ESTABLISHED or a FIN on its way, input not all consumed, out-of-order input held,
   * or more held than the backup's bound allows (rule 7). The app's next checkpoint
   * tries again.
   */
  resync(c: TcpConnection, state: Buffer, consumed: number, produced: number): boolean {
    if (this.off || this.byConn.has(c) || (this.o.protects && !this.o.protects(c))) return false;
    if (c.state !== 'ESTABLISHED' || c.rcvFinSeq !== undefined || c.finSeq !== undefined) return false;
    if (consumed !== c.bytesConsumed || produced > c.bytesWritten) return false;
    // Out-of-order bytes may have been SACKed to the client while unprotected; the
    // backup would not hold them. Wait until they are in order (or dropped).
    if (c.ooo !== undefined && !c.ooo.isEmpty) return false;
    const recv = c.recvQueue.length;
    const send = c.sendQueue.length;
    const bound = this.o.bytesPerConnection;
    if (recv > Math.floor(bound / 2) || recv + send > bound) return false;
    const rcvBase = consumed;
    const sndBase = c.bytesWritten - send;
    const m = this.track(c);
    m.rcvEnd = m.rcvFreed = rcvBase;
    m.sndEnd = m.sndFreed = sndBase;
    m.cap = c.sndMax;
    // A connection keeps the observer it was opened under: none, or the mirror of a
    // backup since lost. From now on its bytes and changes come here.
    c.observer = this;
    this.stats.resynced++;
    this.o.channel.send({ type: MsgType.Resync, ...openFields(c, m.id, m.replayWindow), rcvBase, sndBase });
    // What the client already has stays; nothing new reaches it before the backup
    // holds the run.
    c.ackLimit = c.lastAckSent;
    c.sendLimit = c.sndMax;
    this.sendUpdate(m);
    // Copies: the engine's queues move on (the app reads, the client acknowledges)
    // while these wait in the batch.
    if (recv > 0) m.pendingRecv.push(Buffer.from(c.recvQueue.toBuffer()));
    if (send > 0) m.pendingSend.push(Buffer.from(c.sendQueue.toBuffer()));
    this.pump(m);
    const msg = this.o.channel.send({ type: MsgType.Checkpoint, conn: m.id, consumed, produced, state });
    this.stats.checkpoints++;
    this.gate({ msg, m, ack: (c.irs + 1 + m.rcvEnd) >>> 0, send: (c.iss + 1 + m.sndEnd) >>> 0 });
    return true;
  }

  /** The socket layer's hooks for a mirrored connection (undefined: not mirrored). */
  protectionFor(c: TcpConnection): SocketProtection | undefined {
    const m = this.byConn.get(c);
    if (!m || this.off) return undefined;
    // Made once per connection: the socket asks for them at every read.
    return (m.hooks ??= {
      checkpoint: (state, consumed, produced) => this.checkpoint(c, state, consumed, produced),
      recvLimit: () => m.rcvEnd,
    });
  }

  /** Sends what this turn replicated so far now, not at the end of the turn, when the
   *  link is idle: the runtime calls it before each poll of the stack
   *  (primary/runtime.ts). */
  flush(): void {
    if (!this.off) this.o.channel.flushIfIdle?.();
  }

  /** The backup is gone: open every gate and stop mirroring (rule 6: the primary
   *  keeps serving, unprotected). */
  unprotect(reason: string): void {
    if (this.off) return;
    this.off = true;
    this.log.error({ reason, connections: this.byConn.size }, 'BACKUP LOST: serving UNPROTECTED; a crash now loses these connections');
    for (const m of this.byConn.values()) {
      m.c.ackLimit = undefined;
      m.c.sendLimit = undefined;
      m.pendingRecv = [];
      m.pendingSend = [];
    }
    this.byConn.clear();
    this.gates.length = 0;
    this.gateHead = 0;
    this.o.wake();
  }

  // ---- internals ----

  /** Bookkeeping for `c`, mirrored from now on (an OPEN or a RESYNC follows). */
  private track(c: TcpConnection): Mirrored {
    const m = new Mirrored(c, this.nextId++);
    m.lastState = stateIndex(c.state);
    if (this.o.replays?.(c)) m.replayWindow = this.o.replayWindow ?? 0;
    this.byConn.set(c, m);
    return m;
  }

  /** Replicates what waits, as far as the backup's bound allows. */
  private pump(m: Mirrored): void {
    if (this.off || m.closed) return;
    const c = m.c;
    const bound = this.o.bytesPerConnection;
    // Input that waited for room: once replicated, the app may read it (the socket
    // holds back what is not); tell it after the engine's current step.
    if (m.recvBlocked) {
      const before = m.rcvEnd;
      queueMicrotask(() => {
        if (m.rcvEnd !== before && !m.closed) c.handler?.readable();
      });
    }
    // Received bytes may fill only half the bound: a checkpoint, the only thing that
    // frees them, waits for its output to be replicated, so output must always find
    // room (output itself is freed by the client's ACKs, which need nothing of ours).
    const recvShare = Math.floor(bound / 2);
    while (m.pendingRecv.length > 0) {
      const room = Math.min(bound - m.held, recvShare - (m.rcvEnd - m.rcvFreed));
      if (room <= 0) break;
      let d = m.pendingRecv[0];
      if (d.length > room) {
        m.pendingRecv[0] = d.subarray(room);
        d = d.subarray(0, room);
      } else {
        m.pendingRecv.shift();
      }
      const seq = (c.irs + 1 + m.rcvEnd) >>> 0;
      m.rcvEnd += d.length;
      const msg = this.o.channel.send({ type: MsgType.RecvData, conn: m.id, seq, data: d });
      this.gate({ msg, m, ack: (seq + d.length) >>> 0 });
    }
    // Replay: input waits for room that only a checkpoint frees, and the first one
    // waits for the client's ACK (checkpoint()): ship its output so it goes now. If the
    // backup's stream must jump to snd_una first, the UPDATE that jumps comes back here.
    if (m.replay && m.pendingRecv.length > 0 && m.checkpoints.length > 0 && !m.finShipped) {
      const upTo = m.checkpoints[0].produced;
      if (m.sndEnd + queuedBytes(m) < c.bytesWritten - c.sendQueue.length) this.markDirty(m);
      else this.shipOutput(m, upTo);
    }
    while (m.pendingSend.length > 0) {
      const room = bound - m.held;
      if (room <= 0) break;
      let d = m.pendingSend[0];
      if (d.length > room) {
        m.pendingSend[0] = d.subarray(room);
        d = d.subarray(0, room);
      } else {
        m.pendingSend.shift();
      }
      const seq = (c.iss + 1 + m.sndEnd) >>> 0;
      m.sndEnd += d.length;
      const msg = this.o.channel.send({ type: MsgType.SendData, conn: m.id, seq, data: d });
      // Replay: these bytes may have left already; only the FIN waits for them.
      if (!m.replay) this.gate({ msg, m, send: (seq + d.length) >>> 0 });
    }
    // Rule 4: a checkpoint goes after the output it covers, and frees only receive
    // data the backup holds (the rest was not consumed there).
    while (m.checkpoints.length > 0 && m.checkpoints[0].produced <= m.sndEnd) {
      const k = m.checkpoints.shift()!;
      const consumed = Math.max(m.rcvFreed, Math.min(k.consumed, m.rcvEnd));
      this.o.channel.send({ type: MsgType.Checkpoint, conn: m.id, consumed, produced: k.produced, state: k.state });
      m.rcvFreed = consumed;
      this.stats.checkpoints++;
      if (m.pendingRecv.length > 0) return this.pump(m);
    }
    m.recvBlocked = m.pendingRecv.length > 0;
    if (m.pendingRecv.length + m.pendingSend.length > 0) this.stats.backPressured++;
    // A FIN that waited behind data goes now.
    if ((c.rcvFinSeq !== undefined && !m.finRecvSent && m.pendingRecv.length === 0) ||
        (c.finSeq !== undefined && !m.finSendSent && m.pendingSend.length === 0)) {
      this.sendUpdate(m);
    }
  }

  private sendUpdate(m: Mirrored): void {
    const c = m.c;
    const finRecv = c.rcvFinSeq !== undefined && m.pendingRecv.length === 0;
    // Free on the backup only what the client acknowledged (rule 4), counted in
    // stream positions so a connection may pass 4 GiB.
    const una = this.sndUnaPos(m);
    // Replay: the backup's send stream jumps to snd_una (the client holds everything
    // below it); bytes waiting to be replicated below it are not needed any more. Only
    // where the store takes a jump: ESTABLISHED or CLOSE-WAIT, before our FIN.
    const jump = m.replay && !m.finSendSent && una > m.sndEnd && replayRunsAhead(reportedState(c.state, false, finRecv));
    if (jump) {
      dropFront(m.pendingSend, una - m.sndEnd);
      m.sndEnd = una;
    }
    // Our FIN goes on record once every byte before it is on the backup. Replay: never
    // in the UPDATE that moves the backup's stream (the store refuses a jump past a FIN
    // it is told of); the next UPDATE, once the bytes up to the FIN are shipped, does.
    const finSend = c.finSeq !== undefined && m.pendingSend.length === 0 &&
      (!m.replay || (!jump && m.sndEnd === c.bytesWritten));
    // Replay, no jump allowed (a connection reset or not yet established): snd_una as
    // far as the store holds, which is all a rebuild could use.
    const sndUna = m.replay && !jump && una > m.sndEnd + (m.finSendSent ? 1 : 0) ? (c.iss + 1 + m.sndEnd) >>> 0 : c.sndUna;
    const msgState = stateIndex(reportedState(c.state, finSend, finRecv));
    const msg = this.o.channel.send({
      type: MsgType.Update, conn: m.id, state: msgState,
      sndUna, sndWnd: c.sndWnd, tsRecent: c.tsRecent, tsLast: tsClock(c),
      finSeq: finRecv ? c.rcvFinSeq! : 0, finReceived: finRecv,
    });
    m.sndFreed = Math.min(m.sndEnd, una);
    m.lastUna = una;
    m.lastState = msgState;
    m.dirty = false;
    const g: Gate = { msg, m };
    if (finRecv && !m.finRecvSent) {
      m.finRecvSent = true;
      g.ack = (c.rcvFinSeq! + 1) >>> 0;
    }
    if (finSend && !m.finSendSent) {
      m.finSendSent = true;
      if (m.replay) g.fin = true;
      else g.send = (c.finSeq! + 1) >>> 0;
    } else if (m.replay && c.state !== 'SYN-RECEIVED') {
      // Replay: output may run the window ahead of the snd_una the backup holds.
      g.send = (sndUna + m.replayWindow) >>> 0;
    }
    if (g.ack !== undefined || g.send !== undefined || g.fin) this.gate(g);
    // A jump may have emptied what waited for room: the checkpoints and the FIN behind
    // it go now (pump's end sends the FIN's UPDATE; that one jumps no more).
    if (m.pendingSend.length > 0 || m.pendingRecv.length > 0 ||
        (jump && (m.checkpoints.length > 0 || (c.finSeq !== undefined && !m.finSendSent)))) this.pump(m);
  }

  private gate(g: Gate): void {
    this.gates.push(g);
  }

  private confirmed(upTo: number): void {
    let moved = false;
    while (this.gateHead < this.gates.length && this.gates[this.gateHead].msg <= upTo) {
      const g = this.gates[this.gateHead++];
      const m = g.m;
      if (m.closed) continue;
      if (g.ack !== undefined) m.c.ackLimit = g.ack;
      if (m.replay) {
        if (g.fin) m.finHeld = true;
        if (g.send !== undefined && seqGt(g.send, m.cap)) m.cap = g.send;
        m.c.sendLimit = this.replayLimit(m);
      } else if (g.send !== undefined) {
        m.c.sendLimit = g.send;
      }
      moved = true;
    }
    if (this.gateHead > 1024 && this.gateHead * 2 > this.gates.length) {
      this.gates.splice(0, this.gateHead);
      this.gateHead = 0;
    }
    if (moved) this.o.wake();
  }

  /** Stream position of the connection's snd_una (the SYN, unacknowledged, counts as
   *  position 0). */
  private sndUnaPos(m: Mirrored): number {
    return m.sndFreed + Math.max(0, (m.c.sndUna - ((m.c.iss + 1 + m.sndFreed) >>> 0)) | 0);
  }

  /** Replay: how far the wire may go: the cap, but our FIN only once the backup holds
   *  it (rule 2 as in strict mode). */
  private replayLimit(m: Mirrored): number {
    const c = m.c;
    if (c.finSeq === undefined) return m.cap;
    if (m.finHeld) return (c.finSeq + 1) >>> 0;
    return seqLt(c.finSeq, m.cap) ? c.finSeq : m.cap;
  }

  /** Replay: queues for replication the engine's bytes from what the backup holds (or
   *  snd_una, if the client acknowledged past it) up to stream position `upTo`. Copies:
   *  the engine's queue moves on while they wait in the batch. */
  private shipOutput(m: Mirrored, upTo: number): void {
    const c = m.c;
    const queueStart = c.bytesWritten - c.sendQueue.length;
    // Below the engine's queue the client acknowledged everything: the backup's stream
    // jumps to snd_una first (an UPDATE), so what follows is contiguous.
    if (m.sndEnd + queuedBytes(m) < queueStart) this.sendUpdate(m);
    const from = m.sndEnd + queuedBytes(m);
    if (upTo > from && from >= queueStart) {
      m.pendingSend.push(Buffer.from(c.sendQueue.read(from - queueStart, upTo - from)));
    }
  }

  /** An UPDATE for `m` in this turn's batch. */
  private markDirty(m: Mirrored): void {
    if (m.dirty) return;
    m.dirty = true;
    this.dirty.push(m);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.o.channel.requestFlush) this.o.channel.requestFlush();
    else setImmediate(() => this.flushUpdates());
  }

  /** One UPDATE per connection that changed since the last batch. */
  private flushUpdates(): void {
    if (!this.flushScheduled) return;
    this.flushScheduled = false;
    const list = this.dirty;
    this.dirty = [];
    for (const m of list) if (m.dirty && !m.closed) this.sendUpdate(m);
  }
}

/** Bytes of the send stream waiting for room on the backup. */
function queuedBytes(m: Mirrored): number {
  return m.pendingSend.reduce((n, d) => n + d.length, 0);
}

/** The OPEN's fields for `c` as they stand now: at the SYN (OPEN) or mid-life (RESYNC). */
function openFields(c: TcpConnection, conn: number, replayWindow: number): Omit<Open, 'type'> {
  return {
    conn,
    localAddr: c.localAddr, localPort: c.localPort, remoteAddr: c.remoteAddr, remotePort: c.remotePort,
    iss: c.iss, irs: c.irs, mss: c.sndMss, sndWndShift: c.sndWndShift, rcvWndShift: c.rcvWndShift,
    sackOk: c.sackOk, tsOk: c.tsOk, tsRecent: c.tsRecent, tsLast: tsClock(c), sndWnd: c.sndWnd, replayWindow,
  };
}

/** The connection's timestamp clock now, not its last TSval: segments sent after this
 *  message (the SYN-ACK after the OPEN, retransmissions without an UPDATE) carry larger
 *  TSvals, so the backup continues from this reading plus the time it has waited since
 *  (rebuild.ts), never from the last TSval it happened to hear of (rule 8). */
function tsClock(c: TcpConnection): number {
  return c.tsOk ? c.tsNow(c.ctx.lastNow()) : c.tsLastSent;
}

/** The state the backup may rebuild: it must not claim a FIN the mirror has not
 *  replicated (ours follows data still waiting for room; the client's likewise). */
export function reportedState(state: TcpState, ourFin: boolean, theirFin: boolean): TcpState {
  if (state === 'SYN-RECEIVED' || state === 'CLOSED' || state === 'LISTEN' || state === 'SYN-SENT') return state;
  if (ourFin && theirFin) return state;
  if (ourFin) return state === 'FIN-WAIT-2' ? 'FIN-WAIT-2' : 'FIN-WAIT-1';
  if (theirFin) return 'CLOSE-WAIT';
  return 'ESTABLISHED';
}
