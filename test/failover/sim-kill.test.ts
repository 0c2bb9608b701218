// Issue 4, first "Done when": primary, backup and a client TCP in one process, on a
// virtual clock, over a seeded lossy, reordering, duplicating link; the primary is
// killed before its first step and after each of its steps in turn (every segment in
// or out, every replication message applied, every confirmation, every app timer) during the handshake, transfers both ways,
// checkpoints and both closes; the backup takes over; after each kill the client's
// stream must be intact (every reply once, in order, then a trailer proving the server
// consumed every request byte exactly once), the client's connect and close must
// complete without a reset, and the rules hold on every segment (sim/checks.ts).
//
// A failure prints the seed and kill step; to replay one:
//   runOnce(SCENARIOS.<name>, seed, step) from test/failover/sim/world.ts
import t from 'tap';
import { killEverywhere, report, SEEDS } from './sim/kill.js';

t.test('handshake: kills from the SYN to the last FIN', async (t) => {
  const tally = await killEverywhere('handshake');
  report(t, 'handshake', tally);
  t.ok(tally.halfOpenRebuilt > 0, 'some kills fell between the SYN-ACK and the final ACK, and the client connected to the backup');
  t.ok(tally.states.get('none') ?? 0, 'some kills fell before the backup knew the connection (the client retries its SYN)');
});

t.test('upload: client to server, a checkpoint per request', async (t) => {
  report(t, 'upload', await killEverywhere('upload'));
});

t.test('download: server to client, a checkpoint every other request', async (t) => {
  report(t, 'download', await killEverywhere('download'));
});

t.test('both ways, the server closes first, sequence numbers wrap', async (t) => {
  const tally = await killEverywhere('serverCloses');
  report(t, 'serverCloses', tally);
  for (const s of ['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']) t.ok(tally.states.get(s), `some kills in ${s}`);
});

t.test('no checkpoints: the backup replays both streams from the first byte', async (t) => {
  const tally = await killEverywhere('noCheckpoint');
  report(t, 'noCheckpoint', tally);
  for (const s of ['CLOSE-WAIT', 'LAST-ACK']) t.ok(tally.states.get(s), `some kills in ${s}`);
});

t.test('back-pressure: the backup bound is smaller than the streams (rule 7)', async (t) => {
  report(t, 'backPressure', await killEverywhere('backPressure'));
});

t.test('two connections at once: one FIFO of gates, two replicas rebuilt', async (t) => {
  const tally = await killEverywhere('twoClients');
  report(t, 'twoClients', tally);
  t.ok([...tally.states.keys()].some((s) => s.includes('+')), 'some kills with both connections open');
});

t.test('resync: a backup that arrives mid-session takes the connection on at a checkpoint', async (t) => {
  const tally = await killEverywhere('resync');
  report(t, 'resync', tally);
  t.ok(tally.runs > SEEDS.length * 20, `killed after the resynchronisation at many steps (${tally.runs} runs)`);
});

t.test('a bad link: 10% loss, duplicates, reordering', async (t) => {
  report(t, 'lossy', await killEverywhere('lossy'));
});
