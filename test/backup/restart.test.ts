// The takeover's restart and claim. restartApp gives the app every rebuilt connection
// it still has work on, and none that is finished both ways (TIME-WAIT, LAST-ACK,
// CLOSING): those the engine completes alone. Before, a `source` app restored on two
// finished 1 GB transfers generated 2 GB again (dropped by rule 2) and held the
// takeover 3.9 s. The claim discards what the link received while passive.
import t from 'tap';
import { ReplicaStore } from '../../backup-daemon/store.js';
import { rebuildConnections, restartApp, takeover } from '../../backup-daemon/takeover.js';
import { gratuitousArpFrame } from '../../shared/wire/arp.js';
import { prepareApp, type IntactApp } from '../../primary/app.js';
import { Runtime } from '../../primary/runtime.js';
import type { IntactSocket } from '../../primary/socket.js';
import { memoryLinkPair } from '../../shared/memory-link.js';
import { MsgType } from '../../shared/replication/messages.js';
import { stateIndex } from '../../shared/replication/states.js';
import type { TcpState } from '../../shared/tcp/tcb.js';

const VIP = 0xc0000264;
const PORT = 7000;
const ISS = 1000;
const IRS = 5000;

/** A replica of connection `conn` in `state`: 10 bytes each way, the client's FIN
 *  received (except ESTABLISHED), our FIN sent and acknowledged where the state says;
 *  with `consumed`, a checkpoint that consumed all 10 input bytes. */
function replicate(store: ReplicaStore, conn: number, state: TcpState, consumed = true): void {
  const ok = (m: Parameters<ReplicaStore['apply']>[0]) => {
    const err = store.apply(m);
    if (err) throw new Error(`${state}: ${err.reason}`);
  };
  ok({
    type: MsgType.Open, conn, localAddr: VIP, localPort: PORT, remoteAddr: 0xc000020a, remotePort: 40000 + conn, iss: ISS, irs: IRS,
    mss: 1460, sndWndShift: 7, rcvWndShift: 7, sackOk: true, tsOk: true, tsRecent: 100, tsLast: 200, sndWnd: 65535, replayWindow: 0,
  });
  ok({ type: MsgType.RecvData, conn, seq: IRS + 1, data: Buffer.from('0123456789') });
  ok({ type: MsgType.SendData, conn, seq: ISS + 1, data: Buffer.from('abcdefghij') });
  const clientFin = state !== 'ESTABLISHED';
  // Our FIN (seq ISS + 11) acknowledged in TIME-WAIT; still out in LAST-ACK and CLOSING.
  const sndUna = state === 'TIME-WAIT' ? ISS + 12 : ISS + 11;
  ok({
    type: MsgType.Update, conn, state: stateIndex(state), sndUna, sndWnd: 65535, tsRecent: 101, tsLast: 201,
    finSeq: clientFin ? IRS + 11 : 0, finReceived: clientFin,
  });
  if (consumed) ok({ type: MsgType.Checkpoint, conn, consumed: 10, produced: 10, state: Buffer.from('{}') });
}

