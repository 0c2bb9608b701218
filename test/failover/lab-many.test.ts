// 1,000 concurrent connections all survive one takeover (issue 4): a client opens them
// to the kv app, does one exchange on each (INCR c -> 1), the primary dies of kill -9,
// and right away every connection does two more (SET, then INCR c -> 2: the state of
// each came back from its own checkpoint) and closes cleanly. No RST on the client's
// wire, no reset in its kernel's counters.
// Connections: INTACT_FAILOVER_CONNECTIONS (default 1000).
import t from 'tap';
import { join } from 'node:path';
import { rootOnly } from '../helpers/root.js';
import { runCycle } from './lib/cycle.js';
import { runClientAndKill } from './lib/run-client.js';
import { stallSummary } from './lib/suite.js';
import { withLab } from '../../lab/topology.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const CONNECTIONS = Number(process.env.INTACT_FAILOVER_CONNECTIONS ?? 1000);

t.test(`${CONNECTIONS} concurrent connections all survive one takeover`, rootOnly(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'intact-failover-many-'));
  let ok = false;
  try {
    await withLab({}, async (lab) => {
      const out = await runCycle(lab, {
        app: 'kv',
        logDir: dir,
        tag: 'many',
        async workload(pair) {
          const r = await runClientAndKill(pair, ['many', '--port', '4000', '--connections', String(CONNECTIONS), '--idle-ms', '60000'], {
            logFile: join(dir, 'many-client.log'),
            timeoutMs: 120_000,
            // The second round starts the moment the primary is dead: requests sent
            // into the outage must get through once the backup speaks.
            onKilled: (client) => process.kill(client.pid, 'SIGUSR1'),
          });
          return { problems: r.problems, midway: r.killedOnMark, instant: `with ${CONNECTIONS} connections open and idle`, details: r.result };
        },
      });
      t.comment(`client: ${JSON.stringify(out.details)}`);
      t.comment(stallSummary([out]));
      if (out.capture) t.comment(`wire: median connection stall ${out.capture.stallMedianMs} ms over ${out.capture.stalledConnections} connections; client counters ${JSON.stringify(out.counters)}`);
      t.equal(out.takeover?.connections, CONNECTIONS, 'the backup rebuilt every connection');
      t.equal(out.details.survived, CONNECTIONS, 'every connection did its exchanges after the takeover');
      t.same(out.problems, [], 'no reset, no lost or wrong reply, client counters unmoved');
      ok = out.problems.length === 0;
    });
  } finally {
    if (ok && !process.env.INTACT_FAILOVER_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.comment(`kept ${dir}`);
  }
});
