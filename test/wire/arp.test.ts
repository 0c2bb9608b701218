import t from 'tap';
import fc from 'fast-check';
import { ARP_REPLY as OP_REPLY, ARP_REQUEST as OP_REQUEST, arpReplyFrame, arpRequestFrame, gratuitousArpFrame, isGratuitous, parseArp } from '../../shared/wire/arp.js';
import { parseEthernet, ETHERTYPE_ARP } from '../../shared/wire/ethernet.js';
import { ParseError } from '../../shared/wire/result.js';
import { macFromString } from '../../shared/wire/addr.js';
import { ARP_REPLY, ARP_REQUEST, CLIENT_IP, CLIENT_MAC, SERVER_IP, SERVER_MAC } from './captures.js';

function arpOf(frame: Buffer) {
  const eth = parseEthernet(frame);
  if (eth instanceof ParseError) throw new Error(eth.reason);
  const p = parseArp(eth.payload);
  if (p instanceof ParseError) throw new Error(p.reason);
  return { eth, p };
}

t.test('parses a captured Linux who-has', async (t) => {
  const { eth, p } = arpOf(ARP_REQUEST);
  t.equal(eth.ethertype, ETHERTYPE_ARP);
  t.equal(p.op, OP_REQUEST);
  t.ok(p.sha.equals(CLIENT_MAC));
  t.equal(p.spa, CLIENT_IP);
  t.equal(p.tpa, SERVER_IP);
  t.notOk(isGratuitous(p));
});

t.test('our reply to that request is byte-identical to the reply Linux sent', async (t) => {
  const { p } = arpOf(ARP_REQUEST);
  t.equal(arpReplyFrame(SERVER_MAC, SERVER_IP, p).toString('hex'), ARP_REPLY.toString('hex'));
  t.equal(arpOf(ARP_REPLY).p.op, OP_REPLY);
});

t.test('our who-has is byte-identical to the request Linux sent', async (t) => {
  t.equal(arpRequestFrame(CLIENT_MAC, CLIENT_IP, SERVER_IP).toString('hex'), ARP_REQUEST.toString('hex'));
});

t.test('gratuitous ARP request bytes are exact', async (t) => {
  const mac = macFromString('02:00:00:00:00:02');
  const f = gratuitousArpFrame(mac, 0xc0000264);
  t.equal(
    f.toString('hex'),
    'ffffffffffff' + '020000000002' + '0806' + // broadcast, from us, ARP
      '0001' + '0800' + '06' + '04' + '0001' + // Ethernet/IPv4, request
      '020000000002' + 'c0000264' + // sender: us, the VIP
      '000000000000' + 'c0000264', // target MAC zero, target IP = the VIP
  );
  t.ok(isGratuitous(arpOf(f).p));
});

t.test('non-Ethernet/IPv4 ARP, unknown ops and short packets are refused', async (t) => {
  const bad = Buffer.from(ARP_REQUEST.subarray(14));
  bad.writeUInt16BE(6, 0);
  t.equal((parseArp(bad) as ParseError).reason, 'bad-arp');
  const op = Buffer.from(ARP_REQUEST.subarray(14));
  op.writeUInt16BE(3, 6);
  t.equal((parseArp(op) as ParseError).reason, 'bad-arp');
  t.equal((parseArp(ARP_REQUEST.subarray(14, 40)) as ParseError).reason, 'bad-arp');
});

t.test('random bytes never throw', async () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => { parseArp(Buffer.from(b)); }), { numRuns: 5000 });
});
