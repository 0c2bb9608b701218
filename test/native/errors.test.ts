// Failure paths of the addon: clean coded errors, a surviving process, no leaked fds.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import t from 'tap';

import { isIntactError } from '../../shared/errors.js';
import { arpOrIpv4To } from '../../native/bpf.js';
import { interfaceInfo, openLink } from '../../native/index.js';
import { rootOnly } from '../helpers/root.js';
import { makeVethPair } from '../../native/veth.js';
import { testFrame } from './util.js';

const nativeIndex = fileURLToPath(new URL('../../native/index.ts', import.meta.url));

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

t.test('bad interface names give ERR_INTACT_NO_SUCH_INTERFACE naming the interface', async (t) => {
  for (const name of ['nope0', '', 'x'.repeat(20), 'a/b', 'a\0b']) {
    for (const fn of [() => interfaceInfo(name), () => openLink(name)]) {
      try {
        fn();
        t.fail(`no error for '${name}'`);
      } catch (e) {
        t.ok(isIntactError(e, 'ERR_INTACT_NO_SUCH_INTERFACE'), `code for '${JSON.stringify(name)}'`);
        t.ok((e as Error).message.includes(`'${name.replace('\0', '\\x00')}'`), `message names it: ${(e as Error).message}`);
      }
    }
  }
});

t.test('an unknown namespace gives ERR_INTACT_NO_SUCH_NETNS', async (t) => {
  t.throws(() => interfaceInfo('lo', 'intact-no-such-ns-' + process.pid), { code: 'ERR_INTACT_NO_SUCH_NETNS' });
});

t.test('interfaceInfo reads index, MAC and MTU', async (t) => {
  const lo = interfaceInfo('lo');
  t.equal(lo.ifindex, 1);
  t.equal(lo.mtu, 65536);
  t.equal(lo.mac.length, 6);
  t.equal(lo.hwType, 772);
});

t.test('without CAP_NET_RAW: ERR_INTACT_NO_CAP_NET_RAW, and the process lives on', rootOnly(), async (t) => {
  // A child that drops root before opening; it prints the code it caught.
  const code = `
    const { openLink } = await import(${JSON.stringify(nativeIndex)});
    process.setgid(65534); process.setuid(65534);
    try { openLink('lo'); console.log('opened'); } catch (e) { console.log(e.code, e.name); }
    console.log('alive');`;
  // Without tap's own environment: its process-info hook (NODE_OPTIONS) would try to
  // write under .tap/ as nobody and print an EACCES stack into the test output.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !/^_?TAP/i.test(k)));
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    env: { ...env, INTACT_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.equal(out.trim(), 'ERR_INTACT_NO_CAP_NET_RAW IntactSyscallError\nalive');
});

t.test('close is idempotent; use after close is ERR_INTACT_LINK_CLOSED', rootOnly(), async (t) => {
  const pair = makeVethPair();
  t.teardown(pair.cleanup);
  const a = openLink(pair.ifA, { netns: pair.nsA });
  a.onFrames(() => {});
  a.close();
  a.close();
  t.throws(() => a.send([{ data: testFrame(a.mac, a.mac, 1) }]), { code: 'ERR_INTACT_LINK_CLOSED' });
  t.throws(() => a.onFrames(() => {}), { code: 'ERR_INTACT_LINK_CLOSED' });
  t.match(a.stats(), { txFrames: 0 }, 'stats survive close');
});

t.test('a program the kernel rejects is ERR_INTACT_SYSCALL with errno and syscall', rootOnly(), async (t) => {
  const pair = makeVethPair();
  t.teardown(pair.cleanup);
  const before = openFds();
  try {
    openLink(pair.ifA, { netns: pair.nsA, filter: [{ code: 0xffff, jt: 0, jf: 0, k: 0 }] });
    t.fail('accepted');
  } catch (e) {
    t.ok(isIntactError(e, 'ERR_INTACT_SYSCALL'));
    t.match(e, { errno: -22, syscall: 'setsockopt' });
  }
  t.equal(openFds(), before, 'no fd left open by the failed open');
});

t.test('offloads on a link opened without them are refused', rootOnly(), async (t) => {
  const pair = makeVethPair();
  t.teardown(pair.cleanup);
  const a = openLink(pair.ifA, { netns: pair.nsA, gso: false });
  t.teardown(() => a.close());
  t.same(a.caps, { gso: false, csumOffload: false });
  t.throws(() => a.send([{ data: testFrame(a.mac, a.mac, 1), gsoSize: 1448 }]), { code: 'ERR_INTACT_BAD_FRAME' });
});

t.test('opening and closing many links leaks no fd', rootOnly(), async (t) => {
  const pair = makeVethPair();
  t.teardown(pair.cleanup);
  const before = openFds();
  for (let i = 0; i < 50; i++) {
    const l = openLink(pair.ifA, { netns: pair.nsA, ringFrames: 31, filter: arpOrIpv4To('192.0.2.1') });
    if (i % 2 === 0) l.onFrames(() => {});
    l.close();
    t.throws(() => openLink('nope0', { netns: pair.nsA }));
  }
  t.equal(openFds(), before);
});

t.test('a link dropped without close is closed when collected', rootOnly(), async (t) => {
  const pair = makeVethPair();
  t.teardown(pair.cleanup);
  const code = `
    const { openLink } = await import(${JSON.stringify(nativeIndex)});
    const { readdirSync } = await import('node:fs');
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    (() => { for (let i = 0; i < 10; i++) openLink('va', { netns: ${JSON.stringify(pair.nsA)}, ringFrames: 31 }); })();
    const opened = fds();
    for (let i = 0; i < 10 && fds() > before; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
    console.log(opened - before, fds() - before);`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    env: { ...process.env, INTACT_LOG_LEVEL: 'silent' },
  });
  t.equal(out.trim(), '20 0', '10 links held 20 fds, all closed by the collector');
});

t.test('a throwing handler surfaces as uncaughtException and the link goes on', rootOnly(), async (t) => {
  const pair = makeVethPair();
  t.teardown(pair.cleanup);
  // More frames than ring slots after the throw: they only arrive if the slots of the
  // failed batch went back to the kernel.
  const code = `
    const { openLink } = await import(${JSON.stringify(nativeIndex)});
    let caught = 0;
    process.on('uncaughtException', () => caught++);
    const a = openLink('va', { netns: ${JSON.stringify(pair.nsA)}, ringFrames: 31 });
    const b = openLink('vb', { netns: ${JSON.stringify(pair.nsB)} });
    let n = 0;
    a.onFrames((fs) => { for (const f of fs) if (f.data.readUInt16BE(12) === 0x88b5 && ++n === 1) throw new Error('bug'); });
    const fr = Buffer.alloc(60); a.mac.copy(fr); fr.writeUInt16BE(0x88b5, 12);
    for (let i = 0; i < 100; i++) {
      b.send([{ data: fr }]);
      for (let spin = 0; spin < 1000 && n <= i; spin++) await new Promise((r) => setImmediate(r));
    }
    console.log(n, caught);
    a.close(); b.close();`;
  // Without tap's own environment: its process-info hook (NODE_OPTIONS) would try to
  // write under .tap/ as nobody and print an EACCES stack into the test output.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !/^_?TAP/i.test(k)));
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    env: { ...env, INTACT_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.equal(out.trim(), '100 1');
});
