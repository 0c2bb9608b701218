import t from 'tap';
import { IntactError, isIntactError } from '../../shared/errors.js';

t.test('IntactError carries a stable code', async (t) => {
  const e = new IntactError('ERR_INTACT_X', 'boom');
  t.equal(e.code, 'ERR_INTACT_X');
  t.ok(e instanceof Error);
  t.ok(isIntactError(e, 'ERR_INTACT_X'));
  t.notOk(isIntactError(e, 'ERR_OTHER'));
  t.notOk(isIntactError(new Error('x')));
});
