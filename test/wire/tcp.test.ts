import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import type { Test } from 'tap';
import { emitTcp, parseTcp, tcpHeaderLen } from '../../shared/wire/tcp.js';
import { ParseError } from '../../shared/wire/result.js';
import { ACK as ACK_FLAG, FIN, PSH, SYN as SYN_FLAG, URG, type TcpSegment } from '../../shared/tcp/segment.js';
import { ACK, DATA_HELLO, FIN_ACK, SYN, SYN_ACK } from './captures.js';

function tcpOf(frame: Buffer): Buffer {
  return frame.subarray(34);
}

function ok(t: Test, v: TcpSegment | ParseError): TcpSegment {
  if (v instanceof ParseError) {
    t.fail(`parse error ${v.reason} ${v.detail ?? ''}`);
    throw new Error('unreachable');
  }
  return v;
}

t.test('parses a real Linux SYN with every option', async (t) => {
  const s = ok(t, parseTcp(tcpOf(SYN)));
  t.equal(s.srcPort, 0xde16);
  t.equal(s.dstPort, 8080);
  t.equal(s.seq, 0x4ea5ee4d);
  t.equal(s.flags, SYN_FLAG);
  t.equal(s.window, 0xfaf0);
  t.same(s.options, { mss: 1460, sackPermitted: true, ts: { val: 0x440c7516, ecr: 0 }, wscale: 10 });
  t.equal(s.payload.length, 0);
});

t.test('parses established segments: timestamps, payload as a view', async (t) => {
  const a = ok(t, parseTcp(tcpOf(ACK)));
  t.equal(a.flags, ACK_FLAG);
  t.same(a.options, { ts: { val: 0x440c7517, ecr: 0xdb701e90 } });
  const d = ok(t, parseTcp(tcpOf(DATA_HELLO)));
  t.equal(d.flags, PSH | ACK_FLAG);
  t.equal(d.payload.toString(), 'hello');
  t.equal(d.payload.buffer, DATA_HELLO.buffer, 'not copied');
  t.equal(ok(t, parseTcp(tcpOf(FIN_ACK))).flags, FIN | ACK_FLAG);
});

t.test('emit reproduces the captured Linux headers byte for byte (checksum aside)', async (t) => {
  for (const f of [SYN, SYN_ACK, ACK, DATA_HELLO, FIN_ACK]) {
    const tcp = tcpOf(f);
    const s = ok(t, parseTcp(tcp));
    const hl = tcpHeaderLen(s);
    t.equal(hl, (tcp[12]! >> 4) * 4);
    const out = Buffer.alloc(hl);
    t.equal(emitTcp(s, out), hl);
    const want = Buffer.from(tcp.subarray(0, hl));
    want.writeUInt16BE(0, 16);
    t.same(out.toString('hex'), want.toString('hex'));
  }
});

t.test('SACK blocks, with timestamps: NOP NOP TS NOP NOP SACK', async (t) => {
  const seg: TcpSegment = {
    srcPort: 1, dstPort: 2, seq: 0xfffffff0, ack: 5, flags: ACK_FLAG, window: 100,
    options: { ts: { val: 1, ecr: 2 }, sack: [[10, 20], [30, 40], [50, 60]] },
    payload: Buffer.alloc(0),
  };
  const out = Buffer.alloc(tcpHeaderLen(seg));
  emitTcp(seg, out);
  t.equal(out.length, 60);
  t.equal(out.subarray(20, 24).toString('hex'), '0101080a');
  t.equal(out.subarray(32, 36).toString('hex'), '0101051a');
  t.same(ok(t, parseTcp(out)).options, seg.options);
});

t.test('SACK blocks beyond the option space are left out', async (t) => {
  const seg: TcpSegment = {
    srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: ACK_FLAG, window: 0,
    options: { ts: { val: 1, ecr: 2 }, sack: [[1, 2], [3, 4], [5, 6], [7, 8]] },
    payload: Buffer.alloc(0),
  };
  const out = Buffer.alloc(tcpHeaderLen(seg));
  emitTcp(seg, out);
  t.same(ok(t, parseTcp(out)).options.sack, [[1, 2], [3, 4], [5, 6]]);
});

