// The addon's scheduling switches: real-time for the calling thread, and back; and the
// yield a busy poller makes each round.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { cpuYield, setThreadNormal, setThreadRealtime } from '../../native/index.js';
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

t.test("cpuYield: the built addon gives a yield, which returns and leaves the thread's policy alone", async (t) => {
  const y = cpuYield();
  if (!y) return t.fail('the addon is built for the tests, so a yield must be there');
  t.doesNotThrow(() => {
    for (let i = 0; i < 1000; i++) y();
  }, '1,000 yields return');
  t.equal(policy(), SCHED_OTHER, 'the thread keeps its policy');
});