t.test('connections finished both ways go to the engine alone; the others to the app', async (t) => {
  const store = new ReplicaStore({ bytesPerConnection: 1 << 20 });
  const states: TcpState[] = ['ESTABLISHED', 'CLOSE-WAIT', 'TIME-WAIT', 'LAST-ACK', 'CLOSING', 'TIME-WAIT'];
  // The last: finished both ways, but the app never consumed its input (it closed its
  // side first and read on): that input is still the app's to process.
  states.forEach((s, i) => replicate(store, i + 1, s, i < 5));
  const [link] = memoryLinkPair();
  const runtime = new Runtime({ link, vip: VIP, announce: false });
  t.teardown(() => runtime.close());
  const restored: number[] = [];
  const app: IntactApp = {
    name: 'recorder', description: 'records what it is given', defaultPort: PORT,
    create: () => ({
      connection: () => t.fail('restore is defined: connection() is not for rebuilt ones'),
      restore: (socket: IntactSocket) => restored.push(socket.remotePort! - 40000),
    }),
  };
  const { rebuilt, failed } = rebuildConnections(store, runtime.stack, performance.now());
  t.equal(failed, 0);
  t.same(rebuilt.map(({ c }) => c.state), states, 'every state rebuilt as replicated');
  const { served, checkpointed } = await restartApp(prepareApp(app), runtime, rebuilt);
  t.teardown(() => served.close());
  t.same(restored.sort(), [1, 2, 6], 'the app has ESTABLISHED, CLOSE-WAIT and the one with input left');
  t.equal(checkpointed, 2, 'restored from a checkpoint: 1 and 2 (6 has none; the engine\'s own are not counted)');
  for (const { c } of rebuilt.slice(2, 5)) t.equal(c.handler, undefined, `${c.state}: no socket on it`);
  t.same(rebuilt.slice(2, 5).map(({ c }) => c.state), ['TIME-WAIT', 'LAST-ACK', 'CLOSING'], 'still the engine\'s to finish');
});

t.test('the claim reads nothing the link received while the backup was passive', async (t) => {
  const [link, lan] = memoryLinkPair();
  const runtime = new Runtime({ link, vip: VIP });
  t.teardown(() => runtime.close());
  // The old primary's announcement, received long ago and never read: taken as news,
  // it would look like another host claiming the VIP.
  lan.send([{ data: gratuitousArpFrame(Buffer.from('02aabbccddee', 'hex'), VIP) }]);
  const app: IntactApp = { name: 'idle', description: 'does nothing', defaultPort: PORT, create: () => ({ connection: () => {} }) };
  const r = await takeover({ store: new ReplicaStore({ bytesPerConnection: 1 << 20 }), runtime, app: prepareApp(app) });
  t.teardown(() => r.served.close());
  await new Promise((res) => setImmediate(res));
  t.equal(r.staleFrames, 1, 'the waiting frame was discarded');
  t.equal(runtime.host.stats.vipConflicts, 0, 'no conflict seen');
});

t.test('the rebuild and restart run raised, and the priority is lowered before the claim', async (t) => {
  const store = new ReplicaStore({ bytesPerConnection: 1 << 20 });
  replicate(store, 1, 'ESTABLISHED');
  const [link] = memoryLinkPair();
  const runtime = new Runtime({ link, vip: VIP });
  t.teardown(() => runtime.close());
  const events: string[] = [];
  const app: IntactApp = {
    name: 'recorder', description: 'records', defaultPort: PORT,
    create: () => ({ connection: () => {}, restore: () => events.push('restore') }),
  };
  const start = runtime.start.bind(runtime);
  runtime.start = (announce?: boolean) => {
    events.push('claim');
    return start(announce);
  };
  const r = await takeover({
    store, runtime, app: prepareApp(app),
    priority: { raise: () => (events.push('raise'), true), lower: () => events.push('lower') },
  });
  t.teardown(() => r.served.close());
  t.same(events, ['raise', 'restore', 'lower', 'claim']);
  t.equal(r.realtime, true);
  t.same(r.states, { ESTABLISHED: 1 }, 'the rebuilt states, counted');
});

t.test('a restart that throws still lowers the priority', async (t) => {
  const [link] = memoryLinkPair();
  const runtime = new Runtime({ link, vip: VIP });
  t.teardown(() => runtime.close());
  let lowered = false;
  const app: IntactApp = { name: 'bad', description: 'cannot listen', defaultPort: PORT, create: () => ({ connection: () => {} }) };
  const prepared = prepareApp(app);
  // A port already served makes serveApp fail.
  const other = await (await import('../../primary/app.js')).serveApp(prepared, { runtime });
  t.teardown(() => other.close());
  await t.rejects(takeover({ store: undefined, runtime, app: prepared, priority: { raise: () => true, lower: () => { lowered = true; } } }));
  t.equal(lowered, true);
});
