import t from 'tap';
import fc from 'fast-check';
import { emitEthernet, ETHERTYPE_IPV4, parseEthernet } from '../../shared/wire/ethernet.js';
import { ParseError } from '../../shared/wire/result.js';
import { SYN, CLIENT_MAC, SERVER_MAC } from './captures.js';

t.test('parses a captured frame', async (t) => {
  const e = parseEthernet(SYN);
  if (e instanceof ParseError) return t.fail(e.reason);
  t.ok(e.dst.equals(SERVER_MAC));
  t.ok(e.src.equals(CLIENT_MAC));
  t.equal(e.ethertype, ETHERTYPE_IPV4);
  t.equal(e.payload.length, SYN.length - 14);
});

t.test('emit writes the same 14 bytes', async (t) => {
  const out = Buffer.alloc(14);
  emitEthernet(out, 0, SERVER_MAC, CLIENT_MAC, ETHERTYPE_IPV4);
  t.ok(out.equals(SYN.subarray(0, 14)));
});

t.test('short and VLAN-tagged frames are refused with a reason', async (t) => {
  t.equal((parseEthernet(Buffer.alloc(13)) as ParseError).reason, 'short-frame');
  for (const tpid of [0x8100, 0x88a8]) {
    const f = Buffer.from(SYN);
    f.writeUInt16BE(tpid, 12);
    t.equal((parseEthernet(f) as ParseError).reason, 'vlan');
  }
});

t.test('random bytes never throw', async () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => { parseEthernet(Buffer.from(b)); }));
});
