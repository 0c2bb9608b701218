// A primary that is not dead but frozen (SIGSTOP for longer than the dead time) is
// taken over all the same: from outside, frozen and dead look alike. What must hold is
// rule 1 and rule 6 when it wakes up: the backup rebuilt from what it held, the woken
// primary learns it was replaced ("takeover" on the replication link, or the backup's
// gratuitous ARP) and goes silent without ever acknowledging a byte the backup lacks,
// and the kv session goes on through the backup with no lost, doubled or reordered
// reply, no RST. (Before the fix, the woken primary took the closed replication link
// for a dead backup, opened its gates, and acknowledged bytes the backup never got.)
import t from 'tap';
import { rootOnly } from '../helpers/root.js';
import { KV_COMMANDS as COMMANDS, kvSuite, kvVerdict, startKvClient } from './lib/kv-session.js';

const FREEZE_MS = 400;

t.test('a primary frozen past the dead time is taken over, and goes silent when it wakes', rootOnly(), async (t) => {
  await kvSuite(t, 'pause', (i) => {
    const mark = Math.floor(((i + 1) * COMMANDS) / 4);
    return {
      name: `freeze ${FREEZE_MS} ms before command ${mark}`,
      async workload(pair, logDir, tag) {
        const client = await startKvClient(pair, logDir, tag, ['--mark', String(mark)]);
        await client.waitForLine(/^MARK$/, 60_000);
        process.kill(pair.primary.pid, 'SIGSTOP');
        pair.killedAt = Date.now();
        await new Promise((r) => setTimeout(r, FREEZE_MS));
        process.kill(pair.primary.pid, 'SIGCONT');
        const { result, problems } = await kvVerdict(client, 75_000);
        // The woken primary must have gone silent and left on its own.
        // (exit code 3: "the VIP moved to another host", primary/cli.ts). Had it
        // opened its gates instead, the session above would have broken.
        const left = await pair.primary.waitExit(10_000).catch(() => undefined);
        if (!left) problems.push('the woken primary did not stop after being replaced');
        else if (left.code !== 3) problems.push(`the woken primary exited with ${left.code ?? left.signal}, not 3 (replaced)`);
        return { problems, midway: true, instant: `frozen before command ${mark}`, details: result };
      },
    };
  });
});
