// The checkpoints of the streaming built-ins (echo, source), over the fake engine: where
// they are taken (positions exact), and what a restore from each sends.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { serveApp, type IntactApp, type ServedApp } from '../../primary/app.js';
import { echoApp } from '../../primary/apps/echo.js';
import { sourceApp } from '../../primary/apps/source.js';
import { seededChunks } from '../../shared/stream.js';
import { CheckpointingRuntime, FakeConnection, FakeRuntime, ResyncRuntime, peerStream, type RecordedCheckpoint } from './fake-engine.js';

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Sends `input` in `piece`-byte writes a turn apart (the fake engine hands the app
 *  all it holds in one read), then FIN; everything the app sent until its FIN. */
async function exchange(conn: FakeConnection, input: Buffer, piece = 16 * 1024): Promise<Buffer> {
  const peer = peerStream(conn);
  const got: Buffer[] = [];
  peer.on('data', (b: Buffer) => got.push(b));
  // Before any write: a short stream may be over within the first turn.
  const ended = once(peer, 'end');
  for (let i = 0; i < input.length; i += piece) {
    peer.write(input.subarray(i, i + piece));
    await new Promise((r) => setImmediate(r));
  }
  peer.end();
  await ended;
  await new Promise((r) => setImmediate(r));
  return Buffer.concat(got);
}

/** `app` on `runtime` for the rest of this test. */
async function serving(t: Test, app: IntactApp, runtime: FakeRuntime, options?: Record<string, string>): Promise<ServedApp> {
  const served = await serveApp(app, { runtime, options });
  t.teardown(() => served.close());
  return served;
}

/** A takeover at `cp`: a rebuilt connection (the backup held output up to the
 *  checkpoint) handed to the app's restore hook. */
function restore(served: ServedApp, port: number, cp: RecordedCheckpoint): FakeConnection {
  const conn = new FakeConnection({ localPort: port, sendCapacity: 64 << 20 });
  const socket = served.server.adopt(conn, { consumed: cp.consumed, produced: cp.produced, replicatedEnd: cp.produced });
  socket.on('error', () => undefined);
  served.instance.restore!(socket, cp.state);
  return conn;
}

/** Consecutive checkpoints are at least `every` apart in `pos`. */
function spaced(cps: RecordedCheckpoint[], every: number, pos: (c: RecordedCheckpoint) => number, from = 0): boolean {
  return cps.every((c, i) => pos(c) - (i === 0 ? from : pos(cps[i - 1]!)) >= every);
}

t.test('echo: a checkpoint every checkpointBytes echoed, where input and output meet', async (t) => {
  const runtime = new CheckpointingRuntime();
  const every = 64 * 1024;
  const served = await serving(t, echoApp, runtime, { checkpointBytes: String(every) });
  const input = randomBytes(1_000_003);
  // A small send buffer: the pipe pauses, and input waits unread behind it.
  const out = await exchange(runtime.listeners.get(7)!.connect({ sendCapacity: 32 * 1024 }), input);
  t.ok(out.equals(input), 'echoed exactly');
  const cps = runtime.checkpoints;
  t.ok(cps.length >= Math.floor(input.length / every) - 1, `${cps.length} checkpoints`);
  t.ok(cps.every((c) => c.consumed === c.produced && c.state === null), 'each where what was read was all written back');
  t.ok(spaced(cps, every, (c) => c.consumed), 'at least checkpointBytes apart');
});

t.test('echo: a restore at a checkpoint echoes on from there, and checkpoints on', async (t) => {
  const runtime = new CheckpointingRuntime();
  const every = 64 * 1024;
  const served = await serving(t, echoApp, runtime, { checkpointBytes: String(every) });
  const first = randomBytes(300_000);
  await exchange(runtime.listeners.get(7)!.connect(), first);
  const cp = runtime.checkpoints[1]!;
  runtime.checkpoints.length = 0;
  // The backup's store holds the input after the checkpoint: the client's bytes again.
  const conn = restore(served, 7, cp);
  const rest = Buffer.concat([first.subarray(cp.consumed), randomBytes(200_000)]);
  const out = await exchange(conn, rest);
  t.ok(out.equals(rest), 'the rest, echoed once');
  t.ok(runtime.checkpoints.length >= 3, `${runtime.checkpoints.length} checkpoints after the restore`);
  t.ok(runtime.checkpoints.every((c) => c.consumed === c.produced), 'exact');
  t.ok(spaced(runtime.checkpoints, every, (c) => c.consumed, cp.consumed), 'counted on from the checkpoint');
});

t.test('echo: checkpointBytes=0 never checkpoints; a bad value is refused', async (t) => {
  const runtime = new CheckpointingRuntime();
  const served = await serving(t, echoApp, runtime, { checkpointBytes: '0' });
  const input = randomBytes(1_000_000);
  t.ok((await exchange(runtime.listeners.get(7)!.connect(), input)).equals(input));
  t.equal(runtime.checkpoints.length, 0);
  for (const bad of ['-1', 'lots', '1.5']) {
    await t.rejects(serveApp(echoApp, { runtime: new FakeRuntime(), options: { checkpointBytes: bad } }), { code: 'ERR_INTACT_APP_OPTION' }, bad);
  }
});

