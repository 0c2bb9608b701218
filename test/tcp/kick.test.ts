// The takeover's kick as the engine sees it (TcpConnection.hold / kick, timers.ts'
// kick probes): a rebuilt connection stays silent until kicked, its peer's segment
// kicks it at once, the kick's retransmission timer counts from the kick with the old
// host's backoff forgotten, and a kick with nothing to retransmit is repeated as probes
// while the peer stays silent.
import t, { type Test } from 'tap';
import { Ctx, payloadOf, restoredHalfOpen, u32 } from './harness.js';
import { MAX_KICK_PROBES } from '../../shared/tcp/timers.js';
import { initialWindow } from '../../shared/tcp/congestion.js';
import type { TcpConnection } from '../../shared/tcp/connection.js';

/** A connection with `unacked` bytes of ours in flight, rebuilt from its snapshot into a
 *  fresh stack at time 10 (as a takeover does) and held. With `heldBack`, the client's
 *  last bytes were received but their ACK held back by the replication gate (rule 1):
 *  the kick's ACK is news to the client. */
function rebuilt(t: Test, unacked: number, o: { backoff?: number; heldBack?: number } = {}) {
  const a = new Ctx(t);
  const c = a.established({ mss: 1000, rtt: 50 });
  if (unacked > 0) {
    c.send(payloadOf(unacked));
    a.drain();
  }
  if (o.heldBack !== undefined) {
    c.ackLimit = c.rcvNxt;
    a.send({ flags: 'PA', seq: a.cSeq, ack: c.sndUna, data: o.heldBack });
    a.drain();
    t.equal(c.lastAckSent, u32(a.cSeq), 'the gate held the ACK back');
    a.cSeq = u32(a.cSeq + o.heldBack);
    t.equal(c.rcvNxt, a.cSeq, 'though the bytes arrived');
  }
  for (let i = 0; i < (o.backoff ?? 0); i++) c.rtt.backoff();
  const s = c.snapshot();
  const b = new Ctx(t, { noListen: true });
  const c2 = b.stack.restore(structuredClone(s), 10);
  c2.hold();
  return { a, b, c: c2 };
}

function probeSpec(a: Ctx, c: TcpConnection) {
  return { flags: 'A', seq: u32(c.sndUna - 1), ack: a.cSeq };
}

t.test('held: nothing leaves and no timer runs, even long past the RTO', async (t) => {
  const { b, c } = rebuilt(t, 3000);
  t.ok(c.rtoAt !== undefined, 'the rebuild armed the RTO');
  b.at(10);
  b.expectNone('held: silent at once');
  b.at(10 + 60_000);
  b.expectNone('held: silent a minute later');
  t.equal(b.stack.stats.rtoFires, 0, 'the RTO did not fire while held');
  t.equal(b.stack.pollAt(), undefined, 'a held connection asks for no poll');
});

t.test('kick: resends from snd.una at once, under the restart window, RTO counted from the kick', async (t) => {
  const { a, b, c } = rebuilt(t, 30_000, { backoff: 4 });
  b.at(2000);
  c.kick(2000);
  const first = b.expect({ flags: 'A', seq: a.iss + 1, ack: a.cSeq }, 'the first unacked byte again');
  let sent = first.payload.length;
  for (const d of b.drain()) sent += d.seg.payload.length;
  t.ok(sent > 0 && sent <= initialWindow(c.effMss), `resent ${sent} bytes, within the initial window`);
  t.equal(c.rtt.backoffCount, 0, "the old host's backoff is forgotten");
  t.equal(c.rtoAt, 2000 + c.rtt.rto, 'RTO from the kick, not from the rebuild at 10');
  b.runUntil(2000 + c.rtt.rto - 1);
  b.expectNone('nothing more before the RTO');
  b.at(2000 + c.rtt.rto);
  b.expect({ flags: 'A', seq: a.iss + 1 }, 'a lost kick is repeated one RTO later');
});

