// Keepalive probes (Linux-style: an old sequence number, no data) and giving up.
import t from 'tap';
import { Ctx } from './harness.js';

const opts = { keepAliveIntervalMs: 100, keepAliveProbes: 3 };

t.test('an idle connection with keepalive on is probed after idleMs', async (t) => {
  const ctx = new Ctx(t, opts);
  const c = ctx.established({ mss: 1460 });
  c.setKeepAlive(true, 1000);
  ctx.at(999);
  ctx.expectNone();
  ctx.at(1000);
  ctx.expect({ flags: 'A', seq: ctx.iss, ack: ctx.cSeq, data: 0 });
  t.equal(ctx.stack.stats.keepaliveProbes, 1);
});

t.test('keepalive off (the default): nothing is sent on an idle connection', async (t) => {
  const ctx = new Ctx(t, opts);
  ctx.established({ mss: 1460 });
  ctx.at(10_000_000);
  ctx.expectNone();
  t.equal(ctx.stack.pollAt(), undefined);
});

t.test('an answered probe starts the idle time again', async (t) => {
  const ctx = new Ctx(t, opts);
  const c = ctx.established({ mss: 1460 });
  c.setKeepAlive(true, 1000);
  ctx.at(1000);
  ctx.expect({ flags: 'A', seq: ctx.iss });
  ctx.ack(ctx.iss + 1, { at: 1010 });
  ctx.at(2009);
  ctx.expectNone();
  ctx.at(2010);
  ctx.expect({ flags: 'A', seq: ctx.iss });
});

t.test('unanswered probes every interval, then RST and ETIMEDOUT', async (t) => {
  const ctx = new Ctx(t, opts);
  const c = ctx.established({ mss: 1460 });
  c.setKeepAlive(true, 1000);
  ctx.at(1000);
  ctx.expect({ flags: 'A', seq: ctx.iss });
  ctx.at(1100);
  ctx.expect({ flags: 'A', seq: ctx.iss });
  ctx.at(1200);
  ctx.expect({ flags: 'A', seq: ctx.iss });
  ctx.at(1300);
  ctx.expect({ flags: 'RA', seq: ctx.iss + 1 });
  t.equal(c.state, 'CLOSED');
  t.same(ctx.events, ['closed:ETIMEDOUT']);
});

t.test('received data postpones the probe', async (t) => {
  const ctx = new Ctx(t, opts);
  const c = ctx.established({ mss: 1460 });
  c.setKeepAlive(true, 1000);
  ctx.at(10);
  ctx.data('x', { at: 500 });
  ctx.at(1000);
  ctx.expect({ flags: 'A', ack: ctx.cSeq }, 'the delayed ACK of x, no probe');
  ctx.expectNone();
  ctx.at(1500);
  ctx.expect({ flags: 'A', seq: ctx.iss });
});
