// The filter builder, run through a small classic-BPF interpreter (the kernel's
// semantics for the opcodes we emit), so the filter is checked without root.
import t from 'tap';

import { arpOrIpv4To, BpfAssembler, ipv4ToNumber } from '../../native/bpf.js';
import type { BpfInstruction } from '../../native/index.js';

/** Returns the snap length the program grants `pkt` (0 = drop). */
function run(prog: readonly BpfInstruction[], pkt: Buffer): number {
  let a = 0;
  let x = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc]!;
    const load = (off: number, size: number): number | undefined =>
      off + size > pkt.length ? undefined : size === 4 ? pkt.readUInt32BE(off) : size === 2 ? pkt.readUInt16BE(off) : pkt[off]!;
    switch (code) {
      case 0x20: case 0x28: case 0x30: { // ld{w,h,b} [k]
        const v = load(k, code === 0x20 ? 4 : code === 0x28 ? 2 : 1);
        if (v === undefined) return 0; // out of bounds: the kernel drops
        a = v;
        break;
      }
      case 0x48: { // ldh [x + k]
        const v = load(x + k, 2);
        if (v === undefined) return 0;
        a = v;
        break;
      }
      case 0xb1: { // ldxb 4*([k]&0xf)
        const v = load(k, 1);
        if (v === undefined) return 0;
        x = (v & 0xf) * 4;
        break;
      }
      case 0x15: pc += a === k ? jt : jf; break; // jeq #k
      case 0x45: pc += (a & k) !== 0 ? jt : jf; break; // jset #k
      case 0x06: return k; // ret #k
      default: throw new Error(`opcode ${code.toString(16)} not in the test interpreter`);
    }
  }
  throw new Error('fell off the end');
}

function eth(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(14);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, body]);
}

function ipv4(dst: string, proto: number, dport: number, opts: { ihl?: number; frag?: number } = {}): Buffer {
  const ihl = opts.ihl ?? 20;
  const ip = Buffer.alloc(ihl + 20);
  ip[0] = 0x40 | (ihl / 4);
  ip.writeUInt16BE(ip.length, 2);
  ip.writeUInt16BE(opts.frag ?? 0, 6);
  ip[9] = proto;
  ip.writeUInt32BE(ipv4ToNumber('192.0.2.10'), 12);
  ip.writeUInt32BE(ipv4ToNumber(dst), 16);
  ip.writeUInt16BE(5555, ihl);
  ip.writeUInt16BE(dport, ihl + 2);
  return eth(0x0800, ip);
}

const arp = eth(0x0806, Buffer.alloc(28));

t.test('ARP or IPv4 to the VIP', async (t) => {
  const prog = arpOrIpv4To('192.0.2.100');
  t.ok(run(prog, arp) >= 65549, 'ARP accepted whole');
  t.ok(run(prog, ipv4('192.0.2.100', 6, 80)) >= 65549, 'IPv4 to the VIP accepted whole');
  t.equal(run(prog, ipv4('192.0.2.101', 6, 80)), 0, 'other IPv4 dropped');
  t.equal(run(prog, eth(0x86dd, Buffer.alloc(40))), 0, 'IPv6 dropped');
  t.equal(run(prog, eth(0x0800, Buffer.alloc(10))), 0, 'runt IPv4 dropped');
});

t.test('with a port: TCP and UDP to that port only', async (t) => {
  const prog = arpOrIpv4To('192.0.2.100', { port: 8080 });
  t.ok(run(prog, arp) > 0, 'ARP still accepted');
  t.ok(run(prog, ipv4('192.0.2.100', 6, 8080)) > 0, 'TCP to the port');
  t.ok(run(prog, ipv4('192.0.2.100', 17, 8080)) > 0, 'UDP to the port');
  t.ok(run(prog, ipv4('192.0.2.100', 6, 8080, { ihl: 24 })) > 0, 'IP options move the port');
  t.equal(run(prog, ipv4('192.0.2.100', 6, 8081)), 0, 'other port');
  t.equal(run(prog, ipv4('192.0.2.100', 1, 8080)), 0, 'ICMP');
  t.equal(run(prog, ipv4('192.0.2.100', 6, 8080, { frag: 100 })), 0, 'non-first fragment');
  t.equal(run(prog, ipv4('192.0.2.1', 6, 8080)), 0, 'other address');
});

t.test('with a port and a protocol', async (t) => {
  const tcp = arpOrIpv4To('192.0.2.100', { port: 53, proto: 'tcp' });
  const udp = arpOrIpv4To('192.0.2.100', { port: 53, proto: 'udp' });
  t.ok(run(tcp, ipv4('192.0.2.100', 6, 53)) > 0);
  t.equal(run(tcp, ipv4('192.0.2.100', 17, 53)), 0);
  t.ok(run(udp, ipv4('192.0.2.100', 17, 53)) > 0);
  t.equal(run(udp, ipv4('192.0.2.100', 6, 53)), 0);
});

t.test('bad input is refused with a code', async (t) => {
  t.throws(() => arpOrIpv4To('192.0.2'), { code: 'ERR_INTACT_BAD_ADDRESS' });
  t.throws(() => arpOrIpv4To('192.0.2.256'), { code: 'ERR_INTACT_BAD_ADDRESS' });
  t.throws(() => arpOrIpv4To('192.0.2.1', { port: 70000 }), { code: 'ERR_INTACT_BPF' });
  t.throws(() => new BpfAssembler().jeq(1, 'nowhere', 0).ret(0).build(), { code: 'ERR_INTACT_BPF' });
});
