// Limits (backlog, SYN queue, maxConnections) and garbage: dropped, counted, never thrown.
import t from 'tap';
import fc from 'fast-check';
import { CLIENT, Ctx, SERVER, SPORT, buildSegment, u32 } from './harness.js';
import type { TcpSegment } from '../../shared/tcp/segment.js';

function syn(ctx: Ctx, port: number, seq = 1000): void {
  ctx.send({ flags: 'S', seq, mss: 1460, srcPort: port });
}

t.test('accept queue full: further SYNs are dropped and counted', async (t) => {
  const ctx = new Ctx(t, { backlog: 1 });
  ctx.listener!.onConnection = undefined;
  syn(ctx, 1001);
  ctx.drain();
  ctx.send({ flags: 'A', seq: 1001, ack: ctx.iss + 1, srcPort: 1001 });
  t.equal(ctx.listener!.acceptQueue.length, 1);
  ctx.drain();
  syn(ctx, 1002);
  ctx.expectNone();
  t.equal(ctx.stack.stats.dropped.acceptQueueFull, 1);
});

t.test('accept queue full at the final ACK: the ACK is dropped, the SYN-ACK retried', async (t) => {
  const ctx = new Ctx(t, { backlog: 1 });
  ctx.listener!.onConnection = undefined;
  syn(ctx, 1001);
  syn(ctx, 1002);
  ctx.drain();
  ctx.send({ flags: 'A', seq: 1001, ack: ctx.iss + 1, srcPort: 1001 });
  ctx.send({ flags: 'A', seq: 1001, ack: ctx.iss + 1, srcPort: 1002 });
  t.equal(ctx.stack.stats.dropped.acceptQueueFull, 1);
  const half = [...ctx.stack.connections()].find((c) => c.remotePort === 1002)!;
  t.equal(half.state, 'SYN-RECEIVED');
  // The application accepts: the queued one is handed over, then the retry succeeds.
  const got: number[] = [];
  ctx.listener!.onConnection = (c) => got.push(c.remotePort);
  t.same(got, [1001]);
  ctx.send({ flags: 'A', seq: 1001, ack: ctx.iss + 1, srcPort: 1002 });
  t.same(got, [1001, 1002]);
});

t.test('SYN queue limit: SYNs beyond synBacklog are dropped', async (t) => {
  const ctx = new Ctx(t, { synBacklog: 2 });
  for (const p of [1001, 1002, 1003]) syn(ctx, p);
  t.equal(ctx.drain().length, 2);
  t.equal(ctx.stack.stats.dropped.synQueueFull, 1);
  t.equal(ctx.listener!.synQueue, 2);
});

t.test('maxConnections counts half-open and established connections', async (t) => {
  const ctx = new Ctx(t, { maxConnections: 2 });
  syn(ctx, 1001);
  ctx.drain();
  ctx.send({ flags: 'A', seq: 1001, ack: ctx.iss + 1, srcPort: 1001 });
  syn(ctx, 1002);
  syn(ctx, 1003);
  t.equal(ctx.stack.connectionCount, 2);
  t.equal(ctx.stack.stats.dropped.maxConnections, 1);
});

t.test('a closed listener resets its half-open connections and refuses new SYNs', async (t) => {
  const ctx = new Ctx(t);
  syn(ctx, 1001);
  ctx.drain();
  ctx.listener!.close();
  ctx.expect({ flags: 'RA', seq: ctx.iss + 1 });
  syn(ctx, 1002);
  ctx.expect({ flags: 'RA', seq: 0, ack: 1001 });
  t.equal(ctx.stack.connectionCount, 0);
});

t.test('listening twice on a port is refused', async (t) => {
  const ctx = new Ctx(t);
  t.throws(() => ctx.stack.listen(SPORT), { code: 'ERR_INTACT_ADDR_IN_USE' });
});

for (const [flags, name] of [['SF', 'SYN+FIN'], ['SR', 'SYN+RST'], ['', 'no flags'], ['P', 'PSH only'], ['U', 'URG only']] as const) {
  t.test(`${name} is dropped and counted`, async (t) => {
    const ctx = new Ctx(t);
    ctx.established({ mss: 1460 });
    ctx.send({ flags, seq: ctx.cSeq, ack: ctx.iss + 1 });
    ctx.expectNone();
    t.equal(ctx.stack.stats.dropped.badFlags, 1);
    t.equal(ctx.c.state, 'ESTABLISHED');
  });
}

t.test('port 0 is dropped', async (t) => {
  const ctx = new Ctx(t);
  ctx.send({ flags: 'S', seq: 1, srcPort: 0 });
  ctx.expectNone();
  t.equal(ctx.stack.stats.dropped.badPort, 1);
});

