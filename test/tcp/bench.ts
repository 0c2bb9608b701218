// Engine throughput benchmark (prints figures; not a test): a bulk transfer between
// two engines in memory, no loss, 1 ms one-way delay on a virtual clock. Wall-clock
// time is what the engines cost.  Run: npx tsx test/tcp/bench.ts [MB] [gso]
import { TcpStack } from '../../shared/tcp/stack.js';
import { Endpoint, Sim } from './sim.js';
import { payloadOf, seeded } from './harness.js';

const mb = Number(process.argv[2] ?? 64);
const gso = process.argv[3] !== 'nogso';
const server = new TcpStack({ random: seeded(1), gsoMaxBytes: gso ? 65536 : 0, rcvBuf: 4 << 20, sndBuf: 4 << 20 });
const client = new TcpStack({ random: seeded(2), rcvBuf: 4 << 20, sndBuf: 4 << 20 });
const sim = new Sim(server, client, { loss: 0, dup: 0, delay: 1, jitter: 0, seed: 1 });
const data = payloadOf(mb * 1024 * 1024);
server.listen(80).onConnection = (c) => {
  c.setNoDelay(true);
  new Endpoint(c, data, seeded(3), 1 << 20);
};
const cc = client.connect({ localAddr: 2, localPort: 5555, remoteAddr: 1, remotePort: 80 }, 0);
let got = 0;
cc.handler = {
  readable() {
    for (let b = cc.recv(); b !== undefined; b = cc.recv()) got += b.length;
  },
  writable() {},
  end() {},
  closed() {},
};
const t0 = process.hrtime.bigint();
sim.run(() => got >= data.length, 1e9);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(JSON.stringify({
  mb, gso, wallMs: Math.round(ms), mbPerSec: Math.round((mb / ms) * 1000),
  virtualMs: Math.round(sim.now), segsServerOut: server.stats.segsOut, segsClientOut: client.stats.segsOut,
  delivered: sim.delivered,
}));
