// A download from the http app that outlived its backup is protected by the next one,
// from its next checkpoint (lib/download.ts, downloadResyncSuite, says how).
import t from 'tap';
import { rootOnly } from '../helpers/root.js';
import { downloadResyncSuite } from './lib/download.js';

t.test('a download that outlived its backup is protected by the next one', rootOnly(), async (t) => {
  await downloadResyncSuite(t);
});
