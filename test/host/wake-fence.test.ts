// The wake fence (VipHost.fenceAfterFreeze): a primary that did not run for longer
// than the fence holds its output until the receive queues were read after the wake,
// so a backup's takeover that happened while it was frozen silences it before any
// stale segment leaves (lab-pause caught one such segment: a PAWS drop at the client).
import t from 'tap';
import { makeHost } from './fakes.js';
import { SYN, SYN_ACK, CLIENT_IP } from '../wire/captures.js';
import { gratuitousArpFrame } from '../../shared/wire/arp.js';
import { parseTcp } from '../../shared/wire/tcp.js';
import { ParseError } from '../../shared/wire/result.js';
import type { Datagram } from '../../shared/tcp/segment.js';

const OTHER_MAC = Buffer.from('02000000bb02', 'hex');
const FENCE_MS = 35;

function synAck(vip: number): Datagram {
  const seg = parseTcp(SYN_ACK.subarray(34));
  if (seg instanceof ParseError) throw new Error(seg.reason);
  return { src: vip, dst: CLIENT_IP, seg };
}

/** A fenced host whose client is known (learned from its SYN), nothing sent yet. */
function fencedHost() {
  const h = makeHost();
  h.host.fenceAfterFreeze(FENCE_MS);
  h.link.deliver([SYN]);
  h.link.sends.length = 0;
  return h;
}

/** The process stops for `ms`: the clock moves, no timer runs. */
function freeze(timers: { now: number }, ms: number): void {
  timers.now += ms;
}

t.test('after a freeze longer than the fence, output waits two check phases, then leaves', async (t) => {
  const { host, link, stack, timers } = fencedHost();
  freeze(timers, 400);
  stack.out = [synAck(host.vip)];
  host.schedule();
  timers.runImmediates();
  t.equal(link.sent.length, 0, 'held on the first pass after waking');
  t.equal(host.fenced, true);
  t.equal(host.stats.wakeFences, 1);
  timers.runImmediates();
  t.equal(link.sent.length, 0, 'the first check phase may belong to the interrupted iteration');
  timers.runImmediates();
  t.equal(link.sent.length, 1, 'sent after a full poll phase');
  t.equal(host.fenced, false);
});

t.test('a takeover seen during the fence drops what was held', async (t) => {
  const { host, link, stack, timers } = fencedHost();
  let conflicts = 0;
  host.onVipConflict(() => {
    conflicts++;
    host.silence();
  });
  freeze(timers, 400);
  stack.out = [synAck(host.vip)];
  host.schedule();
  timers.runImmediates();
  // The poll phase after the wake reads the backup's gratuitous ARP.
  link.deliver([gratuitousArpFrame(OTHER_MAC, host.vip)]);
  timers.runImmediates();
  timers.runImmediates();
  t.equal(conflicts, 1);
  t.equal(link.sent.length, 0, 'nothing left this host after the freeze');
  t.equal(host.stats.drops.silenced, 1, 'the held segment counted as silenced');
});

t.test('frames that arrive first after the wake have their replies held too', async (t) => {
  const { host, link, stack, timers } = fencedHost();
  freeze(timers, 400);
  stack.out = [synAck(host.vip)];
  link.deliver([SYN]);
  t.equal(link.sent.length, 0);
  t.equal(host.fenced, true);
});

t.test('an idle host is not fenced: the ticker keeps the gap short', async (t) => {
  const { host, link, stack, timers } = fencedHost();
  timers.advance(5000);
  stack.out = [synAck(host.vip)];
  host.schedule();
  timers.runImmediates();
  t.equal(link.sent.length, 1, 'sent at once');
  t.equal(host.stats.wakeFences, 0);
});

t.test('a gap at or below the fence is not a freeze', async (t) => {
  const { host, link, stack, timers } = fencedHost();
  freeze(timers, FENCE_MS);
  stack.out = [synAck(host.vip)];
  host.schedule();
  timers.runImmediates();
  t.equal(link.sent.length, 1);
});

t.test('without fenceAfterFreeze, a freeze changes nothing', async (t) => {
  const { host, link, stack, timers } = makeHost();
  link.deliver([SYN]);
  link.sends.length = 0;
  freeze(timers, 400);
  stack.out = [synAck(host.vip)];
  host.schedule();
  timers.runImmediates();
  t.equal(link.sent.length, 1);
  t.equal(timers.pendingTimeouts, 0, 'and no ticker runs');
});

t.test('a fence that is not a positive number is refused', async (t) => {
  const { host } = makeHost();
  for (const bad of [0, -1, Number.NaN]) t.throws(() => host.fenceAfterFreeze(bad), { code: 'ERR_INTACT_CONFIG' });
});
