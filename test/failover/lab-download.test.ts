// kill -9 of the primary while curl downloads a file from the http app (issue 4), in
// strict mode (every byte replicated before it leaves): lib/download.ts.
// Size: INTACT_FAILOVER_MB (default 100); cycles: INTACT_FAILOVER_CYCLES (default 20).
import t from 'tap';
import { rootOnly } from '../helpers/root.js';
import { downloadSuite } from './lib/download.js';

t.test('curl downloads survive kill -9 of the primary at random instants', rootOnly(), (t) => downloadSuite(t, false));
