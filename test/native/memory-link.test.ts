// The in-memory Link pair that everything above native/ is tested on.
import t from 'tap';

import type { Link, RxFrame } from '../../shared/link.js';
import { memoryLinkPair } from '../../shared/memory-link.js';

function frame(seq: number, len = 60): Buffer {
  const f = Buffer.alloc(len);
  f.writeUInt16BE(0x88b5, 12);
  f.writeUInt32BE(seq, 14);
  return f;
}

function nextBatch(link: Link): Promise<readonly RxFrame[]> {
  return new Promise((resolve) => link.onFrames(resolve));
}

t.test('frames travel both ways, as sent', async (t) => {
  const [a, b] = memoryLinkPair();
  const atB = nextBatch(b);
  t.equal(a.send([{ data: frame(1) }]), 1);
  t.same((await atB).map((f) => f.data), [frame(1)]);
  const atA = nextBatch(a);
  b.send([{ data: [frame(2).subarray(0, 14), frame(2).subarray(14)] }]);
  const got = await atA;
  t.same(got.map((f) => f.data), [frame(2)], 'pieces arrive joined');
  t.equal(got[0]!.csum, 'unknown');
  t.equal(got[0]!.gso, false);
  t.same(a.caps, { gso: false, csumOffload: false });
});

t.test('delivery is asynchronous and batched per turn', async (t) => {
  const [a, b] = memoryLinkPair();
  const batches: number[] = [];
  b.onFrames((fs) => batches.push(fs.length));
  a.send([{ data: frame(1) }, { data: frame(2) }]);
  a.send([{ data: frame(3) }]);
  t.same(batches, [], 'nothing delivered inside send()');
  await new Promise((r) => setImmediate(r));
  t.same(batches, [3]);
});

t.test('the sender may reuse its buffer at once', async (t) => {
  const [a, b] = memoryLinkPair();
  const buf = frame(7);
  const atB = nextBatch(b);
  a.send([{ data: buf }]);
  buf.fill(0);
  t.equal((await atB)[0]!.data.readUInt32BE(14), 7);
});

t.test('frames sent before a handler exists wait for it', async (t) => {
  const [a, b] = memoryLinkPair();
  a.send([{ data: frame(1) }]);
  await new Promise((r) => setImmediate(r));
  t.equal((await nextBatch(b)).length, 1);
});

t.test('drop and inspect hooks see each frame with its direction', async (t) => {
  const seen: string[] = [];
  const [a, b] = memoryLinkPair({
    inspect: (f, dir) => seen.push(`${dir}:${f.readUInt32BE(14)}`),
    drop: (f) => f.readUInt32BE(14) % 2 === 0,
  });
  const atB = nextBatch(b);
  a.send([1, 2, 3, 4].map((i) => ({ data: frame(i) })));
  t.same((await atB).map((f) => f.data.readUInt32BE(14)), [1, 3]);
  const atA = nextBatch(a);
  b.send([{ data: frame(5) }]);
  await atA;
  t.same(seen, ['ab:1', 'ab:2', 'ab:3', 'ab:4', 'ba:5']);
  t.equal(a.stats().txFrames, 4, 'dropped frames were still sent');
  t.equal(b.stats().rxFrames, 2);
});

t.test('oversized frames are refused and counted, offloads are rejected', async (t) => {
  const [a] = memoryLinkPair({ mtu: 1500 });
  t.equal(a.send([{ data: frame(1, 1515) }]), 1);
  t.equal(a.stats().txErrors, 1);
  t.equal(a.stats().txFrames, 0);
  t.throws(() => a.send([{ data: frame(1), gsoSize: 1448 }]), { code: 'ERR_INTACT_BAD_FRAME' });
  t.throws(() => a.send([{ data: frame(1), csumOffload: true }]), { code: 'ERR_INTACT_BAD_FRAME' });
});

t.test('a closed link refuses to send; its peer goes quiet', async (t) => {
  const [a, b] = memoryLinkPair();
  let got = 0;
  b.onFrames((fs) => (got += fs.length));
  b.close();
  b.close();
  t.equal(a.send([{ data: frame(1) }]), 1, 'sending into a closed peer is like a cut wire');
  await new Promise((r) => setImmediate(r));
  t.equal(got, 0);
  t.throws(() => b.send([{ data: frame(1) }]), { code: 'ERR_INTACT_LINK_CLOSED' });
  t.throws(() => b.onFrames(() => {}), { code: 'ERR_INTACT_LINK_CLOSED' });
});

t.test('names, MACs and MTU are as configured', async (t) => {
  const [a, b] = memoryLinkPair({ names: ['p0', 'b0'], mtu: 9000 });
  t.equal(a.name, 'p0');
  t.equal(b.name, 'b0');
  t.equal(a.mtu, 9000);
  t.equal(a.mac.length, 6);
  t.not(a.mac.toString('hex'), b.mac.toString('hex'));
});

t.test('discardPending drops what waits for a handler, and counts it', async (t) => {
  const [a, b] = memoryLinkPair();
  b.send([{ data: Buffer.alloc(60) }, { data: Buffer.alloc(60) }]);
  t.equal(a.discardPending(), 2);
  const got: number[] = [];
  a.onFrames((fs) => got.push(fs.length));
  b.send([{ data: Buffer.alloc(60) }]);
  await new Promise((r) => setImmediate(r));
  t.same(got, [1], 'only the frame sent after the discard');
});
