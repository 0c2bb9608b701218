// kill -9 of the primary during an upload to the sink app (issue 4): the receipt
// "<bytes> <sha256>" that the client gets — from the backup's sink, restored from the
// primary's last checkpoint — covers every byte once and in order, and the client's
// wire and kernel show no reset. Kill instants: byte offsets of the upload, stratified
// over the whole stream (seed printed); the last cycle kills after the half-close,
// while the receipt is due (FIN states, DESIGN rule 5).
// Size: INTACT_FAILOVER_MB (default 100); cycles: INTACT_FAILOVER_CYCLES (default 20).
import t from 'tap';
import { join } from 'node:path';
import { rootOnly } from '../helpers/root.js';
import { runCycle } from './lib/cycle.js';
import { stratified } from './lib/instants.js';
import { runClientAndKill } from './lib/run-client.js';
import { runSuite } from './lib/suite.js';

const MB = 1024 * 1024;
const SIZE = Math.round(Number(process.env.INTACT_FAILOVER_MB ?? 100) * MB);

t.test('uploads to the sink survive kill -9 of the primary at random instants', rootOnly(), async (t) => {
  await runSuite(t, {
    name: 'upload',
    prepare({ lab, rand, cycles }) {
      const marks = [...stratified(rand, Math.max(1, cycles - 1), 0, SIZE), ...(cycles > 1 ? [SIZE] : [])];
      return marks.map((mark, i) => ({
        name: mark >= SIZE ? 'kill after the half-close, receipt due' : `kill at ${(mark / MB).toFixed(1)} MB of ${(SIZE / MB).toFixed(0)} MB sent`,
        run: (logDir: string, tag: string) =>
          runCycle(lab, {
            app: 'sink',
            logDir,
            tag,
            async workload(pair) {
              const r = await runClientAndKill(pair, ['upload', '--port', '9', '--bytes', String(SIZE), '--seed', String(i + 1), '--mark', String(mark)], {
                logFile: join(logDir, `${tag}-client.log`),
                timeoutMs: 60_000,
              });
              return {
                problems: r.problems,
                midway: r.killedOnMark,
                instant: mark >= SIZE ? 'after the half-close' : `at ${(mark / MB).toFixed(1)} MB of ${(SIZE / MB).toFixed(0)} MB handed to the socket`,
                details: r.result,
              };
            },
          }),
      }));
    },
  });
});
