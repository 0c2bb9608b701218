// The kv kill suite (lab-kv*.test.ts): kill -9 of the primary during a request/response
// session with the kv app, the checkpoint tutorial (issue 4): SET/GET/INCR lines
// pipelined (a window of commands in flight), every reply checked against the model in
// order — INCR must count 1, 2, 3... exactly, so a command applied twice shows as a
// skipped number, a lost reply as a short session, a reordered one as a mismatch — and
// no reset on the client's wire or in its kernel. Kill instants: command indices,
// stratified over the session (seed printed); the first cycle kills right after
// connect, before any command.
// Commands: INTACT_FAILOVER_KV_COMMANDS (default 20000); cycles: INTACT_FAILOVER_CYCLES.
import type { Test } from 'tap';
import { join } from 'node:path';
import { requireReplayed, runCycle } from './cycle.js';
import { stratified } from './instants.js';
import { runClientAndKill } from './run-client.js';
import { runSuite } from './suite.js';

const COMMANDS = Number(process.env.INTACT_FAILOVER_KV_COMMANDS ?? 20_000);
const WINDOW = 32;

/** The suite in strict mode, or with output replay (replication.outputReplay): there a
 *  reply leaves at once, unreplicated, and after the kill the backup's kv writes again
 *  the replies after its last checkpoint, dropping those the client's ACK says it has. */
export async function kvKillSuite(t: Test, outputReplay: boolean, o: { busyPollUs?: number; maxCycles?: number } = {}): Promise<void> {
  const replication = { ...(outputReplay ? { outputReplay: true } : {}), ...(o.busyPollUs ? { busyPollUs: o.busyPollUs } : {}) };
  await runSuite(t, {
    name: `${outputReplay ? 'kv-replay' : 'kv'}${o.busyPollUs ? '-busypoll' : ''}`,
    config: Object.keys(replication).length > 0 ? { replication } : undefined,
    prepare({ lab, rand, cycles: all }) {
      const cycles = Math.min(all, o.maxCycles ?? all);
      const marks = [0, ...stratified(rand, Math.max(0, cycles - 1), 1, COMMANDS)].slice(0, cycles);
      return marks.map((mark) => ({
        name: mark === 0 ? 'kill right after connect' : `kill before command ${mark} of ${COMMANDS}`,
        run: async (logDir: string, tag: string) => {
          const out = await runCycle(lab, {
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
          });
          // Right after connect the connection may still be half-open: rebuilt strict.
          if (outputReplay && mark > 0) requireReplayed(out);
          return out;
        },
      }));
    },
  });
}