t.test('echo: an unprotected connection offers its checkpoints for resynchronisation', async (t) => {
  const runtime = new ResyncRuntime();
  const every = 64 * 1024;
  const served = await serving(t, echoApp, runtime, { checkpointBytes: String(every) });
  const input = randomBytes(1_000_000);
  t.ok((await exchange(runtime.listeners.get(7)!.connect({ sendCapacity: 32 * 1024 }), input)).equals(input));
  t.ok(runtime.offers.length >= input.length / every / 2, `${runtime.offers.length} offers`);
  t.ok(runtime.offers.every((o) => o.consumed === o.produced), 'each with all input handled and written back');
});

const SEED = 42;
const BYTES = 3_000_001;
const stream = (seed: number, bytes: number) => Buffer.concat([...seededChunks(seed, bytes)]);

t.test('source: a checkpoint every checkpointBytes sent', async (t) => {
  const runtime = new CheckpointingRuntime();
  const every = 256 * 1024;
  const served = await serving(t, sourceApp, runtime, { bytes: String(BYTES), seed: String(SEED), checkpointBytes: String(every) });
  const out = await exchange(runtime.listeners.get(19)!.connect({ sendCapacity: 100_000 }), Buffer.from('ignored'));
  t.ok(out.equals(stream(SEED, BYTES)), 'the stream, exactly');
  const cps = runtime.checkpoints;
  t.ok(cps.length >= Math.floor(BYTES / every) - 1, `${cps.length} checkpoints`);
  t.ok(spaced(cps, every, (c) => c.produced), 'at least checkpointBytes apart');
  t.ok(cps.every((c) => c.produced <= BYTES), 'inside the stream');
  t.same(cps[0]!.state, { v: 1, seed: SEED, bytes: BYTES });
});

t.test('source: a restore at each checkpoint sends exactly the rest, then our FIN', async (t) => {
  const runtime = new CheckpointingRuntime();
  const served = await serving(t, sourceApp, runtime, { bytes: String(BYTES), seed: String(SEED), checkpointBytes: String(512 * 1024) });
  await exchange(runtime.listeners.get(19)!.connect({ sendCapacity: 100_000 }), Buffer.alloc(0));
  const all = stream(SEED, BYTES);
  t.ok(runtime.checkpoints.length >= 4);
  for (const cp of [...runtime.checkpoints]) {
    const conn = restore(served, 19, cp);
    await until('our FIN', () => conn.finSent);
    t.ok(conn.sentBytes().equals(all.subarray(cp.produced)), `from ${cp.produced}: the rest, byte for byte`);
  }
});

t.test("source: a restore follows the checkpoint's stream, not this process's options", async (t) => {
  const runtime = new CheckpointingRuntime();
  const served = await serving(t, sourceApp, runtime, { bytes: '10', seed: '1' });
  const conn = restore(served, 19, { state: { v: 1, seed: 7, bytes: 100_000 }, consumed: 0, produced: 40_000 });
  await until('our FIN', () => conn.finSent);
  t.ok(conn.sentBytes().equals(stream(7, 100_000).subarray(40_000)));
});

t.test('source: a checkpoint past the end of its stream resets; another shape is refused', async (t) => {
  const runtime = new CheckpointingRuntime();
  const served = await serving(t, sourceApp, runtime);
  const conn = restore(served, 19, { state: { v: 1, seed: 7, bytes: 100 }, consumed: 0, produced: 101 });
  t.equal(conn.reset, true);
  t.equal(conn.sentBytes().length, 0);
  t.throws(() => restore(served, 19, { state: { v: 2, seed: 7, bytes: 100 }, consumed: 0, produced: 0 }));
  t.throws(() => restore(served, 19, { state: { seed: 7 }, consumed: 0, produced: 0 }));
});

t.test('source: an unprotected connection offers its checkpoints for resynchronisation', async (t) => {
  const runtime = new ResyncRuntime();
  const every = 256 * 1024;
  const served = await serving(t, sourceApp, runtime, { bytes: String(BYTES), seed: String(SEED), checkpointBytes: String(every) });
  const out = await exchange(runtime.listeners.get(19)!.connect({ sendCapacity: 100_000 }), Buffer.alloc(0));
  t.equal(out.length, BYTES);
  t.ok(runtime.offers.length >= BYTES / every / 2, `${runtime.offers.length} offers`);
  t.ok(spaced(runtime.offers, every, (c) => c.produced), 'at least checkpointBytes apart');
});

t.test('source: checkpointBytes=0 never checkpoints; a bad value is refused', async (t) => {
  const runtime = new CheckpointingRuntime();
  const served = await serving(t, sourceApp, runtime, { bytes: String(BYTES), checkpointBytes: '0' });
  t.equal((await exchange(runtime.listeners.get(19)!.connect({ sendCapacity: 100_000 }), Buffer.alloc(0))).length, BYTES);
  t.equal(runtime.checkpoints.length, 0);
  for (const bad of ['-1', 'lots', '1.5']) {
    await t.rejects(serveApp(sourceApp, { runtime: new FakeRuntime(), options: { checkpointBytes: bad } }), { code: 'ERR_INTACT_APP_OPTION' }, bad);
  }
});