t.test('FIN without ACK on an established connection is dropped', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460 });
  ctx.send({ flags: 'F', seq: ctx.cSeq });
  t.equal(ctx.c.state, 'ESTABLISHED');
  t.equal(ctx.stack.stats.dropped.noAck, 1);
});

t.test('an ACK far below sndUna (beyond MAX.SND.WND) is challenged (RFC 5961 §5.2)', async (t) => {
  const ctx = new Ctx(t);
  ctx.established({ mss: 1460, win: 1000 });
  ctx.send({ flags: 'PA', seq: ctx.cSeq, ack: ctx.iss - 100_000, data: 'x', win: 1000 });
  ctx.expect({ flags: 'A', ack: ctx.cSeq });
  t.equal(ctx.c.recvQueued(), 0, 'the data of the bad segment is dropped too');
  t.equal(ctx.stack.stats.dropped.ackUnacceptable, 1);
});

t.test('fuzz: random segments into an established connection never throw or break it', async (t) => {
  const seg = fc.record({
    flags: fc.integer({ min: 0, max: 255 }),
    seqOff: fc.integer({ min: -70000, max: 70000 }),
    ackOff: fc.integer({ min: -70000, max: 70000 }),
    window: fc.integer({ min: 0, max: 65535 }),
    len: fc.integer({ min: 0, max: 3000 }),
    ts: fc.option(fc.tuple(fc.nat(), fc.nat())),
    sack: fc.option(fc.array(fc.tuple(fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: 0, max: 5000 })), { maxLength: 5 })),
    mss: fc.option(fc.integer({ min: 0, max: 65535 })),
    wscale: fc.option(fc.integer({ min: 0, max: 255 })),
  });
  fc.assert(fc.property(fc.array(seg, { maxLength: 40 }), fc.boolean(), (segs, withTs) => {
    const ctx = new Ctx(t);
    const c = ctx.established({ mss: 1000, sack: true, ts: withTs, wscale: 7 });
    c.send(Buffer.alloc(5000, 1));
    let now = 0;
    for (const s of segs) {
      now += 7;
      const raw: TcpSegment = {
        srcPort: 40000, dstPort: SPORT, seq: u32(ctx.cSeq + s.seqOff), ack: u32(ctx.iss + 1 + s.ackOff),
        flags: s.flags, window: s.window, payload: Buffer.alloc(s.len, 2),
        options: {
          ...(s.ts ? { ts: { val: u32(s.ts[0]), ecr: u32(s.ts[1]) } } : {}),
          ...(s.sack ? { sack: s.sack.map(([l, n]) => [u32(ctx.iss + 1 + l), u32(ctx.iss + 1 + l + n)] as const) } : {}),
          ...(s.mss !== null ? { mss: s.mss } : {}),
          ...(s.wscale !== null ? { wscale: s.wscale } : {}),
        },
      };
      ctx.stack.input({ src: CLIENT, dst: SERVER, seg: raw }, now);
      ctx.stack.poll(now);
      if (c.state === 'CLOSED') break;
      // Invariants: sndUna <= sndNxt <= sndMax, the queue matches the sequence space.
      if (u32(c.sndMax - c.sndUna) > 2 ** 30 || u32(c.sndNxt - c.sndUna) > u32(c.sndMax - c.sndUna)) return false;
    }
    ctx.stack.poll(now + 200_000);
    return ctx.stack.stats.dropped.internalError === 0;
  }), { numRuns: 300, seed: 42 });
});

t.test('fuzz: random segments to a listener never throw', async (t) => {
  fc.assert(fc.property(fc.array(fc.record({
    flags: fc.integer({ min: 0, max: 255 }), seq: fc.nat(), ack: fc.nat(), port: fc.integer({ min: 0, max: 3 }),
    len: fc.integer({ min: 0, max: 100 }), mss: fc.option(fc.nat({ max: 70000 })), wscale: fc.option(fc.nat({ max: 255 })),
  }), { maxLength: 50 }), (segs) => {
    const ctx = new Ctx(t);
    let now = 0;
    for (const s of segs) {
      const seg = buildSegment({
        flags: '', seq: s.seq, ack: s.ack, data: s.len, mss: s.mss ?? undefined, wscale: s.wscale ?? undefined,
      }, 40000 + s.port);
      ctx.stack.input({ src: CLIENT, dst: SERVER, seg: { ...seg, flags: s.flags } }, now);
      ctx.stack.poll(now);
      now += 100;
    }
    ctx.stack.poll(now + 1_000_000);
    return ctx.stack.stats.dropped.internalError === 0;
  }), { numRuns: 300, seed: 7 });
});
