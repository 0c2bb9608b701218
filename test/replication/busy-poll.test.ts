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
