// How idle CPUs wait (shared/cpu-idle.ts): what the scenario reports record and what
// the primary names at start.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { cpuIdle, cpuIdleLabel, haltsAtOnce } from '../../shared/cpu-idle.js';

t.test('haltsAtOnce: only a haltpoll guest that does not poll', async (t) => {
  t.equal(haltsAtOnce({ driver: 'haltpoll', governor: 'haltpoll', guestHaltPollNs: 0 }), true);
  t.equal(haltsAtOnce({ driver: 'haltpoll', governor: 'haltpoll', guestHaltPollNs: 200000 }), false);
  t.equal(haltsAtOnce({ driver: 'intel_idle', governor: 'menu', guestHaltPollNs: null }), false, 'bare metal: not judged');
  t.equal(haltsAtOnce({ driver: null, governor: null, guestHaltPollNs: null }), false);
});

t.test('cpuIdle reads this host\'s sysfs as it is', async (t) => {
  const c = cpuIdle();
  const driverFile = '/sys/devices/system/cpu/cpuidle/current_driver';
  t.equal(c.driver, existsSync(driverFile) ? readFileSync(driverFile, 'utf8').trim() || null : null);
  const pollFile = '/sys/module/haltpoll/parameters/guest_halt_poll_ns';
  t.equal(c.guestHaltPollNs, existsSync(pollFile) ? Number(readFileSync(pollFile, 'utf8').trim()) : null);
  t.type(cpuIdleLabel(c), 'string');
});
