// kill -9 of the primary during a request/response session with the kv app, the
// checkpoint tutorial (issue 4): SET/GET/INCR lines pipelined (a window of commands in
// flight), every reply checked against the model in order — INCR must count 1, 2, 3...
// exactly, so a command applied twice shows as a skipped number, a lost reply as a
// short session, a reordered one as a mismatch — and no reset on the client's wire or
// in its kernel. Kill instants: command indices, stratified over the session (seed
// printed); the first cycle kills right after connect, before any command.
// Commands: INTACT_FAILOVER_KV_COMMANDS (default 20000); cycles: INTACT_FAILOVER_CYCLES.
import t from 'tap';
import { join } from 'node:path';
import { rootOnly } from '../helpers/root.js';
import { runCycle } from './lib/cycle.js';
import { stratified } from './lib/instants.js';
import { runClientAndKill } from './lib/run-client.js';
import { runSuite } from './lib/suite.js';

const COMMANDS = Number(process.env.INTACT_FAILOVER_KV_COMMANDS ?? 20_000);
const WINDOW = 32;

t.test('kv sessions survive kill -9 of the primary with no lost, doubled or reordered reply', rootOnly(), async (t) => {
  await runSuite(t, {
    name: 'kv',
    prepare({ lab, rand, cycles }) {
      const marks = [0, ...stratified(rand, Math.max(0, cycles - 1), 1, COMMANDS)].slice(0, cycles);
      return marks.map((mark) => ({
        name: mark === 0 ? 'kill right after connect' : `kill before command ${mark} of ${COMMANDS}`,
        run: (logDir: string, tag: string) =>
          runCycle(lab, {
            app: 'kv',
            logDir,
            tag,
            async workload(pair) {
              const r = await runClientAndKill(pair, ['kv', '--port', '4000', '--commands', String(COMMANDS), '--window', String(WINDOW), '--mark', String(mark)], {
                logFile: join(logDir, `${tag}-client.log`),
                timeoutMs: 60_000,
              });
              return {
                problems: r.problems,
                midway: r.killedOnMark,
                instant: mark === 0 ? 'right after connect' : `before command ${mark} of ${COMMANDS}`,
                details: r.result,
              };
            },
          }),
      }));
    },
  });
});
