// Active open (SYN-SENT), secondary: intact serves, it does not connect. It exists so
// tests and the failover simulation can run two engines against each other in memory
// (TcpStack.connect). RFC 9293 §3.10.7.3 "If the state is SYN-SENT".

import { type TcpConnection, EV_UPDATED, EV_WRITABLE, connError } from './connection.js';
import { negotiate } from './options.js';
import { ACK, RST, SYN, type TcpSegment } from './segment.js';
import { seqAdd, seqGt, seqLe, seqSub } from './seq.js';

export function processSynSent(c: TcpConnection, seg: TcpSegment, now: number): void {
  const flags = seg.flags;
  // "first check the ACK bit ... If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset
  // (unless the RST bit is set, if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST>"
  if (flags & ACK && (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndMax))) {
    if (!(flags & RST)) c.ctx.sendRst(c, seg.ack, undefined);
    return;
  }
  // "second check the RST bit ... If the ACK was acceptable, then signal to the user
  // "error: connection reset", drop the segment, enter CLOSED state".
  if (flags & RST) {
    if (flags & ACK) {
      const e = connError('ECONNRESET');
      (e as NodeJS.ErrnoException).code = 'ECONNREFUSED';
      e.message = 'connection refused (ECONNREFUSED)';
      c.enterClosed(e);
    }
    return;
  }
  // "fourth check the SYN bit": only the SYN-ACK of a normal open is handled here;
  // a simultaneous open (SYN without ACK) is not supported.
  if (!(flags & SYN) || !(flags & ACK)) return;
  const cfg = c.ctx.cfg;
  const n = negotiate(seg.options, cfg);
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.sndMss = Math.max(n.sndMss, 48);
  c.wsOk = cfg.windowScaling && seg.options.wscale !== undefined;
  c.sndWndShift = n.sndWndShift;
  if (!c.wsOk) c.rcvWndShift = 0;
  c.sackOk = n.sackOk;
  c.tsOk = n.tsOk;
  if (c.tsOk) c.tsRecent = seg.options.ts!.val;
  c.effMss = Math.max(Math.min(c.sndMss, cfg.mss) - (c.tsOk ? 12 : 0), 8);
  c.rcvMssEst = c.effMss;
  c.cc.setMss(c.effMss);
  // "SND.UNA should be advanced to equal SEG.ACK ... If SND.UNA > ISS (our SYN has been
  // ACKed), change the connection state to ESTABLISHED, form an ACK segment".
  c.sndUna = seg.ack;
  c.sndWnd = seg.window; // never scaled in a SYN
  c.sndWl1 = seg.seq;
  c.sndWl2 = seg.ack;
  c.maxSndWnd = c.sndWnd;
  c.lastAckSent = c.rcvNxt;
  c.rcvAdvEdge = c.rcvNxt;
  if (c.tsOk && seg.options.ts!.ecr !== 0) c.rtt.sample(seqSub(c.tsNow(now), seg.options.ts!.ecr));
  else if (c.rttSeq !== undefined) c.rtt.sample(now - c.rttTime);
  c.rttSeq = undefined;
  c.retries = 0;
  c.rtoAt = undefined;
  c.setState('ESTABLISHED');
  c.ackNow = true;
  // The caller of connect() learns of the open as Node's 'connect': writable().
  c.events |= EV_WRITABLE | EV_UPDATED;
  c.ctx.stats.established++;
}
