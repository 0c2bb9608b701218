// The takeover's paced kick (backup-daemon/kick.ts) against a host double: a batch of
// connections per event-loop turn, each client's address resolved first, none while
// the link refuses frames, and every held connection kicked in the end.
import t, { type Test } from 'tap';
import { Ctx, CLIENT } from '../tcp/harness.js';
import { kickAll, type KickHost, type KickOptions } from '../../backup-daemon/kick.js';
import { pmtuKick, PMTU_KICK_SHRINK } from '../../backup-daemon/takeover.js';
import type { TcpConnection } from '../../shared/tcp/connection.js';

const OTHER_CLIENT = 0xc000020b; // 192.0.2.11

class FakeKickHost implements KickHost {
  readonly known = new Set<number>();
  readonly asked: number[] = [];
  txBacklog = 0;
  #handlers = new Set<(ip: number) => void>();
  resolve(ip: number): boolean {
    if (this.known.has(ip)) return true;
    this.asked.push(ip);
    return false;
  }
  onNeighbor(h: (ip: number) => void): () => void {
    this.#handlers.add(h);
    return () => this.#handlers.delete(h);
  }
  learn(ip: number): void {
    this.known.add(ip);
    for (const h of this.#handlers) h(ip);
  }
  get handlers(): number {
    return this.#handlers.size;
  }
}

/** `n` established connections (client ports 40000..), each held as a takeover holds it;
 *  from `src` for the first `fromOther` of them when given. */
function held(t: Test, n: number, fromOther = 0): { ctx: Ctx; conns: TcpConnection[] } {
  const ctx = new Ctx(t);
  const conns: TcpConnection[] = [];
  for (let i = 0; i < n; i++) {
    const port = 40000 + i;
    const src = i < fromOther ? OTHER_CLIENT : CLIENT;
    ctx.send({ flags: 'S', seq: ctx.irs, srcPort: port }, ctx.now, src);
    ctx.drain();
    ctx.send({ flags: 'A', seq: ctx.irs + 1, ack: ctx.iss + 1, srcPort: port }, ctx.now, src);
    conns.push(ctx.c);
  }
  ctx.drain();
  t.equal(new Set(conns).size, n, `${n} connections`);
  for (const c of conns) c.hold();
  return { ctx, conns };
}

const kickedCount = (conns: readonly TcpConnection[]): number => conns.filter((c) => !c.kickHeld).length;

/** Options with a manual clock; each turn records how many were kicked by then. */
function opts(ctx: Ctx, perTurn: number[], conns: readonly TcpConnection[], o: Partial<KickOptions> = {}): KickOptions {
  return {
    kick: (c, now) => c.kick(now),
    now: () => ctx.now,
    turn: async () => {
      perTurn.push(kickedCount(conns));
    },
    ...o,
  };
}

t.test('a batch per event-loop turn, every connection kicked in the end', async (t) => {
  const { ctx, conns } = held(t, 300);
  const host = new FakeKickHost();
  host.known.add(CLIENT);
  const perTurn: number[] = [];
  const r = await kickAll(conns, host, opts(ctx, perTurn, conns, { batch: 128 }));
  t.same(perTurn, [128, 256], 'one batch, a turn, the next');
  t.equal(kickedCount(conns), 300);
  t.equal(r.kicked, 300);
  t.equal(r.unresolved, 0);
  t.same(host.asked, []);
  t.equal(host.handlers, 0, 'its neighbour handler is removed');
  const out = ctx.drain();
  t.equal(out.length, 300, 'one kick ACK per connection');
});

t.test('an unknown client: its connections wait for its address, the others go first', async (t) => {
  const { ctx, conns } = held(t, 10, 4);
  const host = new FakeKickHost();
  host.known.add(CLIENT);
  const perTurn: number[] = [];
  let sleeps = 0;
  const done = kickAll(conns, host, opts(ctx, perTurn, conns, {
    batch: 3,
    sleep: async (_ms, wake) => {
      sleeps++;
      // The client answers the ARP request while we wait.
      host.learn(OTHER_CLIENT);
      await wake;
    },
  }));
  const r = await done;
  t.same(host.asked, [OTHER_CLIENT], 'asked once for the unknown client');
  t.equal(sleeps, 1);
  t.ok(conns.slice(4).every((c) => c.kickedAt !== undefined));
  t.equal(kickedCount(conns), 10);
  t.equal(r.unresolved, 0);
  t.same(perTurn.slice(0, 1), [3], 'the known client first, a batch at a time');
});

t.test('a client that never answers: its connections are kicked anyway after the timeout', async (t) => {
  const { ctx, conns } = held(t, 5);
  const host = new FakeKickHost();
  const perTurn: number[] = [];
  const r = await kickAll(conns, host, opts(ctx, perTurn, conns, {
    resolveTimeoutMs: 1000,
    sleep: async (ms) => {
      ctx.now += ms;
    },
  }));
  t.equal(ctx.now, 1000, 'waited the timeout');
  t.equal(r.unresolved, 1);
  t.equal(kickedCount(conns), 5);
});

t.test('no batch while the host holds frames the link refused', async (t) => {
  const { ctx, conns } = held(t, 6);
  const host = new FakeKickHost();
  host.known.add(CLIENT);
  host.txBacklog = 5;
  const perTurn: number[] = [];
  let waits = 0;
  const r = await kickAll(conns, host, opts(ctx, perTurn, conns, {
    batch: 2,
    sleep: async () => {
      waits++;
      t.equal(kickedCount(conns), 0, 'nothing kicked while refused frames wait');
      if (waits === 3) host.txBacklog = 0;
    },
  }));
  t.equal(waits, 3);
  t.equal(r.kicked, 6);
});

t.test('connections kicked by their client first, or closed, are skipped', async (t) => {
  const { ctx, conns } = held(t, 4);
  const host = new FakeKickHost();
  host.known.add(CLIENT);
  // The client of the first one spoke: the engine kicked it already.
  ctx.send({ flags: 'A', seq: ctx.irs + 1, ack: ctx.iss + 1, srcPort: 40000 });
  t.equal(conns[0]!.kickHeld, false);
  conns[1]!.abort();
  const kicked: TcpConnection[] = [];
  const r = await kickAll(conns, host, { ...opts(ctx, [], conns), kick: (c, now) => { kicked.push(c); c.kick(now); } });
  t.same(kicked, conns.slice(2));
  t.equal(r.kicked, 2);
});

t.test('for each client, connections whose kick carries something go first', async (t) => {
  const { ctx, conns } = held(t, 6);
  // Ours unacknowledged on the fifth, an ACK the client has not seen on the sixth.
  conns[4]!.kickHeld = false;
  conns[4]!.send(Buffer.from('reply'));
  ctx.drain();
  conns[4]!.hold();
  conns[5]!.ackLimit = conns[5]!.rcvNxt;
  ctx.send({ flags: 'PA', seq: ctx.irs + 1, ack: ctx.iss + 1, data: 'abc', srcPort: 40005 });
  conns[5]!.ackLimit = undefined;
  t.equal(conns[5]!.kickHeld, false, 'its client spoke: kicked by the engine');
  conns[5]!.hold();
  ctx.drain();
  t.not(conns[5]!.effAck(), conns[5]!.lastAckSent, 'the held-back ACK is news to the client');
  const host = new FakeKickHost();
  host.known.add(CLIENT);
  const kicked: TcpConnection[] = [];
  await kickAll(conns, host, { ...opts(ctx, [], conns), kick: (c, now) => { kicked.push(c); c.kick(now); } });
  t.same(kicked.slice(0, 2), [conns[4], conns[5]]);
  t.same(kicked.slice(2), conns.slice(0, 4));
});

t.test('pmtuKick: an ICMP fragmentation-needed quoting the client\'s first unacknowledged byte, MTU 8 below its segments', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  const sent: Array<{ ip: number; icmp: Buffer }> = [];
  const host = { queueIcmp: (ip: number, icmp: Buffer) => (sent.push({ ip, icmp }), true) };
  t.ok(pmtuKick(c, host));
  t.equal(sent.length, 1);
  const { ip, icmp } = sent[0]!;
  t.equal(ip, CLIENT);
  t.equal(icmp[0], 3, 'destination unreachable');
  t.equal(icmp[1], 4, 'fragmentation needed');
  const mtu = Math.min(c.rcvMss, c.sndMss) + 40 - PMTU_KICK_SHRINK;
  t.equal(icmp.readUInt16BE(6), mtu);
  t.equal(icmp.readUInt32BE(20), CLIENT, 'quoted source: the client');
  t.equal(icmp.readUInt16BE(28), c.remotePort, 'quoted source port: the client\'s');
  t.equal(icmp.readUInt16BE(30), c.localPort);
  t.equal(icmp.readUInt32BE(32), c.rcvNxt, 'quoted sequence: what we expect next, never beyond');
});

t.test('pmtuKick: nothing for a connection whose client has closed its side', async (t) => {
  const ctx = new Ctx(t);
  const c = ctx.established({ mss: 1460 });
  ctx.send({ flags: 'FA', seq: ctx.cSeq, ack: ctx.iss + 1 }, 10);
  ctx.drain();
  t.equal(c.state, 'CLOSE-WAIT');
  const host = { queueIcmp: () => t.fail('no ICMP') as unknown as boolean };
  t.notOk(pmtuKick(c, host));
});
