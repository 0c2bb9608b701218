// Output replay as the rebuilt engine sees it (TcpConnection.replayAckLimit,
// process.ts replayCatchUp): the backup did not hold the output the dead primary sent
// past the snd_una it had replicated; the client's ACK for such bytes says how far it
// got, and the restored app's bytes below that point are dropped, not sent again.
import t, { type Test } from 'tap';
import { Ctx, payloadOf, u32 } from './harness.js';
import { seqAdd, seqGe } from '../../shared/tcp/seq.js';

/** A connection that sent `sent` bytes, rebuilt at time 10 as a replay rebuild does:
 *  the queue and snd_max cut back to `held` bytes past snd_una (what the backup holds),
 *  the client allowed to acknowledge up to `window` bytes past snd_una. */
function rebuilt(t: Test, o: { sent: number; held: number; window: number; hold?: boolean }) {
  const a = new Ctx(t);
  const c = a.established({ mss: 1000, rtt: 50 });
  c.send(payloadOf(o.sent));
  a.drain();
  const s = c.snapshot();
  const una = s.sndUna;
  s.sendQueue = (s.sendQueue as Buffer).subarray(0, o.held);
  s.sndNxt = s.sndMax = seqAdd(una, o.held);
  s.bytesWritten = o.held;
  s.replayAckLimit = seqAdd(una, o.window);
  const b = new Ctx(t, { noListen: true });
  const c2 = b.stack.restore(structuredClone(s), 10);
  if (o.hold) c2.hold();
  b.at(10);
  b.drain();
  /** The client's pure ACK, to the rebuilt connection. */
  const ack = (n: number, at: number) => b.send({ flags: 'A', seq: a.cSeq, ack: n, win: 65535 }, at);
  return { a, b, c: c2, una, ack };
}

t.test('an ACK past snd_max, within the window: the client holds those bytes; no challenge ACK', async (t) => {
  const { a, b, c, una, ack } = rebuilt(t, { sent: 5000, held: 1000, window: 8000 });
  ack(u32(una + 3000), 20);
  b.expectNone('accepted silently: nothing to send yet');
  t.equal(c.sndUna, u32(una + 3000), 'snd_una moved to the ACK');
  t.equal(c.sndMax, u32(una + 3000), 'snd_max with it');
  t.equal(c.replaySkip, 2000, 'the 2,000 bytes past the held ones are to be dropped');
  t.equal(c.bytesWritten, 3000, 'the stream position counts them');
  t.equal(c.sendQueued(), 0, 'nothing held is left to send');
  t.equal(b.stack.stats.replayCatchUps, 1, 'counted');
  t.equal(b.stack.stats.challengeAcks, 0, 'no challenge ACK');
  t.equal(a.c.state, 'ESTABLISHED', 'the client side is untouched');
});

t.test('the restored app writes again: bytes below the ACK are dropped, the rest sent from it', async (t) => {
  const { b, c, una, ack } = rebuilt(t, { sent: 5000, held: 1000, window: 8000 });
  ack(u32(una + 3000), 20);
  // The app writes again from the held end (stream position 1000): 2,000 bytes the
  // client has, then 1,500 new ones.
  const n = c.send(payloadOf(3500));
  t.equal(n, 3500, 'all taken');
  t.equal(c.replaySkip, 0, 'the skip is used up');
  t.equal(c.sendQueued(), 1500, 'only the new bytes are queued');
  b.at(21);
  const seg = b.expect({ flags: 'A', seq: u32(una + 3000) }, 'the first new byte goes at the ACK');
  t.equal(seg.payload.length, 1000, 'one MSS');
});

t.test('an ACK inside bytes written again but not yet sent: they count as sent, the rest goes out', async (t) => {
  const { b, c, una, ack } = rebuilt(t, { sent: 5000, held: 1000, window: 8000, hold: true });
  // The restored app wrote again before the client's ACK came (the rebuilt connection
  // is held silent until its kick, as in a takeover).
  c.send(payloadOf(3000));
  ack(u32(una + 2500), 20);
  t.equal(c.sndUna, u32(una + 2500), 'snd_una at the ACK');
  t.equal(c.replaySkip, 0, 'nothing to drop: the queue covers the ACK');
  t.equal(c.sendQueued(), 1500, 'the bytes past the ACK stay queued');
  b.at(21);
  b.expect({ flags: 'A', seq: u32(una + 2500) }, 'and are sent from the ACK');
});

