// Loss recovery: the retransmission timer (RFC 6298) with exact times and backoff,
// Karn's rule, giving up, fast retransmit and NewReno (RFC 6582), SACK-based recovery
// (RFC 6675).
import t from 'tap';
import { Ctx, payloadOf, u32 } from './harness.js';

t.test('RTO from the handshake RTT: 100 ms sample gives RTO 300 ms, then it doubles', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, rtt: 100 });
  t.equal(c.rtt.rto, 300);
  ctx.at(1000);
  c.send(payloadOf(100));
  ctx.expect({ flags: 'PA', seq: ctx.iss + 1, data: 100 });
  t.equal(ctx.stack.pollAt(), 1300);
  ctx.at(1299);
  ctx.expectNone();
  ctx.at(1300);
  ctx.expect({ flags: 'PA', seq: ctx.iss + 1, data: 100 }, 'first retransmission');
  t.equal(ctx.stack.pollAt(), 1900);
  ctx.at(1900);
  ctx.expect({ flags: 'PA', seq: ctx.iss + 1, data: 100 }, 'second');
  t.equal(ctx.stack.pollAt(), 3100);
  ctx.at(3100);
  ctx.expect({ flags: 'PA', seq: ctx.iss + 1, data: 100 }, 'third');
  t.equal(ctx.stack.pollAt(), 5500);
  t.equal(ctx.stack.stats.retransSegs, 3);
});

t.test('without an RTT sample the first RTO is 1 s (RFC 6298 2.1)', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: ctx.irs, mss: 1000 }, 0);
  ctx.drain();
  ctx.at(1000);
  ctx.expect({ flags: 'SA' }, 'SYN-ACK retransmitted');
  // The final ACK acknowledges a retransmitted SYN: Karn gives no sample.
  ctx.send({ flags: 'A', seq: ctx.irs + 1, ack: ctx.iss + 1 }, 1100);
  const c = ctx.c;
  t.equal(c.rtt.srtt, undefined);
  c.send(payloadOf(10));
  ctx.expect({ flags: 'PA' });
  t.equal(ctx.stack.pollAt(), 2100);
});

t.test("Karn's rule: the ACK of a retransmitted segment is no RTT sample", async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(100));
  ctx.drain();
  ctx.at(400);
  ctx.expect({ flags: 'PA' });
  ctx.ack(ctx.iss + 101, { at: 450 });
  t.equal(c.rtt.srtt, 100, 'srtt unchanged');
  t.equal(c.rtt.rto, 300, 'backoff collapsed on new ACK');
});

t.test('an RTT sample from a fresh segment updates SRTT', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(100));
  ctx.drain();
  ctx.ack(ctx.iss + 101, { at: 300 });
  // RFC 6298 2.3 with R = 200: RTTVAR = 3/4*50 + 1/4*100 = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
  t.equal(c.rtt.srtt, 112.5);
  t.equal(c.rtt.rttvar, 62.5);
});

t.test('timestamps give RTT samples even for retransmitted data (RFC 7323 §4)', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, ts: true, rtt: 100 });
  t.equal(c.rtt.srtt, 100);
  c.send(payloadOf(100));
  const s = ctx.expect({ flags: 'PA' });
  ctx.send({ flags: 'A', seq: ctx.cSeq, ack: ctx.iss + 101, ts: [ctx.cTs, s.options.ts!.val] }, 150);
  t.equal(ctx.now - 100, 50, 'sent at 100');
  // R = 50: RTTVAR = 3/4*50 + 1/4*50 = 50; SRTT = 7/8*100 + 1/8*50 = 93.75
  t.equal(c.rtt.srtt, 93.75);
});

t.test('after maxRetries retransmissions the connection closes with ETIMEDOUT, no RST', async (t) => {
  const ctx = new Ctx(t, { maxRetries: 3 });
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(100));
  ctx.drain();
  ctx.runUntil(10_000);
  const segs = ctx.drain();
  t.same(segs.map((d) => d.seg.flags), [0x18, 0x18, 0x18], 'three retransmissions, no RST');
  t.equal(c.state, 'CLOSED');
  t.same(ctx.events, ['closed:ETIMEDOUT']);
  t.equal(ctx.stack.connectionCount, 0);
  t.equal(ctx.stack.stats.timeouts, 1);
});

