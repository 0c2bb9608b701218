import t from 'tap';
import { buildTcpFrames, sliceSegment, type FrameContext } from '../../primary/frames.js';
import { ACK, CWR, FIN, PSH, SYN, type TcpSegment } from '../../shared/tcp/segment.js';
import { parseTcp } from '../../shared/wire/tcp.js';
import { ParseError } from '../../shared/wire/result.js';
import { verifyTcpChecksum } from '../../shared/wire/checksum.js';

function seg(len: number, flags: number, extra: Partial<TcpSegment> = {}): TcpSegment {
  return { srcPort: 1, dstPort: 2, seq: 0xfffffff0, ack: 9, flags, window: 1, options: {}, payload: Buffer.alloc(len, 7), ...extra };
}

function ctx(mtu = 1500): FrameContext {
  let id = 0;
  return {
    srcMac: Buffer.alloc(6, 1), caps: { gso: false, csumOffload: false }, mtu,
    nextIpId: (n) => { const r = id; id += n; return r; },
  };
}

t.test('slices: SYN and CWR stay on the first piece, FIN and PSH on the last, seq skips the SYN', async (t) => {
  const s = seg(10, SYN | ACK | CWR | PSH | FIN);
  const a = sliceSegment(s, 0, 4);
  const b = sliceSegment(s, 4, 6);
  t.equal(a.flags, SYN | ACK | CWR);
  t.equal(a.seq, 0xfffffff0);
  t.equal(b.flags, ACK | PSH | FIN);
  t.equal(b.seq, (0xfffffff0 + 1 + 4) >>> 0);
  t.equal(b.payload.buffer, s.payload.buffer, 'a view, not a copy');
  t.equal('gsoSize' in b, false);
});

t.test('a payload over the MTU without gsoSize is still cut to fit the MTU', async (t) => {
  const frames = buildTcpFrames({ src: 1, dst: 2, seg: seg(3000, ACK) }, ctx(1000));
  t.equal(frames.length, 4);
  for (const f of frames) {
    const parts = f.frame.data as readonly Buffer[];
    const ipLen = parts[0]!.length - 14 + parts[1]!.length;
    t.ok(ipLen <= 1000);
  }
});

t.test('a gsoSize larger than the MTU allows is clamped to the MTU', async (t) => {
  const frames = buildTcpFrames({ src: 1, dst: 2, seg: seg(3000, ACK, { gsoSize: 9000 }) }, ctx(1500));
  t.equal(frames.length, 3);
});

t.test('IP IDs advance by the number of wire segments', async (t) => {
  const c = ctx();
  const frames = buildTcpFrames({ src: 1, dst: 2, seg: seg(3000, ACK, { gsoSize: 1000 }) }, c);
  t.same(frames.map((f) => f.header.readUInt16BE(14 + 4)), [0, 1, 2]);
});

t.test('every piece carries a valid checksum and parses back', async (t) => {
  const frames = buildTcpFrames({ src: 0x01020304, dst: 0x05060708, seg: seg(2500, ACK | FIN, { gsoSize: 1000 }) }, ctx());
  for (const f of frames) {
    const b = Buffer.concat(f.frame.data as readonly Buffer[]);
    t.ok(verifyTcpChecksum(0x01020304, 0x05060708, b.subarray(34)));
    t.notOk(parseTcp(b.subarray(34)) instanceof ParseError);
  }
});
