import t from 'tap';
import { LogLimiter } from '../../shared/log-limit.js';

function clocked(intervalMs: number) {
  let now = 0;
  const l = new LogLimiter(intervalMs, () => now);
  return { l, advance: (ms: number) => (now += ms) };
}

t.test('the first occurrence of a key gets a line', async (t) => {
  const { l } = clocked(1000);
  t.same(l.admit('a'), { log: true, count: 1, suppressed: 0 });
  t.same(l.admit('b'), { log: true, count: 1, suppressed: 0 }, 'another key is its own first');
});

t.test('repeats within the interval get none, and are counted', async (t) => {
  const { l, advance } = clocked(1000);
  l.admit('a');
  advance(999);
  t.same(l.admit('a'), { log: false, count: 2, suppressed: 1 });
  t.same(l.admit('a'), { log: false, count: 3, suppressed: 2 });
});

t.test('the first repeat after the interval gets a line saying how many it stands for', async (t) => {
  const { l, advance } = clocked(1000);
  l.admit('a');
  l.admit('a');
  l.admit('a');
  advance(1000);
  t.same(l.admit('a'), { log: true, count: 4, suppressed: 2 });
  advance(10);
  t.same(l.admit('a'), { log: false, count: 5, suppressed: 1 }, 'the interval starts again from that line');
});

t.test('a peer varying its key cannot grow the limiter without bound', async (t) => {
  const { l } = clocked(1000);
  for (let i = 0; i < 5000; i++) l.admit(`k${i}`);
  t.equal(l.admit('k4999').log, false, 'a recent key is still remembered');
  t.equal(l.admit('k0').log, true, 'the oldest were forgotten: they log again');
});
