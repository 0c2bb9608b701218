// The process toolkit (scenarios/lib/process.ts) against real namespaces: a program
// started in a namespace is ready when said, stops on request, and is never left behind
// — not after a failed start, not when its parent exits. Root only; each test has its
// own namespace (intact-t<hex>), removed on every exit path.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsPidsSync, killNetnsSync } from '../../lab/netns.js';
import { uniquePrefix } from '../../lab/plan.js';
import { run, runSync } from '../../lab/tools.js';
import { liveProcesses, startProcess } from '../../scenarios/lib/process.js';
import { waitForTcpPort } from '../../scenarios/lib/wait-port.js';
import { REPO_ROOT } from '../../scenarios/lib/repo.js';
import { isIntactError } from '../../shared/errors.js';
import { rootOnly } from '../helpers/root.js';

/** A bare namespace with lo up, gone at the end of the test or of the process. */
async function ownNetns(t: Test): Promise<string> {
  const ns = uniquePrefix('intact-t');
  const remove = () => {
    killNetnsSync(ns);
    runSync('ip', ['netns', 'del', ns], { allowFail: true });
  };
  process.once('exit', remove);
  t.teardown(() => {
    remove();
    process.off('exit', remove);
  });
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

function tempDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'intact-proc-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Plain JS: a server on 127.0.0.1:<port> that says so, and ignores SIGTERM when asked. */
const SERVER = `
const net = require('node:net');
const [port, ignoreTerm] = process.argv.slice(1);
if (ignoreTerm === 'yes') process.on('SIGTERM', () => {});
net.createServer((s) => { s.on('error', () => {}); s.end('hi\\n'); }).listen(Number(port), '127.0.0.1', () => {
  console.log('ready on ' + port);
  console.error('a line on stderr');
});
`;

/** True once `pid` has exited (gone or a zombie) within `ms`. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const alive = () => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
    } catch {
      return false;
    }
  };
  const until = Date.now() + ms;
  while (alive()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

const node = (script: string, ...args: string[]) => [process.execPath, '-e', script, ...args];

/** tap's NODE_OPTIONS would load its process-info hooks into every child (and change
 *  how they die of SIGTERM): the programs under test get a clean environment. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS_')));

t.test('starts in the namespace, ready on its line, stops with SIGTERM', rootOnly(), async (t) => {
  const ns = await ownNetns(t);
  const dir = tempDir(t);
  const p = await startProcess({ name: 'srv', netns: ns, env, argv: node(SERVER, '7001'), logFile: join(dir, 'srv.log'), ready: { line: /^ready on/ } });
  t.ok(p.running);
  t.same(netnsPidsSync(ns), [p.pid], 'the program itself runs in the namespace, under its own PID');
  t.ok(await waitForTcpPort({ netns: ns, host: '127.0.0.1', port: 7001, timeoutMs: 5000 }), 'its port answers inside the namespace');
  t.notOk(await waitForTcpPort({ host: '127.0.0.1', port: 7001, timeoutMs: 300 }), 'and not outside it');
  const exit = await p.stop();
  t.equal(exit.signal, 'SIGTERM', JSON.stringify(exit));
  t.same(netnsPidsSync(ns), [], 'nothing left in the namespace');
  t.notOk(liveProcesses().includes(p), 'no longer tracked');
  const log = readFileSync(join(dir, 'srv.log'), 'utf8');
  t.match(log, /ready on 7001/, 'stdout is in the log file');
  t.match(log, /a line on stderr/, 'stderr too');
});

t.test('ready when a TCP port answers from a namespace', rootOnly(), async (t) => {
  const ns = await ownNetns(t);
  // Listens only after a delay: readiness must wait for the port, not the start.
  const late = `setTimeout(() => { ${SERVER} }, 300)`;
  const p = await startProcess({ name: 'late', netns: ns, env, argv: node(late, '7002'), ready: { tcp: { host: '127.0.0.1', port: 7002 } } });
  t.teardown(() => p.stop());
  t.match(p.stdout(), /ready on 7002/);
});

t.test('a program that exits before ready fails the start with its output', rootOnly(), async (t) => {
  const ns = await ownNetns(t);
  const err = await startProcess({
    name: 'dies',
    netns: ns,
    env, argv: node(`console.error('cannot open svc0: no such device'); process.exit(3)`),
    ready: { line: /^ready/ },
  }).catch((e: unknown) => e);
  t.ok(isIntactError(err, 'ERR_INTACT_PROCESS_EXITED'), String(err));
  t.match((err as Error).message, /code 3/);
  t.match((err as Error).message, /cannot open svc0/, 'quotes what the program said');
  t.same(netnsPidsSync(ns), []);
});

t.test('a program not ready in time is stopped, SIGKILL when it ignores SIGTERM', rootOnly(), async (t) => {
  const ns = await ownNetns(t);
  const err = await startProcess({
    name: 'stubborn',
    netns: ns,
    env, argv: node(SERVER, '7003', 'yes'),
    ready: { line: /^never printed/ },
    readyTimeoutMs: 500,
  }).catch((e: unknown) => e);
  t.ok(isIntactError(err, 'ERR_INTACT_PROCESS_TIMEOUT'), String(err));
  t.same(netnsPidsSync(ns), [], 'killed although it ignored SIGTERM');
});

t.test('waitExit times out, stops the program and says so', rootOnly(), async (t) => {
  const ns = await ownNetns(t);
  const p = await startProcess({ name: 'forever', netns: ns, env, argv: node(SERVER, '7004'), ready: { line: /^ready/ } });
  const err = await p.waitExit(200).catch((e: unknown) => e);
  t.ok(isIntactError(err, 'ERR_INTACT_PROCESS_TIMEOUT'), String(err));
  t.notOk(p.running);
  t.same(netnsPidsSync(ns), []);
});

t.test('children die with their parent, whether it exits or is interrupted', rootOnly(), async (t) => {
  const ns = await ownNetns(t);
  const dir = tempDir(t);
  // A parent that starts a child in the namespace, prints its PID, then ends as asked.
  const parentScript = join(dir, 'parent.mts');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    parentScript,
    `import { startProcess } from ${JSON.stringify(join(REPO_ROOT, 'scenarios/lib/process.ts'))};
const [ns, how] = process.argv.slice(2);
const p = await startProcess({ name: 'child', netns: ns, argv: [process.execPath, '-e', ${JSON.stringify(SERVER)}, '7005', 'yes'], ready: { line: /^ready/ } });
console.log('child ' + p.pid);
if (how === 'exit') process.exit(0);
if (how === 'throw') throw new Error('boom');
setInterval(() => {}, 1000); // wait for SIGINT
`,
  );
  for (const how of ['exit', 'throw', 'SIGINT'] as const) {
    const parent = spawn(process.execPath, ['--import', 'tsx', parentScript, ns, how], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    parent.stderr!.on('data', (b: Buffer) => (errText += b.toString()));
    parent.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (how === 'SIGINT' && /child \d+/.test(out)) parent.kill('SIGINT');
    });
    // Never hang the suite: a parent that outlives 20 s is a failure, and is killed.
    const guard = setTimeout(() => parent.kill('SIGKILL'), 20_000);
    const [code, sig] = (await once(parent, 'exit')) as [number | null, NodeJS.Signals | null];
    clearTimeout(guard);
    t.not(sig, 'SIGKILL', `${how}: the parent ended by itself (code ${code}, signal ${sig})`);
    const pid = Number(/child (\d+)/.exec(out)?.[1]);
    t.ok(pid > 0, `${how}: the child started (${out.trim()} ${errText.slice(-500)})`);
    // SIGKILL is sent before the parent exits, but the child's own exit (tearing down a
    // Node heap) completes asynchronously: the CI run of da7ec4e saw it still running
    // right after the parent's exit. Gone within 2 s is the contract, not gone at once.
    t.ok(await goneWithin(pid, 2000), `${how}: the child is gone`);
    t.same(netnsPidsSync(ns), [], `${how}: nothing left in the namespace`);
  }
});
