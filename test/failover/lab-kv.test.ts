// kill -9 of the primary during a kv request/response session, strict mode:
// lib/kv-kill.ts. Commands: INTACT_FAILOVER_KV_COMMANDS (default 20000); cycles:
// INTACT_FAILOVER_CYCLES (default 20).
import t from 'tap';
import { rootOnly } from '../helpers/root.js';
import { kvKillSuite } from './lib/kv-kill.js';

t.test('kv sessions survive kill -9 of the primary with no lost, doubled or reordered reply', rootOnly(), (t) => kvKillSuite(t, false));