t.test('urgent pointer travels when URG is set', async (t) => {
  const seg: TcpSegment = { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: URG | ACK_FLAG, window: 0, urgent: 7, options: {}, payload: Buffer.alloc(0) };
  const out = Buffer.alloc(20);
  emitTcp(seg, out);
  t.equal(ok(t, parseTcp(out)).urgent, 7);
});

function header(opts: number[], doff?: number): Buffer {
  const len = 20 + opts.length;
  const b = Buffer.alloc(len);
  b[12] = ((doff ?? len / 4) << 4);
  b.set(opts, 20);
  return b;
}

t.test('hostile headers are parse errors with a reason, never throws', async (t) => {
  const cases: [string, Buffer, string][] = [
    ['short', Buffer.alloc(19), 'short-tcp'],
    ['data offset < 5', header([], 4), 'bad-data-offset'],
    ['data offset past the segment', header([], 6), 'bad-data-offset'],
    ['option length 0', header([2, 0, 0, 0]), 'bad-option'],
    ['option length 1', header([8, 1, 0, 0]), 'bad-option'],
    ['option runs past the header', header([1, 1, 8, 10]), 'bad-option'],
    ['kind without length byte', header([1, 1, 1, 5]), 'bad-option'],
  ];
  for (const [name, b, reason] of cases) {
    const r = parseTcp(b);
    t.ok(r instanceof ParseError, name);
    if (r instanceof ParseError) t.equal(r.reason, reason, name);
  }
});

t.test('unknown options and known ones of the wrong length are skipped', async (t) => {
  // kind 30 (MPTCP) length 4; MSS with length 3 (+pad); EOL ends the list early.
  const s = ok(t, parseTcp(header([30, 4, 0, 0, 2, 3, 0, 1, 3, 3, 7, 0, 0, 0xff, 0xff, 0xff])));
  t.same(s.options, { wscale: 7 });
});

t.test('random bytes never throw', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      parseTcp(Buffer.from(bytes));
    }),
    { numRuns: 20000 },
  );
});

t.test('random option bytes after a valid fixed header never throw', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }).filter((o) => o.length % 4 === 0), fc.uint8Array({ maxLength: 20 }), (opts, payload) => {
      const b = Buffer.concat([header([...opts]), payload]);
      parseTcp(b);
    }),
    { numRuns: 20000 },
  );
});

const u32 = fc.nat({ max: 0xffffffff });
const arbSegment: fc.Arbitrary<TcpSegment> = fc.record({
  srcPort: fc.nat({ max: 0xffff }),
  dstPort: fc.nat({ max: 0xffff }),
  seq: u32,
  ack: u32,
  flags: fc.nat({ max: 0xff }).map((f) => f & ~URG),
  window: fc.nat({ max: 0xffff }),
  options: fc.record(
    {
      mss: fc.nat({ max: 0xffff }),
      wscale: fc.nat({ max: 14 }),
      sackPermitted: fc.constant(true),
      sack: fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 2 }),
      ts: fc.record({ val: u32, ecr: u32 }).map((ts) => ({ ...ts })),
    },
    { requiredKeys: [] },
  ).map((o) => ({ ...o })),
  payload: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
});

t.test('random valid segments round-trip through emit and parse', async () => {
  fc.assert(
    fc.property(arbSegment, (seg) => {
      const hl = tcpHeaderLen(seg);
      const hdr = Buffer.alloc(hl);
      emitTcp(seg, hdr);
      const back = parseTcp(Buffer.concat([hdr, seg.payload]));
      if (back instanceof ParseError) return false;
      const { payload, ...rest } = back;
      const { payload: p0, ...want } = seg;
      return isDeepStrictEqual(rest, want) && payload.equals(p0);
    }),
    { numRuns: 5000 },
  );
});
