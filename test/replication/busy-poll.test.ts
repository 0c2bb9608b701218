// BusyPoll (shared/replication/busy-poll.ts): after replication traffic the event loop
// goes round without sleeping for the configured time, then sleeps again. A manual
// clock decides when the time is up; the loop's turns are real (setImmediate).
import t from 'tap';
import { BusyPoll } from '../../shared/replication/busy-poll.js';

const turn = () => new Promise<void>((r) => setImmediate(r));

t.test('0 µs: traffic never keeps the loop awake', async (t) => {
  const p = new BusyPoll(0, () => 0);
  p.touch();
  t.equal(p.active, false);
  await turn();
  t.equal(p.spins, 0);
});

t.test('polls for the configured time after the last traffic, then sleeps', async (t) => {
  let now = 0;
  const p = new BusyPoll(1000, () => now);
  p.touch();
  t.equal(p.active, true);
  for (let i = 0; i < 5; i++) await turn();
  t.ok(p.spins >= 4, `${p.spins} turns polled within the millisecond`);
  now = 0.9;
  p.touch(); // traffic again: a millisecond from now
  now = 1.5;
  await turn();
  await turn();
  t.equal(p.active, true, 'still within a millisecond of the last traffic');
  now = 1.91;
  await turn();
  await turn();
  t.equal(p.active, false, 'a millisecond of silence: asleep');
  const spins = p.spins;
  await turn();
  t.equal(p.spins, spins, 'no more turns');
});

t.test('stop(): the loop sleeps at once and traffic no longer wakes it', async (t) => {
  const p = new BusyPoll(1000, () => 0);
  p.touch();
  p.stop();
  await turn();
  await turn();
  t.equal(p.active, false);
  p.touch();
  t.equal(p.active, false);
});

t.test('each polled turn yields the CPU first, and an idle poller never does', async (t) => {
  let now = 0;
  let yields = 0;
  const p = new BusyPoll(1000, () => now, () => yields++);
  p.touch();
  for (let i = 0; i < 5; i++) await turn();
  t.ok(p.spins >= 4);
  t.equal(yields, p.spins, 'one yield per turn polled');
  now = 2;
  await turn();
  await turn();
  t.equal(p.active, false);
  const y = yields;
  await turn();
  t.equal(yields, y, 'asleep: no more yields');
});

// The window adapts to the gaps between traffics, as KVM's halt polling: here with a
// bound of 200 µs, and gaps set by the manual clock (ms).
function adaptive() {
  let now = 0;
  const p = new BusyPoll(200, () => now, () => {});
  const after = (gapUs: number) => {
    now += gapUs / 1000;
    p.touch();
    return p.windowUs;
  };
  p.touch();
  return { p, after };
}

t.test('starts at the bound, and gaps the window covers leave it there', async (t) => {
  const { p, after } = adaptive();
  t.equal(p.windowUs, 200);
  t.equal(after(50), 200);
  t.equal(after(200), 200, 'a gap of exactly the window was covered');
  p.stop();
});

t.test('a gap past the bound halves the window, down to nothing', async (t) => {
  const { p, after } = adaptive();
  t.same([after(5000), after(5000), after(5000), after(5000), after(5000)], [100, 50, 25, 12.5, 0]);
  t.equal(after(5000), 0, 'stays at nothing');
  p.stop();
});

t.test('with a window of nothing, traffic does not poll', async (t) => {
  const { p, after } = adaptive();
  for (let i = 0; i < 5; i++) after(5000);
  await turn(); // let the last window's poll end
  await turn();
  const spins = p.spins;
  after(5000);
  t.equal(p.active, false);
  await turn();
  t.equal(p.spins, spins);
  p.stop();
});

t.test('a gap the window missed but the bound covers doubles it, from 10 µs', async (t) => {
  const { p, after } = adaptive();
  for (let i = 0; i < 5; i++) after(5000);
  t.equal(p.windowUs, 0);
  t.same([after(190), after(190), after(190), after(190), after(190), after(190)], [10, 20, 40, 80, 160, 200], 'capped at the bound');
  t.equal(after(190), 200, "covered now: kept");
  p.stop();
});

t.test('request/response every 10 ms waits for a CONFIRM ~50 µs: the window settles low, not at the bound', async (t) => {
  const { p, after } = adaptive();
  const windows: number[] = [];
  for (let i = 0; i < 40; i++) {
    after(50); // the CONFIRM
    windows.push(after(10_000)); // the next request's batch
  }
  const last = windows.slice(-10);
  t.ok(Math.max(...last) <= 50, `windows after the long gaps: ${last.join(', ')}`);
  p.stop();
});