t.test('the default gives up after 15 retransmissions', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(100));
  ctx.drain();
  ctx.runUntil(3_600_000);
  t.equal(ctx.drain().length, 15);
  t.same(ctx.events, ['closed:ETIMEDOUT']);
});

t.test('RTO is capped at 120 s', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1000, rtt: 100 });
  c.send(payloadOf(100));
  ctx.drain();
  let last = 0;
  const gaps: number[] = [];
  for (let i = 0; i < 12; i++) {
    const at = ctx.stack.pollAt()!;
    gaps.push(at - last);
    last = at;
    ctx.at(at);
  }
  t.equal(Math.max(...gaps.slice(1)), 120_000);
});

t.test('after a timeout, cwnd is one segment and the rest follows as ACKs arrive', async (t) => {
  const ctx = new Ctx(t, { congestionControl: 'newreno' });
  const c = ctx.established({ mss: 1000, wscale: 7, rtt: 100 });
  c.send(payloadOf(4000));
  t.equal(ctx.drain().length, 4);
  ctx.at(400);
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, data: 1000 }, 'one segment (cwnd = 1 MSS)');
  ctx.expectNone();
  t.equal(c.cc.cwnd, 1000);
  ctx.ack(ctx.iss + 1001, { at: 500 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 1001, data: 1000 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 2001, data: 1000 });
  ctx.expectNone();
});

t.test('three duplicate ACKs trigger a fast retransmit (NewReno)', async (t) => {
  const ctx = new Ctx(t, { congestionControl: 'newreno' });
  const c = ctx.established({ mss: 1000, wscale: 7, rtt: 100 });
  c.send(payloadOf(5000));
  t.equal(ctx.drain().length, 5);
  ctx.ack(ctx.iss + 1, { at: 110 });
  ctx.ack(ctx.iss + 1, { at: 111 });
  ctx.expectNone('two duplicates are not enough');
  ctx.ack(ctx.iss + 1, { at: 112 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 1, data: 1000 }, 'fast retransmit');
  ctx.expectNone();
  t.equal(c.inRecovery, true);
  // ssthresh = FlightSize / 2; cwnd = ssthresh + 3 * SMSS
  t.equal(c.cc.ssthresh, 2500);
  t.equal(c.cc.cwnd, 5500);
  t.equal(ctx.stack.stats.fastRetransmits, 1);
});

t.test('NewReno: each further duplicate inflates cwnd by one MSS, letting new data out', async (t) => {
  const ctx = new Ctx(t, { congestionControl: 'newreno' });
  const c = ctx.established({ mss: 1000, wscale: 7, rtt: 100 });
  c.send(payloadOf(5000));
  ctx.drain();
  for (let i = 0; i < 3; i++) ctx.ack(ctx.iss + 1, { at: 110 + i });
  ctx.drain();
  c.send(payloadOf(2000));
  ctx.expectNone('cwnd 5500 < flight 5000 + 1000');
  ctx.ack(ctx.iss + 1, { at: 120 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 5001, data: 1000 });
  ctx.expectNone();
});

t.test('NewReno partial ACK retransmits the next hole at once; full ACK ends recovery', async (t) => {
  const ctx = new Ctx(t, { congestionControl: 'newreno' });
  const c = ctx.established({ mss: 1000, wscale: 7, rtt: 100 });
  c.send(payloadOf(5000));
  ctx.drain();
  for (let i = 0; i < 3; i++) ctx.ack(ctx.iss + 1, { at: 110 + i });
  ctx.expect({ flags: 'A', seq: ctx.iss + 1 });
  // Segments 1 and 3 were lost: the retransmission of 1 brings a partial ACK to 2001.
  ctx.ack(ctx.iss + 2001, { at: 200 });
  ctx.expect({ flags: 'A', seq: ctx.iss + 2001, data: 1000 }, 'partial ACK: next hole');
  t.equal(c.inRecovery, true);
  // Deflate by 2000 acked, add back one MSS: 5500 - 2000 + 1000
  t.equal(c.cc.cwnd, 4500);
  ctx.ack(ctx.iss + 5001, { at: 300 });
  t.equal(c.inRecovery, false);
  // min(ssthresh, max(FlightSize, SMSS) + SMSS) = min(2500, 2000)
  t.equal(c.cc.cwnd, 2000);
});

