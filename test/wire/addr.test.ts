import t from 'tap';
import fc from 'fast-check';
import { ipv4ToU32, isBroadcastMac, isMulticastMac, macFromString, macToString, toIpv4U32, u32ToIpv4 } from '../../shared/wire/addr.js';

t.test('IPv4 string <-> u32', async (t) => {
  t.equal(ipv4ToU32('192.0.2.100'), 0xc0000264);
  t.equal(ipv4ToU32('255.255.255.255'), 0xffffffff);
  t.equal(u32ToIpv4(0xc0000264), '192.0.2.100');
  t.equal(toIpv4U32(0xc0000264), 0xc0000264);
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (n) => ipv4ToU32(u32ToIpv4(n)) === n));
});

t.test('bad IPv4 addresses throw ERR_INTACT_BAD_ADDRESS', async (t) => {
  for (const s of ['1.2.3', '256.1.1.1', 'a.b.c.d', '1.2.3.4 ']) {
    t.throws(() => ipv4ToU32(s), { code: 'ERR_INTACT_BAD_ADDRESS' });
  }
  t.throws(() => toIpv4U32(-1));
});

t.test('MAC string <-> Buffer', async (t) => {
  const m = macFromString('02:AB:cd:00:00:ff');
  t.equal(m.toString('hex'), '02abcd0000ff');
  t.equal(macToString(m), '02:ab:cd:00:00:ff');
  t.throws(() => macFromString('02:ab:cd:00:00'));
  t.ok(isBroadcastMac(macFromString('ff:ff:ff:ff:ff:ff')));
  t.ok(isMulticastMac(macFromString('33:33:00:00:00:16')));
  t.notOk(isMulticastMac(m));
});
