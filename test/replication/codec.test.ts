import t from 'tap';
import fc from 'fast-check';
import { Encoder, FrameDecoder, DecodeError, GATHER_MIN_BYTES, encode, decodeBody, keep } from '../../shared/replication/codec.js';
import { MsgType, MAX_FRAME, type Message } from '../../shared/replication/messages.js';
import { challenge, hello, welcome, verifyHello, verifyWelcome, newNonce } from '../../shared/replication/auth.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant(MsgType.Open as const), conn: u32, localAddr: u32, localPort: u16, remoteAddr: u32, remotePort: u16, iss: u32, irs: u32, mss: u16, sndWndShift: fc.integer({ min: 0, max: 14 }), rcvWndShift: fc.integer({ min: 0, max: 14 }), sackOk: fc.boolean(), tsOk: fc.boolean(), tsRecent: u32, tsLast: u32, sndWnd: u32, replayWindow: fc.integer({ min: 0, max: 2 ** 30 }) }),
  fc.record({ type: fc.constant(MsgType.Resync as const), conn: u32, localAddr: u32, localPort: u16, remoteAddr: u32, remotePort: u16, iss: u32, irs: u32, mss: u16, sndWndShift: fc.integer({ min: 0, max: 14 }), rcvWndShift: fc.integer({ min: 0, max: 14 }), sackOk: fc.boolean(), tsOk: fc.boolean(), tsRecent: u32, tsLast: u32, sndWnd: u32, replayWindow: fc.integer({ min: 0, max: 2 ** 30 }), rcvBase: u53, sndBase: u53 }),
  fc.record({ type: fc.constant(MsgType.RecvData as const), conn: u32, seq: u32, data: bytes(3000) }),
  fc.record({ type: fc.constant(MsgType.SendData as const), conn: u32, seq: u32, data: bytes(3000) }),
  fc.record({ type: fc.constant(MsgType.Update as const), conn: u32, state: fc.integer({ min: 0, max: 10 }), sndUna: u32, sndWnd: u32, tsRecent: u32, tsLast: u32, finSeq: u32, finReceived: fc.boolean() }),
  fc.record({ type: fc.constant(MsgType.Checkpoint as const), conn: u32, consumed: u53, produced: u53, state: bytes(500) }),
  fc.record({ type: fc.constant(MsgType.Close as const), conn: u32 }),
  fc.record({ type: fc.constant(MsgType.Heartbeat as const), seq: u32, sentAt: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  fc.record({ type: fc.constant(MsgType.Confirm as const), upTo: u53 }),
  fc.record({ type: fc.constant(MsgType.Refuse as const), reason: fc.string({ maxLength: 100 }) }),
);

t.test('every message round-trips through a stream cut at random points', async (t) => {
  fc.assert(
    fc.property(fc.array(message, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }), (msgs, cuts) => {
      const e = new Encoder();
      for (const m of msgs) e.write(m);
      const wire = e.take();
      const d = new FrameDecoder();
      const out: Message[] = [];
      let o = 0;
      let i = 0;
      while (o < wire.length) {
        const n = cuts[i++ % cuts.length];
        const r = d.push(wire.subarray(o, o + n));
        if (r.error) throw new Error(r.error.reason);
        out.push(...r.messages);
        o += n;
      }
      t.same(out, msgs);
    }),
  );
});

/** Data messages around the gathering threshold: payloads above it travel by reference. */
const bigData = fc.oneof(
  fc.record({ type: fc.constant(MsgType.RecvData as const), conn: u32, seq: u32, data: fc.integer({ min: GATHER_MIN_BYTES - 2, max: 70_000 }).chain((n) => fc.constant(Buffer.alloc(n, n & 0xff))) }),
  fc.record({ type: fc.constant(MsgType.SendData as const), conn: u32, seq: u32, data: fc.integer({ min: 0, max: 70_000 }).chain((n) => fc.constant(Buffer.alloc(n, (n * 7) & 0xff))) }),
);

t.test('a gathered batch (large payloads by reference, a growing buffer) decodes as written', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.oneof(message, bigData), { maxLength: 12 }), fc.integer({ min: 16, max: 4096 }), fc.integer({ min: 1, max: 70_000 }), (msgs, initial, cut) => {
      const e = new Encoder(initial);
      for (const m of msgs) e.write(m);
      const pieces = e.batch();
      t.equal(pieces.reduce((n, p) => n + p.length, 0), e.length);
      const d = new FrameDecoder();
      const out: Message[] = [];
      const wire = Buffer.concat(pieces);
      for (let o = 0; o < wire.length; o += cut) {
        const r = d.push(wire.subarray(o, o + cut));
        if (r.error) throw new Error(r.error.reason);
        out.push(...r.messages);
      }
      t.same(out, msgs);
    }),
    { numRuns: 200 },
  );
});