t.test('an ACK past the replay window is refused as any ACK of unsent data', async (t) => {
  const { b, c, una, ack } = rebuilt(t, { sent: 5000, held: 1000, window: 2000 });
  ack(u32(una + 3000), 20);
  t.equal(c.sndUna, una, 'snd_una did not move');
  t.equal(c.replaySkip, 0, 'nothing to drop');
  t.equal(b.stack.stats.dropped.ackUnacceptable, 1, 'dropped as unacceptable');
  t.equal(b.stack.stats.replayCatchUps, 0, 'no catch-up');
});

t.test('a connection not rebuilt for replay refuses an ACK past snd_max', async (t) => {
  const a = new Ctx(t);
  const c = a.established({ mss: 1000, rtt: 50 });
  c.send(payloadOf(1000));
  a.drain();
  a.ack(u32(c.sndMax + 500));
  t.equal(a.stack.stats.dropped.ackUnacceptable, 1, 'RFC 5961 §5.2 as always');
  t.equal(c.replaySkip, 0, 'no skip');
});

t.test('the regenerated output ends short of what the client holds: reset, counted', async (t) => {
  const { b, c, una, ack } = rebuilt(t, { sent: 5000, held: 1000, window: 8000 });
  ack(u32(una + 3000), 20);
  c.send(payloadOf(500));
  c.close();
  t.equal(b.stack.stats.replayDiverged, 1, 'counted as a divergent replay');
  t.equal(c.state, 'CLOSED', 'the connection is gone');
  b.at(21);
  const rst = b.drain().find((d) => d.seg.flags & 0x04);
  t.ok(rst, 'the client is told with a RST, not a FIN in the wrong place');
});

t.test('the snapshot carries the replay fields', async (t) => {
  const { b, c, una, ack } = rebuilt(t, { sent: 5000, held: 1000, window: 8000 });
  ack(u32(una + 3000), 20);
  const s = c.snapshot();
  t.equal(s.replayAckLimit, u32(una + 8000), 'the limit');
  t.equal(s.replaySkip, 2000, 'the bytes still to drop');
});

t.test('a catch-up that empties a full queue wakes the app blocked on it', async (t) => {
  const { b, c, una, ack } = rebuilt(t, { sent: 5000, held: 0, window: 1 << 20, hold: true });
  const events: string[] = [];
  c.handler = { readable() {}, writable() { events.push('writable'); }, end() {}, closed() {} };
  // The restored app writes again and fills the queue (the harness's sndBuf).
  const free = c.sendFree();
  t.equal(c.send(payloadOf(free + 1000)), free, 'the queue is full: the app waits');
  ack(u32(una + free + 2000), 20);
  t.equal(c.sendQueued(), 0, 'the client held all of it');
  t.equal(c.replaySkip, 2000, 'and more');
  b.at(21);
  t.same(events, ['writable'], 'the app hears it may write on');
});

t.test('once snd_max passes the limit the exception ends: an ACK past snd_max is refused again', async (t) => {
  const { b, c, una, ack } = rebuilt(t, { sent: 5000, held: 1000, window: 8000 });
  c.send(payloadOf(9000));
  b.at(11);
  ack(u32(una + 8000), 30); // everything sent so far, snd_max is past the limit now
  b.at(40);
  t.ok(seqGe(c.sndMax, u32(una + 8000)), 'snd_max at or past the limit');
  ack(u32(c.sndMax + 100), 50);
  t.equal(c.replayAckLimit, undefined, 'the limit is gone');
  t.equal(b.stack.stats.dropped.ackUnacceptable, 1, 'an ACK past snd_max is refused as on any connection');
});
