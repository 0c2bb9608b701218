// A backup that dies and comes back protects the connections that outlived it: a kv
// session runs protected, pauses; the backup is killed (-9), the primary serves on
// unprotected and says so; a new backup starts and the replication session reopens; the
// session resumes, and its next checkpoint puts it under the new backup's protection
// (Mirror.resync); then kill -9 of the primary. The session must go on through the new
// backup with no lost, doubled or reordered reply and no RST: the takeover must have
// rebuilt it, which only the resynchronisation could have made possible.
import t from 'tap';
import { rootOnly } from '../helpers/root.js';
import { KV_COMMANDS as COMMANDS, kvSuite, kvVerdict, startKvClient } from './lib/kv-session.js';

t.test('a connection that outlived its backup is protected by the next one', rootOnly(), async (t) => {
  await kvSuite(t, 'resync', (i) => {
    const pauseAt = Math.floor(((i + 1) * COMMANDS) / 5);
    // Soon after the resume (the first checkpoint resynchronises), and later.
    const mark = pauseAt + [40, 500, 3000][i]!;
    return {
      name: `backup restarted at command ${pauseAt}, primary killed before command ${mark}`,
      async workload(pair, logDir, tag) {
        const client = await startKvClient(pair, logDir, tag, ['--pause-at', String(pauseAt), '--mark', String(mark)], 90_000);
        await client.waitForLine(/^PAUSE$/, 60_000);
        await pair.restartBackup();
        process.kill(client.pid, 'SIGUSR1');
        await client.waitForLine(/^MARK$/, 60_000);
        pair.killPrimary();
        const { result, problems } = await kvVerdict(client, 100_000);
        const took = await pair.takeover(10_000).catch((e: Error) => e);
        if (took instanceof Error) problems.push(`no takeover: ${took.message.split('\n')[0]}`);
        else if (took.connections !== 1) problems.push(`the new backup rebuilt ${took.connections} connections, not the session it was given at a checkpoint`);
        return { problems, midway: true, instant: `backup restarted at command ${pauseAt}, kill before command ${mark}`, details: result };
      },
    };
  });
});
