// Sending under burst loss: whole holes retransmitted as one GSO frame, RACK (RFC 8985)
// finding a lost retransmission and a lost window without the RTO, the tail loss
// probe, and SACK information counting as a duplicate ACK when the window moves.
import t, { type Test } from 'tap';
import { Ctx, payloadOf } from './harness.js';

/** An established SACK connection (MSS 1000, 100 ms RTT) with `segs` segments sent. */
function sackConn(t: Test, segs: number, gso = 0) {
  const ctx = new Ctx(t, { congestionControl: 'newreno', gsoMaxBytes: gso });
  const c = ctx.established({ mss: 1000, wscale: 7, sack: true, rtt: 100 });
  c.send(payloadOf(segs * 1000));
  ctx.drain();
  return { ctx, c, b: ctx.iss + 1 };
}

t.test('a lost burst is retransmitted as one GSO frame, as far as cwnd allows', async (t) => {
  const { ctx, c, b } = sackConn(t, 10, 64000);
  // Segments 0-3 lost together (one dropped frame); 4-9 SACKed.
  ctx.ack(b, { sack: [[b + 4000, b + 6000]], at: 110 });
  ctx.ack(b, { sack: [[b + 4000, b + 8000]], at: 111 });
  ctx.ack(b, { sack: [[b + 4000, b + 10000]], at: 112 });
  t.equal(c.sackRecovery, true);
  ctx.expect({ flags: 'A', seq: b, data: 1000 }, 'fast retransmit of the first segment');
  // cwnd = ssthresh = 5000; pipe = the retransmission (1000): 3 more segments in one frame.
  ctx.expect({ flags: 'A', seq: b + 1000, data: 3000, gsoSize: 1000 }, 'rest of the hole in one frame');
  ctx.expectNone();
});

/** Two holes, [0,1000) and [4000,5000): each retransmitted, the first at 110, the
 *  second at 111 (so after the first). */
function twoHoles(t: Test) {
  const r = sackConn(t, 10);
  const { ctx, b } = r;
  ctx.ack(b, { sack: [[b + 1000, b + 4000]], at: 110 });
  ctx.expect({ flags: 'A', seq: b, data: 1000 }, 'fast retransmit');
  ctx.ack(b, { sack: [[b + 5000, b + 10000], [b + 1000, b + 4000]], at: 111 });
  ctx.expect({ flags: 'A', seq: b + 4000, data: 1000 }, 'second hole');
  ctx.expectNone();
  return r;
}

t.test('RACK: a lost retransmission is sent again once a later one is SACKed, not after the RTO', async (t) => {
  const { ctx, b } = twoHoles(t);
  // The first retransmission is lost; the second arrives.
  ctx.ack(b, { sack: [[b + 1000, b + 10000]], at: 250 });
  // Overtaken, and 250 >= 110 + SRTT 100 + reo_wnd 25: lost, sent again at once.
  ctx.expect({ flags: 'A', seq: b, data: 1000 }, 'the lost retransmission again');
  ctx.expectNone();
  t.equal(ctx.stack.stats.rtoFires, 0);
  t.equal(ctx.stack.stats.rackLost, 1);
});

t.test('RACK: within the reordering window the timer waits, then retransmits', async (t) => {
  const { ctx, c, b } = twoHoles(t);
  ctx.ack(b, { sack: [[b + 1000, b + 10000]], at: 150 });
  ctx.expectNone('the first retransmission may still be on its way');
  t.equal(c.rackAt, 235, 'sent at 110 + SRTT 100 + reo_wnd 25');
  ctx.at(234);
  ctx.expectNone();
  ctx.at(235);
  ctx.expect({ flags: 'A', seq: b, data: 1000 }, 'retransmitted when the RACK timer fires');
  t.equal(ctx.stack.stats.rtoFires, 0);
});

t.test('TLP: a whole lost window is probed after 2*SRTT and recovered by RACK', async (t) => {
  const { ctx, c, b } = sackConn(t, 4);
  c.send(payloadOf(5000)); // more data queued behind the window
  ctx.drain();
  t.equal(c.tlpAt, ctx.now + 200, 'PTO = 2 * SRTT');
  t.equal(c.rtoAt, ctx.now + 300);
  ctx.at(ctx.now + 200);
  const probe = ctx.expect({ flags: 'PA', data: 1000 }, 'probe: one segment of new data');
  ctx.expectNone();
  t.equal(ctx.stack.stats.tlpProbes, 1);
  // Everything before the probe was lost: the peer SACKs only the probe.
  ctx.ack(b, { sack: [[probe.seq, probe.seq + 1000]], at: ctx.now + 50 });
  t.equal(c.inRecovery, true, 'RACK started recovery');
  const out = ctx.drain();
  t.ok(out.length > 0 && out[0]!.seg.seq === (b >>> 0), 'the lost window is retransmitted');
  t.equal(ctx.stack.stats.rtoFires, 0);
});

t.test('a duplicate ACK with new SACK information counts even when the window moved', async (t) => {
  const { ctx, c, b } = sackConn(t, 10);
  ctx.ack(b, { sack: [[b + 1000, b + 2000]], win: 60000, at: 110 });
  ctx.ack(b, { sack: [[b + 1000, b + 3000]], win: 59000, at: 111 });
  ctx.ack(b, { sack: [[b + 1000, b + 3500]], win: 58000, at: 112 });
  t.equal(c.dupAcks, 3);
  t.equal(c.inRecovery, true);
  ctx.expect({ flags: 'A', seq: b, data: 1000 }, 'fast retransmit');
});
