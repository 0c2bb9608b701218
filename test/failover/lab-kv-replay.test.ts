// kill -9 of the primary during a kv request/response session with output replay
// (replication.outputReplay): replies leave unreplicated; after the kill the backup's kv
// writes again the replies since its last checkpoint and the rebuilt connection drops
// what the client already holds. lib/kv-kill.ts. Commands: INTACT_FAILOVER_KV_COMMANDS
// (default 20000); cycles: INTACT_FAILOVER_CYCLES (default 20).
import t from 'tap';
import { rootOnly } from '../helpers/root.js';
import { kvKillSuite } from './lib/kv-kill.js';

t.test('with output replay, kv sessions survive kill -9 of the primary with no lost, doubled or reordered reply', rootOnly(), (t) => kvKillSuite(t, true));
