import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig, replayWindow, type ConfigInput } from '../../shared/config.js';
import { isIntactError } from '../../shared/errors.js';

const KEY = '00112233445566778899aabbccddeeff';

function valid(): ConfigInput {
  return {
    vip: '192.0.2.100',
    primary: { serviceInterface: 'svc0', serviceAddress: '192.0.2.1', replicationAddress: '198.51.100.1' },
    backup: { serviceInterface: 'svc0', serviceAddress: '192.0.2.2', replicationAddress: '198.51.100.2' },
    replication: { key: KEY },
  };
}

/** Returns the ERR_INTACT_CONFIG message of a parse that must fail. */
function failure(t: Test, obj: unknown): string {
  try {
    parseConfig(obj, 'test.json');
  } catch (e) {
    t.ok(isIntactError(e, 'ERR_INTACT_CONFIG'), 'ERR_INTACT_CONFIG');
    return (e as Error).message;
  }
  t.fail('parse succeeded');
  return '';
}

t.test('a minimal config gets the documented defaults', async (t) => {
  const c = parseConfig(valid());
  t.equal(c.replication.port, 7400);
  t.equal(c.replication.heartbeatIntervalMs, 10);
  t.equal(c.replication.deadTimeMs, 80);
  t.equal(c.replication.storeBytesPerConnection, 4 * 1024 * 1024);
  t.equal(c.servicePrefixLength, 24);
  t.equal(c.logDir, undefined);
  t.equal(c.primary.serviceAddress, '192.0.2.1');
});

t.test('the example two-host config is valid', async (t) => {
  const c = loadConfig(new URL('../../lab/two-hosts.example.json', import.meta.url).pathname);
  t.equal(c.primary.serviceInterface.length > 0, true);
});

t.test('a bad address names the field', async (t) => {
  const cfg = valid();
  cfg.primary.serviceAddress = '192.0.2.300';
  const m = failure(t, cfg);
  t.match(m, /test\.json/);
  t.match(m, /primary\.serviceAddress: must be a dotted IPv4 address/);
});

t.test('a non-hex or short key is refused', async (t) => {
  const cfg = valid();
  cfg.replication.key = 'zz' + KEY.slice(2);
  t.match(failure(t, cfg), /replication\.key: must be hex digits/);
  cfg.replication.key = 'abcd';
  t.match(failure(t, cfg), /replication\.key: .*at least 32/);
});

t.test('a missing section is reported by path', async (t) => {
  const cfg: Record<string, unknown> = { ...valid() };
  delete cfg.backup;
  t.match(failure(t, cfg), /backup: is required/);
});

t.test('an unknown field is refused (typos do not pass silently)', async (t) => {
  const cfg = { ...valid(), replicaton: {} };
  t.match(failure(t, cfg), /replicaton/);
});

t.test('the VIP may not be a host address', async (t) => {
  const cfg = valid();
  cfg.vip = '192.0.2.1';
  t.match(failure(t, cfg), /vip: must differ from primary\.serviceAddress/);
});

t.test('service addresses must be in the VIP subnet', async (t) => {
  const cfg = valid();
  cfg.backup.serviceAddress = '192.0.3.2';
  t.match(failure(t, cfg), /backup\.serviceAddress: must be in the VIP's subnet 192\.0\.2\.100\/24/);
});

t.test('dead time shorter than two heartbeats is refused', async (t) => {
  const cfg = valid();
  cfg.replication.heartbeatIntervalMs = 50;
  cfg.replication.deadTimeMs = 60;
  t.match(failure(t, cfg), /replication\.deadTimeMs: must be at least twice heartbeatIntervalMs \(50\)/);
});

t.test('port out of range and wrong types are refused', async (t) => {
  const cfg = valid();
  (cfg.replication as Record<string, unknown>).port = 70000;
  t.match(failure(t, cfg), /replication\.port: must be a TCP\/UDP port/);
  (cfg.replication as Record<string, unknown>).port = '7400';
  t.match(failure(t, cfg), /replication\.port: must be a whole number/);
});

t.test('an overlong interface name is refused', async (t) => {
  const cfg = valid();
  cfg.primary.serviceInterface = 'averyveryverylongname';
  t.match(failure(t, cfg), /primary\.serviceInterface: must be an interface name of 1 to 15/);
});

t.test('loadConfig: missing file, bad JSON, bad content', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = join(dir, 'nope.json');
  t.throws(() => loadConfig(missing), { code: 'ERR_INTACT_CONFIG', message: /cannot read config .*nope\.json: no such file/ });
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{ "vip": ');
  t.throws(() => loadConfig(bad), { code: 'ERR_INTACT_CONFIG', message: /invalid config .*bad\.json: not JSON/ });
  const wrong = join(dir, 'wrong.json');
  writeFileSync(wrong, JSON.stringify({ ...valid(), vip: 'x' }));
  t.throws(() => loadConfig(wrong), { code: 'ERR_INTACT_CONFIG', message: /wrong\.json: vip: must be a dotted IPv4/ });
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify(valid()));
  t.equal(loadConfig(good).vip, '192.0.2.100');
});

t.test('rxRingFrames: optional per host, bounded', async (t) => {
  const base = JSON.parse(readFileSync(new URL('../../lab/two-hosts.example.json', import.meta.url).pathname, 'utf8')) as { backup: Record<string, unknown> };
  t.equal(parseConfig(base).backup.rxRingFrames, undefined, 'absent: the role\'s default');
  t.equal(parseConfig({ ...base, backup: { ...base.backup, rxRingFrames: 2048 } }).backup.rxRingFrames, 2048);
  t.throws(() => parseConfig({ ...base, backup: { ...base.backup, rxRingFrames: 10 } }), /backup\.rxRingFrames: must be between 64 and 8192/);
  t.throws(() => parseConfig({ ...base, backup: { ...base.backup, rxRingFrames: 1.5 } }), /backup\.rxRingFrames: must be a whole number/);
});