t.test("held: the peer's segment kicks the connection at once, whatever its turn", async (t) => {
  const { a, b, c } = rebuilt(t, 0, { heldBack: 10 });
  b.at(20);
  b.expectNone();
  b.send({ flags: 'PA', seq: a.cSeq, ack: a.iss + 1, data: 'x' }, 30);
  t.equal(c.kickHeld, false, 'released');
  b.expect({ flags: 'A', ack: a.cSeq + 1 }, 'the data is acknowledged now');
  b.runUntil(30 + 10 * c.rtt.rto);
  b.expectNone('the peer spoke: no kick probe');
});

t.test('kick with nothing unacknowledged: an ACK, then probes while the peer is silent', async (t) => {
  const { a, b, c } = rebuilt(t, 0, { heldBack: 10 });
  b.at(100);
  c.kick(100);
  b.expect({ flags: 'A', seq: a.iss + 1, ack: a.cSeq }, 'the kick ACK');
  b.expectNone();
  b.runUntil(100 + 20 * c.rtt.rto);
  for (const d of b.out.splice(0)) {
    t.equal(d.seg.seq, u32(c.sndUna - 1), 'a keepalive-style probe');
    t.equal(d.seg.payload.length, 0);
  }
  t.equal(b.stack.stats.kickProbes, MAX_KICK_PROBES, `${MAX_KICK_PROBES} probes, then silence`);
});

t.test('kick probes stop once the peer answers', async (t) => {
  const { a, b, c } = rebuilt(t, 0, { heldBack: 10 });
  b.at(100);
  c.kick(100);
  b.drain();
  const rto = c.rtt.rto;
  b.at(100 + rto);
  b.expect(probeSpec(a, c), 'the first probe at one RTO');
  b.send({ flags: 'A', seq: a.cSeq, ack: a.iss + 1 }, 100 + rto + 1);
  b.runUntil(100 + 20 * rto);
  b.expectNone('answered: no more probes');
  t.equal(b.stack.stats.kickProbes, 1);
});

t.test('kick with nothing new to say: no probe (the peer heard that ACK from the old host)', async (t) => {
  const { a, b, c } = rebuilt(t, 0);
  b.at(100);
  c.kick(100);
  b.expect({ flags: 'A', seq: a.iss + 1, ack: a.cSeq }, 'the kick ACK');
  b.runUntil(100 + 20 * c.rtt.rto);
  b.expectNone();
  t.equal(b.stack.stats.kickProbes, 0);
});

t.test('kick probes back off: RTO, 2 RTO, 4 RTO after the kick', async (t) => {
  const { a, b, c } = rebuilt(t, 0, { heldBack: 10 });
  b.at(100);
  c.kick(100);
  b.drain();
  const rto = c.rtt.rto;
  let at = 100;
  for (let k = 0; k < MAX_KICK_PROBES; k++) {
    at += rto * 2 ** k;
    b.at(at - 1);
    b.expectNone(`probe ${k + 1} not before ${at}`);
    b.at(at);
    b.expect(probeSpec(a, c), `probe ${k + 1} at kick + ${at - 100} ms`);
  }
});

t.test('held half-open, adopted: the client\'s ACK establishes it, no probe or SYN-ACK follows', async (t) => {
  const { a, b, snap: s, c: c } = restoredHalfOpen(t);
  c.adoptedHalfOpen = true;
  c.hold();
  b.at(5);
  b.expectNone('held');
  b.send({ flags: 'A', seq: a.irs + 1, ack: a.iss + 1, ts: [51, s.tsLastSent] }, 6);
  t.equal(c.state, 'ESTABLISHED');
  b.runUntil(6 + 10_000);
  b.expectNone('no probe, no SYN-ACK');
});

t.test('kick of a held adopted half-open: a probe, and probes again on its timer', async (t) => {
  const { a, b, snap: s, c: c } = restoredHalfOpen(t);
  c.adoptedHalfOpen = true;
  c.hold();
  b.at(500);
  c.kick(500);
  b.expect({ flags: 'A', seq: a.iss - 1, ack: a.irs + 1 }, 'the kick is a probe');
  b.expectNone();
  b.at(500 + c.rtt.rto);
  b.expect({ flags: 'A', seq: a.iss - 1, ack: a.irs + 1 }, 'again one RTO after the kick, not a SYN-ACK');
});