t.test('no second fast retransmit for duplicates below the recovery point (RFC 6582)', async (t) => {
  const ctx = new Ctx(t, { congestionControl: 'newreno' });
  const c = ctx.established({ mss: 1000, wscale: 7, rtt: 100 });
  c.send(payloadOf(5000));
  ctx.drain();
  ctx.at(400); // timeout: recover = sndMax
  ctx.drain();
  for (let i = 0; i < 4; i++) ctx.ack(ctx.iss + 1, { at: 410 + i });
  ctx.expectNone();
  t.equal(c.inRecovery, false);
});

t.test('SACK recovery: the hole the SACK blocks show is retransmitted first', async (t) => {
  const ctx = new Ctx(t, { congestionControl: 'newreno' });
  const c = ctx.established({ mss: 1000, wscale: 7, sack: true, rtt: 100 });
  c.send(payloadOf(5000));
  ctx.drain();
  const b = ctx.iss + 1;
  // Segments 1 and 3 lost.
  ctx.ack(b, { sack: [[b + 1000, b + 2000]], at: 110 });
  ctx.ack(b, { sack: [[b + 3000, b + 4000], [b + 1000, b + 2000]], at: 111 });
  ctx.ack(b, { sack: [[b + 3000, b + 5000], [b + 1000, b + 2000]], at: 112 });
  ctx.expect({ flags: 'A', seq: b, data: 1000 }, 'first hole');
  ctx.expectNone('cwnd - pipe < 1 MSS');
  t.equal(c.sackRecovery, true);
  ctx.ack(b + 2000, { sack: [[b + 3000, b + 5000]], at: 200 });
  ctx.expect({ flags: 'A', seq: b + 2000, data: 1000 }, 'second hole (NextSeg rule 3)');
  ctx.expectNone();
  ctx.ack(b + 5000, { at: 300 });
  t.equal(c.inRecovery, false);
});

t.test('SACK: enough SACKed data above the first byte starts recovery before 3 duplicates', async (t) => {
  const ctx = new Ctx(t, { congestionControl: 'newreno' });
  const c = ctx.established({ mss: 1000, wscale: 7, sack: true, rtt: 100 });
  c.send(payloadOf(5000));
  ctx.drain();
  const b = ctx.iss + 1;
  // One duplicate ACK that already SACKs three segments: IsLost(b) is true.
  ctx.ack(b, { sack: [[b + 1000, b + 4000]], at: 110 });
  ctx.expect({ flags: 'A', seq: b, data: 1000 });
  t.equal(c.inRecovery, true);
});

t.test('SACK recovery sends new data when no hole is lost and cwnd allows', async (t) => {
  const ctx = new Ctx(t, { congestionControl: 'newreno' });
  const c = ctx.established({ mss: 1000, wscale: 7, sack: true, rtt: 100 });
  c.send(payloadOf(8000));
  t.equal(ctx.drain().length, 8);
  const b = ctx.iss + 1;
  c.send(payloadOf(3000));
  ctx.ack(b, { sack: [[b + 1000, b + 2000]], at: 110 });
  ctx.ack(b, { sack: [[b + 1000, b + 3000]], at: 111 });
  ctx.ack(b, { sack: [[b + 1000, b + 4000]], at: 112 });
  // ssthresh = cwnd = 4000; pipe = 4000 (segments 5-8) + 1000 retransmitted.
  ctx.expect({ flags: 'A', seq: b, data: 1000 });
  ctx.expectNone();
  ctx.ack(b, { sack: [[b + 1000, b + 6000]], at: 113 });
  // pipe: segments 7, 8 (2000) + retransmission (1000) = 3000; one new segment fits.
  ctx.expect({ flags: 'A', seq: b + 8000, data: 1000 }, 'new data (NextSeg rule 2)');
  ctx.expectNone();
  t.equal(u32(c.sndMax), u32(b + 9000));
});
