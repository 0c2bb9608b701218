// The host on a real wire: VipHost over the native AF_PACKET link in one namespace, a
// Linux kernel as the client in another, joined by veth. The kernel is the judge of
// our ARP, ICMP and TCP bytes: full checksums, partial (offloaded) ones, GSO frames,
// and the client's own 'partial' and software-checksummed frames coming in.
// The "stack" is a script: SYN -> SYN-ACK, handshake ACK -> a block of data and FIN.
import t, { type Test } from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

import { openLink } from '../../native/index.js';
import { rootOnly } from '../helpers/root.js';
import { makeVethPair, haveCommand } from '../../native/veth.js';
import { VipHost, type HostStack } from '../../primary/host.js';
import { ACK, FIN, PSH, SYN, type Datagram } from '../../shared/tcp/segment.js';
import { ipv4ToU32 } from '../../shared/wire/addr.js';

const run = promisify(execFile);
const VIP = '192.0.2.100';
const CLIENT = '192.0.2.10';
const ISS = 0xfffff000; // crosses the 2^32 wrap inside the data

/** Answers one connection: SYN-ACK, then `data` with FIN once the handshake completes. */
class ScriptStack implements HostStack {
  readonly out: Datagram[] = [];
  readonly seen: number[] = [];
  #sentData = false;
  constructor(readonly data: Buffer, readonly gsoSize: number | undefined) {}

  input(d: Datagram): void {
    const s = d.seg;
    this.seen.push(s.flags);
    const reply = (flags: number, seq: number, payload: Buffer = Buffer.alloc(0), gsoSize?: number): void => {
      this.out.push({
        src: d.dst,
        dst: d.src,
        seg: { srcPort: s.dstPort, dstPort: s.srcPort, seq: seq >>> 0, ack: (s.seq + (s.flags & SYN ? 1 : 0)) >>> 0, flags, window: 65535, options: flags & SYN ? { mss: 1460 } : {}, payload, ...(gsoSize ? { gsoSize } : {}) },
      });
    };
    if (s.flags & SYN) return reply(SYN | ACK, ISS);
    if (!this.#sentData && s.flags & ACK && s.ack === ((ISS + 1) >>> 0)) {
      this.#sentData = true;
      reply(ACK | PSH | FIN, ISS + 1, this.data, this.gsoSize);
    }
  }

  poll(): Datagram[] {
    return this.out.splice(0);
  }

  pollAt(): number | undefined {
    return undefined;
  }
}

async function setup(t: Test, o: { gso: boolean; clientTxCsum: boolean; data?: Buffer; gsoSize?: number }) {
  const pair = makeVethPair({ addresses: false });
  t.teardown(pair.cleanup);
  execFileSync('ip', ['-n', pair.nsA, 'addr', 'add', `${CLIENT}/24`, 'dev', pair.ifA]);
  if (!o.clientTxCsum) execFileSync('ip', ['netns', 'exec', pair.nsA, 'ethtool', '-K', pair.ifA, 'tx', 'off'], { stdio: 'ignore' });
  const link = openLink(pair.ifB, { netns: pair.nsB, gso: o.gso });
  t.teardown(() => link.close());
  const stack = new ScriptStack(o.data ?? Buffer.alloc(0), o.gsoSize);
  const host = new VipHost({ link, vip: VIP, stack });
  host.start();
  t.teardown(() => host.close());
  return { pair, link, host, stack };
}

const clientScript = (n: number) => `
const s = require('net').connect(8080, '${VIP}');
const h = require('crypto').createHash('sha256'); let n = 0;
s.on('data', (d) => { h.update(d); n += d.length; });
s.on('end', () => { console.log(n + ' ' + h.digest('hex')); process.exit(0); });
s.on('error', (e) => { console.log('error ' + e.code); process.exit(1); });
setTimeout(() => { console.log('timeout ' + n); process.exit(2); }, 8000).unref();
void ${n};`;

t.test('a kernel client pings the VIP: ARP and ICMP echo answered', rootOnly(), async (t) => {
  const { pair, host } = await setup(t, { gso: true, clientTxCsum: true });
  const { stdout } = await run('ip', ['netns', 'exec', pair.nsA, 'ping', '-c', '2', '-i', '0.2', '-W', '2', VIP]);
  t.match(stdout, /2 received/);
  t.ok(host.stats.arpReplies >= 1);
  t.equal(host.stats.icmpEchoes, 2);
  t.ok(host.neighbors.lookup(ipv4ToU32(CLIENT)));
});

for (const gso of [true, false]) {
  for (const clientTxCsum of [true, false]) {
    if (!clientTxCsum && !haveCommand('ethtool')) continue;
    const name = `TCP to a kernel client: link ${gso ? 'with GSO + checksum offload' : 'without offloads'}, client checksums ${clientTxCsum ? 'offloaded (partial)' : 'in software'}`;
    t.test(name, rootOnly(), async (t) => {
      const data = randomBytes(50000);
      const { pair, host, stack } = await setup(t, { gso, clientTxCsum, data, gsoSize: 1448 });
      const { stdout } = await run('ip', ['netns', 'exec', pair.nsA, process.execPath, '-e', clientScript(data.length)], { timeout: 15000 });
      t.equal(stdout.trim(), `${data.length} ${createHash('sha256').update(data).digest('hex')}`, 'every byte arrived intact');
      t.ok(stack.seen.length >= 2, 'SYN and ACK reached the stack');
      t.equal(host.stats.drops['bad-checksum'], undefined, 'no client frame failed its checksum');
      t.equal(host.stats.txTcp, 1 + Math.ceil(data.length / 1448), 'SYN-ACK plus MSS-sized pieces');
      t.equal(host.stats.txRefused, 0);
    });
  }
}
