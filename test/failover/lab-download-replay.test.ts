// kill -9 of the primary while curl downloads a file from the http app, with output
// replay (replication.outputReplay): the primary sends the file's bytes without
// replicating them; after the kill the backup's http app serves the file again from the
// request, and the rebuilt connection drops what curl's ACK says it already holds.
// lib/download.ts. Size: INTACT_FAILOVER_MB (default 100); cycles:
// INTACT_FAILOVER_CYCLES (default 20).
import t from 'tap';
import { rootOnly } from '../helpers/root.js';
import { downloadSuite } from './lib/download.js';

t.test('with output replay, curl downloads survive kill -9 of the primary at random instants', rootOnly(), (t) => downloadSuite(t, true));