t.test('takeover.pmtuKick: true when absent, a boolean when given', async (t) => {
  const base = JSON.parse(readFileSync(new URL('../../lab/two-hosts.example.json', import.meta.url).pathname, 'utf8')) as Record<string, unknown>;
  const { takeover: _omit, ...without } = base;
  t.equal(parseConfig(without).takeover.pmtuKick, true);
  t.equal(parseConfig({ ...base, takeover: {} }).takeover.pmtuKick, true);
  t.equal(parseConfig({ ...base, takeover: { pmtuKick: false } }).takeover.pmtuKick, false);
  t.throws(() => parseConfig({ ...base, takeover: { pmtuKick: 'yes' } }), /takeover\.pmtuKick: must be true or false/);
});

t.test('takeover.warmup: true when absent, a boolean when given', async (t) => {
  const base = JSON.parse(readFileSync(new URL('../../lab/two-hosts.example.json', import.meta.url).pathname, 'utf8')) as Record<string, unknown>;
  t.equal(parseConfig({ ...base, takeover: {} }).takeover.warmup, true);
  t.equal(parseConfig({ ...base, takeover: { warmup: false } }).takeover.warmup, false);
  t.throws(() => parseConfig({ ...base, takeover: { warmup: 1 } }), /takeover\.warmup: must be true or false/);
});

t.test('takeover.realtime: true when absent, a boolean when given', async (t) => {
  const base = JSON.parse(readFileSync(new URL('../../lab/two-hosts.example.json', import.meta.url).pathname, 'utf8')) as Record<string, unknown>;
  t.equal(parseConfig({ ...base, takeover: {} }).takeover.realtime, true);
  t.equal(parseConfig({ ...base, takeover: { realtime: false } }).takeover.realtime, false);
  t.throws(() => parseConfig({ ...base, takeover: { realtime: 'no' } }), /takeover\.realtime: must be true or false/);
});

t.test('tcp: 2 MiB buffers when absent; each buffer within bounds; output fits the store', async (t) => {
  const base = valid();
  t.same(parseConfig(base).tcp, { sndBuf: 2 << 20, rcvBuf: 2 << 20 }, 'absent: the deployment defaults');
  t.same(parseConfig({ ...base, tcp: { sndBuf: 1 << 20 } }).tcp, { sndBuf: 1 << 20, rcvBuf: 2 << 20 });
  t.match(failure(t, { ...base, tcp: { rcvBuf: 1000 } }), /test\.json: tcp\.rcvBuf: must be between 16384 and 1073741824 bytes/);
  t.match(failure(t, { ...base, tcp: { sndBuf: 65536.5 } }), /tcp\.sndBuf: must be a whole number of bytes/);
  t.match(failure(t, { ...base, tcp: { sndbuf: 65536 } }), /tcp: .*sndbuf/, 'a misspelt key is refused, not ignored');
  // The default store (4 MiB) takes output up to 2 MiB; a larger store takes more.
  t.match(failure(t, { ...base, tcp: { sndBuf: 3 << 20 } }), /tcp\.sndBuf: must be at most half of replication\.storeBytesPerConnection \(4194304\)/);
  t.equal(parseConfig({ ...base, tcp: { sndBuf: 3 << 20 }, replication: { key: KEY, storeBytesPerConnection: 8 << 20 } }).tcp.sndBuf, 3 << 20);
});

t.test('replication.outputReplay: off when absent; a boolean; its window (twice sndBuf) within the wire\'s bound', async (t) => {
  const base = valid();
  t.equal(parseConfig(base).replication.outputReplay, false, 'strict by default');
  t.equal(replayWindow(parseConfig(base)), 0, 'no window when off');
  const on = parseConfig({ ...base, replication: { key: KEY, outputReplay: true } });
  t.equal(replayWindow(on), 4 << 20, 'twice the default sndBuf');
  t.match(failure(t, { ...base, replication: { key: KEY, outputReplay: 'yes' } }), /replication\.outputReplay: must be true or false/);
  const huge = { ...base, tcp: { sndBuf: 2 ** 30 }, replication: { key: KEY, outputReplay: true, storeBytesPerConnection: 2 ** 31 } };
  t.match(failure(t, huge), /tcp\.sndBuf: must be at most 536870912 bytes with replication\.outputReplay/);
});

t.test('replication.busyPollUs: 200 µs when absent, 0 turns it off; whole µs up to one second', async (t) => {
  const base = valid();
  t.equal(parseConfig(base).replication.busyPollUs, 200, 'by default each host polls up to 200 µs after replication traffic');
  t.equal(parseConfig({ ...base, replication: { key: KEY, busyPollUs: 0 } }).replication.busyPollUs, 0, '0: never poll');
  t.equal(parseConfig({ ...base, replication: { key: KEY, busyPollUs: 1000 } }).replication.busyPollUs, 1000);
  t.match(failure(t, { ...base, replication: { key: KEY, busyPollUs: -1 } }), /replication\.busyPollUs: must be between 0 \(off\) and 1000000 µs/);
  t.match(failure(t, { ...base, replication: { key: KEY, busyPollUs: 1_000_001 } }), /replication\.busyPollUs: must be between 0 \(off\) and 1000000 µs/);
  t.match(failure(t, { ...base, replication: { key: KEY, busyPollUs: 2.5 } }), /replication\.busyPollUs: must be a whole number of microseconds/);
});