t.test('payloads at or above the threshold are pieces of the batch, not copies', async (t) => {
  const big = Buffer.alloc(GATHER_MIN_BYTES, 7);
  const small = Buffer.alloc(GATHER_MIN_BYTES - 1, 8);
  const e = new Encoder();
  e.write({ type: MsgType.RecvData, conn: 1, seq: 2, data: small });
  e.write({ type: MsgType.SendData, conn: 1, seq: 3, data: big });
  e.write({ type: MsgType.Close, conn: 1 });
  const pieces = e.batch();
  t.equal(pieces.length, 3, 'framing and the small one, the big payload, the rest');
  t.equal(pieces[1], big, 'the payload itself');
  t.notOk(pieces.some((p) => p === small), 'the small payload was copied');
  t.equal(encode({ type: MsgType.SendData, conn: 1, seq: 3, data: big }).length, 5 + 8 + big.length, 'encode() is one buffer');
});

t.test('detach() leaves the pieces of the last batch intact; reset() reuses the buffer', async (t) => {
  const m1: Message = { type: MsgType.RecvData, conn: 1, seq: 1, data: Buffer.from('first batch') };
  const m2: Message = { type: MsgType.RecvData, conn: 1, seq: 12, data: Buffer.from('SECOND BATCH') };
  const e = new Encoder(256);
  e.write(m1);
  const held = e.batch();
  e.detach();
  e.write(m2);
  t.same(new FrameDecoder().push(Buffer.concat(held)).messages, [m1], 'a socket still holding batch 1 sends batch 1');
  t.same(new FrameDecoder().push(Buffer.concat(e.batch())).messages, [m2]);
  const before = e.batch()[0]!.buffer;
  e.reset();
  e.write(m1);
  t.equal(e.batch()[0]!.buffer, before, 'same memory after reset()');
});

t.test('data is a view of what was read only when that pins at most twice its size', async (t) => {
  const wire = encode({ type: MsgType.RecvData, conn: 1, seq: 1, data: Buffer.alloc(30_000, 1) });
  const read = Buffer.concat([wire, encode({ type: MsgType.Close, conn: 1 })]); // one read, its own memory
  const [m] = new FrameDecoder().push(read).messages;
  t.equal((m as { data: Buffer }).data.buffer, read.buffer, 'most of the read: a view');
  const small = Buffer.concat([encode({ type: MsgType.RecvData, conn: 1, seq: 1, data: Buffer.alloc(100, 2) }), Buffer.alloc(60_000)]);
  const [s] = new FrameDecoder().push(small.subarray(0, 113)).messages;
  t.not((s as { data: Buffer }).data.buffer, small.buffer, 'a small piece of a large read: copied out');
  t.same((s as { data: Buffer }).data, Buffer.alloc(100, 2));
  const v = Buffer.alloc(10);
  t.equal(keep(v.subarray(0, 5)).buffer === v.buffer, true, 'half of it: a view');
  t.equal(keep(v.subarray(0, 4)).buffer === v.buffer, false, 'less than half: a copy');
});

t.test('a transient read buffer may be overwritten after each push', async (t) => {
  const msgs: Message[] = [
    { type: MsgType.RecvData, conn: 1, seq: 1, data: Buffer.alloc(5000, 3) },
    { type: MsgType.Checkpoint, conn: 1, consumed: 5, produced: 6, state: Buffer.from('{"k":1}') },
    { type: MsgType.Confirm, upTo: 77 },
  ];
  const wire = Buffer.concat(msgs.map(encode));
  for (const size of [1, 7, 13, 1000, 4096, wire.length]) {
    const d = new FrameDecoder();
    const readBuf = Buffer.alloc(size);
    const out: Message[] = [];
    for (let o = 0; o < wire.length; o += size) {
      const n = wire.copy(readBuf, 0, o, o + size);
      const r = d.push(readBuf.subarray(0, n), true);
      t.notOk(r.error);
      out.push(...r.messages);
      readBuf.fill(0xee); // the next read reuses the buffer
    }
    t.same(out, msgs, `reads of ${size} bytes`);
  }
});

t.test('a message split at every offset decodes once, whole', async (t) => {
  const m: Message = { type: MsgType.RecvData, conn: 7, seq: 0xfffffff0, data: Buffer.from('hello, backup') };
  const wire = encode(m);
  for (let cut = 0; cut <= wire.length; cut++) {
    const d = new FrameDecoder();
    const a = d.push(wire.subarray(0, cut));
    const b = d.push(wire.subarray(cut));
    t.same([...a.messages, ...b.messages], [m], `cut at ${cut}`);
  }
});

t.test('an unknown type ends the session with a reason', async (t) => {
  const d = new FrameDecoder();
  const r = d.push(Buffer.from([0, 0, 0, 1, 99]));
  t.equal(r.error?.reason, 'unknown-type:99');
  t.equal(d.push(encode({ type: MsgType.Close, conn: 1 })).error?.reason, 'unknown-type:99', 'stays failed');
});

t.test('a frame longer than the bound is refused before it is buffered', async (t) => {
  const d = new FrameDecoder();
  const head = Buffer.alloc(4);
  head.writeUInt32BE(MAX_FRAME + 1);
  t.match(d.push(head).error?.reason, /^frame-too-large/);
});

t.test('an empty frame is an error', async (t) => {
  t.equal(new FrameDecoder().push(Buffer.from([0, 0, 0, 0])).error?.reason, 'empty-frame');
});

