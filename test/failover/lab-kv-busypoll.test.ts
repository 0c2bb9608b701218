// kill -9 of the primary during a kv session with replication.busyPollUs on (both
// sides poll the replication link instead of sleeping while traffic flows): the
// takeover, the session's end on the backup (its polling stops with the link) and the
// exactly-once replies must be as without it. lib/kv-kill.ts; 4 kills, the first right
// after connect.
import t from 'tap';
import { rootOnly } from '../helpers/root.js';
import { kvKillSuite } from './lib/kv-kill.js';

t.test('with busy polling, kv sessions survive kill -9 of the primary exactly once', rootOnly(), (t) => kvKillSuite(t, false, { busyPollUs: 1000, maxCycles: 4 }));
