import t from 'tap';
import { makeHost } from './fakes.js';

t.test('the timer fires at pollAt and polls the stack', async (t) => {
  const { stack, host, timers } = makeHost();
  stack.deadline = timers.now + 50;
  host.schedule();
  timers.runImmediates();
  const polls = stack.polls.length;
  timers.advance(49);
  t.equal(stack.polls.length, polls, 'not before');
  stack.deadline = undefined;
  timers.advance(1);
  t.equal(stack.polls.length, polls + 1);
  t.equal(stack.polls.at(-1), timers.now, 'polled with the deadline time');
});

t.test('an unchanged deadline does not re-arm the timer', async (t) => {
  const { stack, host, timers } = makeHost();
  stack.deadline = timers.now + 200;
  host.schedule();
  timers.runImmediates();
  const calls = timers.setTimeoutCalls;
  for (let i = 0; i < 5; i++) {
    host.schedule();
    timers.runImmediates();
  }
  t.equal(timers.setTimeoutCalls, calls);
  t.equal(timers.pendingTimeouts, 1, 'one real timer');
  stack.deadline = timers.now + 100;
  host.schedule();
  timers.runImmediates();
  t.equal(timers.setTimeoutCalls, calls + 1, 're-armed for the earlier deadline');
  t.equal(timers.pendingTimeouts, 1, 'and the old one cleared');
});

t.test('a fractional deadline is rounded up so the poll finds work', async (t) => {
  const { stack, host, timers } = makeHost();
  stack.deadline = timers.now + 10.2;
  host.schedule();
  timers.runImmediates();
  const polls = stack.polls.length;
  timers.advance(10);
  t.equal(stack.polls.length, polls);
  timers.advance(1);
  t.equal(stack.polls.length, polls + 1);
  t.ok(stack.polls.at(-1)! >= 1000 + 10.2);
});

t.test('a deadline stuck in the past costs one pass per millisecond, not a busy loop', async (t) => {
  const { stack, host, timers } = makeHost();
  stack.deadline = timers.now - 5;
  host.schedule();
  timers.runImmediates();
  const polls = stack.polls.length;
  timers.advance(10);
  t.equal(stack.polls.length, polls + 10);
});

t.test('schedule() is coalesced: many calls in one tick, one poll', async (t) => {
  const { stack, host, timers } = makeHost();
  for (let i = 0; i < 10; i++) host.schedule();
  t.equal(timers.pendingImmediates, 1);
  timers.runImmediates();
  t.equal(stack.polls.length, 1);
});

t.test('a received batch cancels a scheduled poll: the batch polls anyway', async (t) => {
  const { stack, host, timers, link } = makeHost();
  host.schedule();
  link.deliver([Buffer.alloc(10)]);
  t.equal(stack.polls.length, 1);
  t.equal(timers.pendingImmediates, 0);
});

t.test('close() stops timers and ignores further frames', async (t) => {
  const { stack, host, timers, link } = makeHost();
  stack.deadline = timers.now + 10;
  host.schedule();
  timers.runImmediates();
  host.close();
  t.equal(timers.pendingTimeouts, 0);
  link.deliver([Buffer.alloc(10)]);
  host.schedule();
  t.equal(timers.pendingImmediates, 0);
  t.equal(host.stats.rxFrames, 0);
});
