// Memory: 10,000 idle established connections (each with a little data received and
// consumed) must fit in 16 KiB of process memory each. Nothing is preallocated per
// connection; queues are lists of chunks allocated on demand.
import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { TcpStack } from '../../shared/tcp/stack.js';
import { ACK, PSH, SYN } from '../../shared/tcp/segment.js';
import { seeded } from './harness.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

t.test('10,000 idle connections fit in 16 KiB each', async (t) => {
  const N = 10_000;
  const s = new TcpStack({ random: seeded(5) });
  s.listen(80).onConnection = (c) => {
    c.handler = { readable: () => void c.recv(), writable() {}, end() {}, closed() {} };
  };
  gc();
  const before = process.memoryUsage();
  const EMPTY = Buffer.alloc(0);
  for (let i = 0; i < N; i++) {
    const src = 0x0a000000 + (i >> 10);
    const port = 1024 + (i & 1023);
    const base = { srcPort: port, dstPort: 80, window: 65535 };
    s.input({ src, dst: 1, seg: { ...base, seq: 1000, ack: 0, flags: SYN, options: { mss: 1460, wscale: 7, sackPermitted: true, ts: { val: 1, ecr: 0 } }, payload: EMPTY } }, 0);
    const sa = s.poll(0)[0]!.seg;
    const ts = { val: 2, ecr: sa.options.ts!.val };
    s.input({ src, dst: 1, seg: { ...base, seq: 1001, ack: sa.seq + 1, flags: ACK, options: { ts }, payload: EMPTY } }, 1);
    s.input({ src, dst: 1, seg: { ...base, seq: 1001, ack: sa.seq + 1, flags: ACK | PSH, options: { ts }, payload: Buffer.alloc(100, 1) } }, 2);
    s.poll(50);
  }
  s.poll(100);
  gc();
  const after = process.memoryUsage();
  t.equal(s.connectionCount, N);
  const perConn = (after.rss - before.rss) / N;
  const heapPerConn = (after.heapUsed - before.heapUsed) / N;
  t.comment(`per connection: ${heapPerConn.toFixed(0)} B of JS heap, ${perConn.toFixed(0)} B of RSS`);
  t.ok(heapPerConn <= 16384, `JS heap per connection ${heapPerConn.toFixed(0)} B <= 16 KiB`);
  t.ok(perConn <= 16384, `RSS per connection ${perConn.toFixed(0)} B <= 16 KiB`);
  t.equal(s.pollAt(), undefined, 'idle connections need no timer');
});
