import t from 'tap';
import fc from 'fast-check';
import { Encoder, FrameDecoder, DecodeError, encode, decodeBody } from '../../shared/replication/codec.js';
import { MsgType, MAX_FRAME, type Message } from '../../shared/replication/messages.js';
import { challenge, hello, welcome, verifyHello, verifyWelcome, newNonce } from '../../shared/replication/auth.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant(MsgType.Open as const), conn: u32, localAddr: u32, localPort: u16, remoteAddr: u32, remotePort: u16, iss: u32, irs: u32, mss: u16, sndWndShift: fc.integer({ min: 0, max: 14 }), rcvWndShift: fc.integer({ min: 0, max: 14 }), sackOk: fc.boolean(), tsOk: fc.boolean(), tsRecent: u32, tsLast: u32, sndWnd: u32 }),
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
  const open = encode({ type: MsgType.Open, conn: 1, localAddr: 1, localPort: 1, remoteAddr: 2, remotePort: 2, iss: 1, irs: 2, mss: 1460, sndWndShift: 7, rcvWndShift: 7, sackOk: true, tsOk: true, tsRecent: 0, tsLast: 0, sndWnd: 0 });
  const bad = Buffer.from(open);
  bad[5 + 26] = 15;
  t.equal(new FrameDecoder().push(bad).error?.reason, 'bad-window-shift');
  const cp = encode({ type: MsgType.Checkpoint, conn: 1, consumed: 0, produced: 0, state: Buffer.alloc(0) });
  cp.writeUInt32BE(0xffffffff, 5 + 4);
  t.equal(new FrameDecoder().push(cp).error?.reason, 'u53-overflow');
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
  const h = hello(key, 0xc0000264, nb, np);
  t.equal(challenge(nb).nonce, nb);
  t.equal(verifyHello(key, h, nb), 'ok');
  t.equal(verifyHello(Buffer.from('wrong key'), h, nb), 'bad-mac', 'a peer without the key is refused');
  t.equal(verifyHello(key, h, newNonce()), 'bad-mac', 'a replayed hello (other challenge) is refused');
  t.equal(verifyHello(key, { ...h, vip: 1 }, nb), 'bad-mac', 'the VIP is bound into the mac');
  t.equal(verifyHello(key, { ...h, version: 99 }, nb), 'bad-version');
  const w = welcome(key, np, nb);
  t.ok(verifyWelcome(key, w, np, nb));
  t.notOk(verifyWelcome(Buffer.from('x'), w, np, nb), 'a backup without the key is not trusted');
  const decoded = new FrameDecoder().push(encode(h)).messages[0];
  t.same(decoded, h);
});
