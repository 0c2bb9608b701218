// `intact scenario --cpus`: the layouts, and that pin / onCpus really move processes.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { checkLayout, idlePercent, machineCpu, onCpus, pin, placement } from '../../scenarios/lib/cpus.js';

function allowed(pid: number): string[] {
  const tasks = readFileSync(`/proc/${pid}/status`, 'utf8');
  return [/Cpus_allowed_list:\s*(\S+)/.exec(tasks)![1]!];
}

const twoCpus = availableParallelism() >= 2 ? {} : { skip: 'needs 2 CPUs' };

t.test('primary-alone puts the server on CPU 1 and the client and backup on CPU 0; shared places nothing', async (t) => {
  t.same(placement('primary-alone'), { server: '1', backup: '0', client: '0' });
  t.same(placement('shared'), {});
  t.same(onCpus(undefined, ['node', 'x']), ['node', 'x']);
  t.match(onCpus('0', ['node', 'x']), [/taskset$/, '-c', '0', 'node', 'x']);
});

t.test('a machine with one CPU refuses primary-alone', async (t) => {
  t.throws(() => checkLayout('primary-alone', 1), { code: 'ERR_INTACT_USAGE', message: /at least 2 CPUs/ });
  t.doesNotThrow(() => checkLayout('shared', 1));
});

t.test('pin moves a running process; onCpus starts one in place', twoCpus, async (t) => {
  const p = spawn('sleep', ['5']);
  t.teardown(() => p.kill());
  await pin(p.pid!, '1');
  t.same(allowed(p.pid!), ['1']);
  const argv = onCpus('0', ['sleep', '5']);
  const q = spawn(argv[0]!, argv.slice(1));
  t.teardown(() => q.kill());
  await new Promise((r) => setTimeout(r, 100));
  t.same(allowed(q.pid!), ['0'], 'the program itself, not a wrapper left behind');
});

t.test('cpuMsOf counts a busy process\'s CPU time, every thread', async (t) => {
  const { cpuMsOf } = await import('../../scenarios/lib/cpus.js');
  const before = cpuMsOf(process.pid);
  const until = Date.now() + 300;
  while (Date.now() < until); // busy
  const used = cpuMsOf(process.pid) - before;
  t.ok(used >= 250 && used <= 1000, `300 ms busy counted as ${used} ms`);
});

t.test('machineCpu reads /proc/stat\'s first line; idlePercent is the idle share between two readings', async (t) => {
  // user nice system idle iowait irq softirq steal guest guest_nice
  const a = machineCpu('cpu  100 0 50 800 20 5 5 0 0 0\ncpu0 1 2 3\n');
  t.same(a, { busy: 160, idle: 820 });
  const b = machineCpu('cpu  160 0 80 830 20 5 5 0 0 0\n');
  t.equal(idlePercent(a, b), 25, '30 idle ticks of 120');
  t.equal(idlePercent(a, a), null, 'no tick passed');
  const live = machineCpu();
  t.ok(live.busy > 0 && live.idle > 0, 'this machine\'s own counters');
});
