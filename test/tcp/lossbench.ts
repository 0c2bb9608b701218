// Sending under random loss (prints figures; not a test): a bulk transfer from a GSO
// sender to a receiver over a link that drops whole emitted datagrams (as nftables in
// a bridge drops a whole GSO skb) and/or single segments, on a virtual clock.
// Goodput is bytes over virtual time.
// Run: npx tsx test/tcp/lossbench.ts [MB] [framePct] [segPct] [oneWayMs] [seeds]
import { TcpStack } from '../../shared/tcp/stack.js';
import { Endpoint, Sim } from './sim.js';
import { payloadOf, seeded } from './harness.js';

const mb = Number(process.argv[2] ?? 16);
const framePct = Number(process.argv[3] ?? 2);
const segPct = Number(process.argv[4] ?? 0);
const delay = Number(process.argv[5] ?? 0.1);
const seeds = Number(process.argv[6] ?? 3);
const data = payloadOf(mb * 1024 * 1024);

for (let seed = 1; seed <= seeds; seed++) {
  const server = new TcpStack({ random: seeded(seed * 10 + 1), gsoMaxBytes: 65536 });
  const client = new TcpStack({ random: seeded(seed * 10 + 2), rcvBuf: 6 << 20 });
  const sim = new Sim(server, client, {
    loss: segPct / 100, frameLoss: framePct / 100, dup: 0, delay, jitter: 0, seed,
  });
  server.listen(80).onConnection = (c) => {
    c.setNoDelay(true);
    new Endpoint(c, data, seeded(seed), 1 << 20);
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
  const ok = sim.run(() => got >= data.length, 3_600_000);
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const st = server.stats;
  console.log(JSON.stringify({
    seed, ok, mb, framePct, segPct, oneWayMs: delay, virtualMs: Math.round(sim.now),
    goodputMBps: +((got / 1e6) / (sim.now / 1000)).toFixed(2), wallMs: Math.round(wallMs),
    lost: sim.lost, rtoFires: st.rtoFires, fastRetransmits: st.fastRetransmits, retransSegs: st.retransSegs,
    segsOut: st.segsOut,
  }));
}
