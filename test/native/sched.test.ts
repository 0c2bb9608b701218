// The addon's scheduling switches: real-time for the calling thread, and back.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { setThreadNormal, setThreadRealtime } from '../../native/index.js';
import { rootOnly } from '../helpers/root.js';

function policy(): number {
  return Number(/policy\s*:\s*(\d+)/.exec(readFileSync('/proc/thread-self/sched', 'utf8'))![1]);
}

const SCHED_OTHER = 0;
const SCHED_RR = 2;

t.test('setThreadRealtime makes this thread SCHED_RR; setThreadNormal undoes it', rootOnly(), async (t) => {
  t.teardown(setThreadNormal);
  t.equal(setThreadRealtime(5), true);
  t.equal(policy(), SCHED_RR);
  setThreadNormal();
  t.equal(policy(), SCHED_OTHER);
});

t.test('a priority out of range is refused, the thread unchanged', async (t) => {
  t.equal(setThreadRealtime(0), false);
  t.equal(setThreadRealtime(100), false);
  t.equal(policy(), SCHED_OTHER);
});
