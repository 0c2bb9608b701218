// "Is anything listening on host:port, seen from namespace N?" One probe process in
// that namespace retries connect() until it succeeds or the deadline passes, so the
// namespace is entered once, not once per attempt. The probe is plain JavaScript (no
// tsx) to start in tens of milliseconds. It connects and closes at once: use it for
// servers that tolerate an empty connection (a sink, an echo), not for a source that
// would start sending to it — wait for those on their ready line instead.
import { execFile } from 'node:child_process';
import { nsExec } from '../../lab/topology.js';

const PROBE = `
const net = require('node:net');
const [host, port, timeoutMs] = process.argv.slice(1);
const deadline = Date.now() + Number(timeoutMs);
function attempt() {
  const s = net.connect({ host, port: Number(port) });
  s.setTimeout(500);
  s.once('connect', () => { s.destroy(); process.stdout.write('open\\n'); process.exit(0); });
  const retry = () => { s.destroy(); if (Date.now() >= deadline) process.exit(1); setTimeout(attempt, 50); };
  s.once('error', retry);
  s.once('timeout', retry);
}
attempt();
`;

export interface WaitPortOptions {
  /** Namespace to connect from; the current one when absent. */
  netns?: string;
  host: string;
  port: number;
  timeoutMs: number;
}

/** True once host:port accepts a TCP connection; false when `timeoutMs` passes first. */
export async function waitForTcpPort(o: WaitPortOptions): Promise<boolean> {
  const argv = [process.execPath, '-e', PROBE, o.host, String(o.port), String(o.timeoutMs)];
  // The probe gives up by itself; the outer timeout only guards against a wedged probe.
  const guardMs = o.timeoutMs + 5000;
  if (o.netns) {
    const r = await nsExec(o.netns, argv, { timeoutMs: guardMs });
    return r.code === 0 && r.stdout.includes('open');
  }
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: guardMs, killSignal: 'SIGKILL' }, (err, stdout) => {
      resolve(!err && stdout.includes('open'));
    });
  });
}
