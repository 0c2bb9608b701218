import t from 'tap';
import { dropFront } from '../../shared/chunks.js';

t.test('dropFront: whole chunks, then a view of the one cut, never more than is there', async (t) => {
  const chunks = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('hi')];
  dropFront(chunks, 5);
  t.same(chunks.map((c) => c.toString()), ['fg', 'hi']);
  dropFront(chunks, 0);
  t.same(chunks.map((c) => c.toString()), ['fg', 'hi'], 'nothing to drop');
  dropFront(chunks, 100);
  t.same(chunks, [], 'more than held: empty, no error');
});