t.test('fixed-size messages with the wrong length are refused', async (t) => {
  const r = decodeBody(MsgType.Close, Buffer.alloc(3));
  t.ok(r instanceof DecodeError);
  t.equal((r as DecodeError).reason, `bad-length:${MsgType.Close}:3`);
});

t.test('hostile field values are refused', async (t) => {
  const open = encode({ type: MsgType.Open, conn: 1, localAddr: 1, localPort: 1, remoteAddr: 2, remotePort: 2, iss: 1, irs: 2, mss: 1460, sndWndShift: 7, rcvWndShift: 7, sackOk: true, tsOk: true, tsRecent: 0, tsLast: 0, sndWnd: 0, replayWindow: 0 });
  const bad = Buffer.from(open);
  bad[5 + 26] = 15;
  t.equal(new FrameDecoder().push(bad).error?.reason, 'bad-window-shift');
  const cp = encode({ type: MsgType.Checkpoint, conn: 1, consumed: 0, produced: 0, state: Buffer.alloc(0) });
  cp.writeUInt32BE(0xffffffff, 5 + 4);
  t.equal(new FrameDecoder().push(cp).error?.reason, 'u53-overflow');
  const resync = encode({ type: MsgType.Resync, conn: 1, localAddr: 1, localPort: 1, remoteAddr: 2, remotePort: 2, iss: 1, irs: 2, mss: 1460, sndWndShift: 7, rcvWndShift: 7, sackOk: true, tsOk: true, tsRecent: 0, tsLast: 0, sndWnd: 0, replayWindow: 0, rcvBase: 5, sndBase: 7 });
  const far = Buffer.from(resync);
  far.writeUInt32BE(0xffffffff, 5 + 45 + 8);
  t.equal(new FrameDecoder().push(far).error?.reason, 'u53-overflow', 'a resync stream base beyond 2^53');
  const short = Buffer.from(resync.subarray(0, resync.length - 8));
  short.writeUInt32BE(short.length - 4, 0);
  t.equal(new FrameDecoder().push(short).error?.reason, `bad-length:${MsgType.Resync}:53`, 'a resync without its bases');
  const wide = Buffer.from(open);
  wide.writeUInt32BE(2 ** 30 + 1, 5 + 41);
  t.equal(new FrameDecoder().push(wide).error?.reason, 'bad-replay-window', 'a replay window past 2^30 (sequence comparisons need it far below 2^31)');
});

t.test('random bytes never throw', async () => {
  fc.assert(
    fc.property(bytes(200), (b) => {
      new FrameDecoder().push(b);
    }),
  );
});

t.test('the hello proves the key both ways', async (t) => {
  const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const nb = newNonce();
  const np = newNonce();
  const h = hello(key, 0xc0000264, nb, np, 'kv');
  t.equal(challenge(nb).nonce, nb);
  t.equal(verifyHello(key, h, nb), 'ok');
  t.equal(verifyHello(Buffer.from('wrong key'), h, nb), 'bad-mac', 'a peer without the key is refused');
  t.equal(verifyHello(key, h, newNonce()), 'bad-mac', 'a replayed hello (other challenge) is refused');
  t.equal(verifyHello(key, { ...h, vip: 1 }, nb), 'bad-mac', 'the VIP is bound into the mac');
  t.equal(verifyHello(key, { ...h, version: 99 }, nb), 'bad-version');
  t.equal(verifyHello(key, { ...h, app: 'http' }, nb), 'bad-mac', 'the app is bound into the mac');
  const w = welcome(key, np, nb);
  t.ok(verifyWelcome(key, w, np, nb));
  t.notOk(verifyWelcome(Buffer.from('x'), w, np, nb), 'a backup without the key is not trusted');
  const decoded = new FrameDecoder().push(encode(h)).messages[0];
  t.same(decoded, h);
  const unicode = hello(key, 1, nb, np, 'köln-α');
  t.same(new FrameDecoder().push(encode(unicode)).messages[0], unicode, 'a UTF-8 app name round-trips');
});

t.test('HELLO: an older primary\'s (no app name) decodes and is refused as bad-version; an app name too long is malformed', async (t) => {
  const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const nb = newNonce();
  const h = hello(key, 0xc0000264, nb, newNonce(), '');
  // Version 2's HELLO: the same fields, no app name after the MAC.
  const v2 = encode(h);
  v2.writeUInt16BE(2, 5);
  const old = new FrameDecoder().push(v2).messages[0];
  t.ok(old && old.type === MsgType.Hello);
  t.equal(verifyHello(key, old as typeof h, nb), 'bad-version');
  const long = new FrameDecoder().push(encode({ ...h, app: 'x'.repeat(256) }));
  t.equal(long.messages.length, 0);
  t.equal(long.error?.reason, 'hello-app-too-long');
  t.equal(new FrameDecoder().push(encode({ ...h, app: 'x'.repeat(255) })).messages.length, 1, '255 bytes is the limit');
  const short = new FrameDecoder().push(encode(h).subarray(0, 5 + 2 + 4 + 16));
  t.same(short.messages, [], 'a frame cut short is still waiting, not a message');
});
