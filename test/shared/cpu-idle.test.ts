// How idle CPUs wait (shared/cpu-idle.ts): what the scenario reports record and what
// the primary names at start.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { cpuIdle, cpuIdleLabel, haltsAtOnce } from '../../shared/cpu-idle.js';
import { wakeUpHint } from '../../primary/cli.js';

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

t.test('the primary\'s start-up hint: strict mode, sleeping, on a guest that halts at once', async (t) => {
  const halts = { driver: 'haltpoll', governor: 'haltpoll', guestHaltPollNs: 0 };
  t.match(wakeUpHint({ outputReplay: false, busyPollUs: 0 }, halts), /guest_halt_poll_ns.*replication\.busyPollUs/);
  t.equal(wakeUpHint({ outputReplay: true, busyPollUs: 0 }, halts), undefined, 'output replay: replies do not wait');
  t.equal(wakeUpHint({ outputReplay: false, busyPollUs: 1000 }, halts), undefined, 'polling: nobody sleeps');
  t.equal(wakeUpHint({ outputReplay: false, busyPollUs: 0 }, { ...halts, guestHaltPollNs: 200000 }), undefined, 'the guest polls');
});
