// The correctness rules of DESIGN.md, checked on every segment that reaches the wire:
//   rule 1  an ACK (or SACK block) the primary emits never passes the receive point
//           the backup's store holds (what a rebuild would give as rcv_nxt);
//   rule 2  no sequence space the primary emits (data, SYN, FIN) lies beyond the send
//           end the store holds; with output replay, data may lie up to the replay
//           window past the snd_una the store holds (the backup accepts the client's ACK
//           up to there), the SYN and the FIN still not past the store's end;
//   rule 8  after takeover, TSvals continue at or above the last one the primary sent;
//           the backup never acknowledges bytes the client never sent (the client
//           would drop that segment whole);
//   and the window the backup offers never ends left of an edge the primary offered
//   (a window that shrinks across the move is a known pitfall), and the backup sends
//   no RST to a client whose connection is still open (one in TIME-WAIT may get one
//   for a stray duplicate, as from any host once the connection is gone).
// Violations are collected as strings: a run fails with all of them.

import type { ReplicaStore, Replica } from '../../../backup-daemon/store.js';
import { STATES, finIssued } from '../../../shared/replication/states.js';
import { ACK, FIN, RST, SYN, segLen, type Datagram } from '../../../shared/tcp/segment.js';
import type { TcpState } from '../../../shared/tcp/tcb.js';
import { seqAdd, seqGe, seqGt } from '../../../shared/tcp/seq.js';

interface Seen {
  /** Largest TSval the primary sent on this connection. */
  tsMax?: number;
  /** Right edge of the largest window the primary offered. */
  edgeMax?: number;
  shift: number;
}

export class RuleChecker {
  readonly violations: string[] = [];
  readonly #seen = new Map<number, Seen>();

  constructor(readonly label: () => string) {}

  #fail(what: string): void {
    if (this.violations.length < 20) this.violations.push(`${this.label()}: ${what}`);
  }

  violation(what: string): void {
    this.#fail(what);
  }

  /** A segment the primary puts on the wire, against what the store holds now.
   *  `unprotected` (a connection served before its backup came, not yet resynchronised:
   *  its window scale given) exempts it from rules 1, 2 and 5; what the client saw of it
   *  still counts for rule 8 and the window after a takeover. */
  primaryEmits(d: Datagram, store: ReplicaStore, unprotected?: { rcvWndShift: number }): void {
    const s = d.seg;
    if (s.flags & RST) return;
    const r = findReplica(store, d);
    if (unprotected !== undefined && (r === undefined || r.resyncing)) {
      this.#saw(d, unprotected.rcvWndShift);
      return;
    }
    if (r === undefined) {
      this.#fail(`rule 1/5: the primary sent flags ${s.flags} seq ${s.seq} for a connection the backup does not hold`);
      return;
    }
    if (r.resyncing) {
      this.#fail(`rule 1/5: the primary sent flags ${s.flags} seq ${s.seq} for a connection whose resynchronisation is incomplete`);
      return;
    }
    const rcvNxt = r.rcvNxt;
    if (s.flags & ACK && seqGt(s.ack, rcvNxt)) {
      this.#fail(`rule 1: the primary acknowledged ${s.ack}, the backup holds up to ${rcvNxt}`);
    }
    for (const [, right] of s.options.sack ?? []) {
      if (seqGt(right, rcvNxt)) this.#fail(`rule 1: the primary SACKed up to ${right}, the backup holds up to ${rcvNxt}`);
    }
    const fin = r.update !== undefined && finIssued(STATES[r.update.state]!) ? 1 : 0;
    const sndEnd = seqAdd(r.sndMax, fin);
    const end = seqAdd(s.seq, segLen(s));
    const w = r.open.replayWindow;
    if (w > 0 && !(s.flags & (SYN | FIN))) {
      const una = r.update !== undefined && seqGt(r.update.sndUna, r.sndSeq(r.snd.basePos)) ? r.update.sndUna : r.sndSeq(r.snd.basePos);
      const limit = seqAdd(una, w);
      if (seqGt(end, limit) && seqGt(end, sndEnd)) this.#fail(`rule 2 (replay): the primary sent up to ${end}, past the window over the backup's snd_una (${limit})`);
    } else if (seqGt(end, sndEnd)) {
      this.#fail(`rule 2: the primary sent up to ${end} (flags ${s.flags}), the backup holds up to ${sndEnd}`);
    }
    this.#saw(d, r.open.rcvWndShift);
  }

  /** The client saw `d`: the TSval and window edge the backup must not go below. */
  #saw(d: Datagram, rcvWndShift: number): void {
    const s = d.seg;
    const seen = this.#seenFor(d.dst, s.dstPort, rcvWndShift);
    const ts = s.options.ts;
    if (ts !== undefined && (seen.tsMax === undefined || seqGt(ts.val, seen.tsMax))) seen.tsMax = ts.val;
    if (s.flags & ACK) {
      const edge = seqAdd(s.ack, s.flags & SYN ? s.window : s.window * 2 ** seen.shift);
      if (seen.edgeMax === undefined || seqGt(edge, seen.edgeMax)) seen.edgeMax = edge;
    }
  }

  /** A segment the backup sends after takeover, with the client's end of that
   *  connection as it stands (undefined: the client has none). */
  backupEmits(d: Datagram, peer: { sndMax: number; state: TcpState } | undefined): void {
    const s = d.seg;
    if (s.flags & RST) {
      if (peer !== undefined && peer.state !== 'TIME-WAIT' && peer.state !== 'CLOSED') {
        this.#fail(`the backup reset the client's open connection (client in ${peer.state}, seq ${s.seq})`);
      }
      return;
    }
    const seen = this.#seen.get(key(d.dst, s.dstPort));
    if (seen === undefined) return; // a connection the primary never spoke on
    const peerSndMax = peer?.sndMax;
    const ts = s.options.ts;
    if (ts !== undefined && seen.tsMax !== undefined && !seqGe(ts.val, seen.tsMax)) {
      this.#fail(`rule 8: the backup's TSval ${ts.val} is below the primary's last ${seen.tsMax}`);
    }
    if (s.flags & ACK && peerSndMax !== undefined && seqGt(s.ack, peerSndMax)) {
      this.#fail(`rule 8: the backup acknowledged ${s.ack}, the client sent only up to ${peerSndMax}`);
    }
    // A SYN-ACK's window is ignored by a client already synchronized.
    if (s.flags & ACK && !(s.flags & SYN) && seen.edgeMax !== undefined) {
      const edge = seqAdd(s.ack, s.window * 2 ** seen.shift);
      if (!seqGe(edge, seen.edgeMax)) {
        this.#fail(`window shrank across the move: the backup offers up to ${edge}, the primary offered up to ${seen.edgeMax}`);
      }
    }
  }

  #seenFor(addr: number, port: number, shift: number): Seen {
    const k = key(addr, port);
    let s = this.#seen.get(k);
    if (s === undefined) {
      s = { shift };
      this.#seen.set(k, s);
    }
    return s;
  }
}

function key(addr: number, port: number): number {
  return addr * 65536 + port;
}

export function findReplica(store: ReplicaStore, d: Datagram): Replica | undefined {
  for (const r of store.replicas.values()) {
    const o = r.open;
    if (o.remoteAddr === d.dst && o.remotePort === d.seg.dstPort && o.localAddr === d.src && o.localPort === d.seg.srcPort) return r;
  }
  return undefined;
}
