import t from 'tap';
import { HeardBoard } from '../../shared/heartbeat/heard.js';

t.test('a fresh board says "never" for every path; marks are read back per path', async (t) => {
  const b = new HeardBoard(2);
  t.equal(b.paths, 2);
  t.equal(b.read(0), Number.NEGATIVE_INFINITY);
  b.mark(1, 1234.5);
  t.equal(b.read(0), Number.NEGATIVE_INFINITY);
  t.equal(b.read(1), 1234.5);
});

t.test('a view over the same memory (as the heartbeat thread has) reads the marks', async (t) => {
  const b = new HeardBoard(3);
  const view = new HeardBoard(b.buffer);
  b.mark(2, 99);
  t.equal(view.read(2), 99);
  t.equal(view.read(0), Number.NEGATIVE_INFINITY, 'the view does not reset the slots');
});

t.test('memory of the wrong size is refused', async (t) => {
  t.throws(() => new HeardBoard(new SharedArrayBuffer(13)), RangeError);
  t.throws(() => new HeardBoard(new SharedArrayBuffer(0)), RangeError);
});
