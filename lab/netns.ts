// Processes inside a namespace: finding them and killing them. Synchronous, because
// `down` also runs from process 'exit' handlers, where nothing asynchronous completes.
import { runSync } from './tools.js';

/** PIDs of the processes whose network namespace is `netns`. */
export function netnsPidsSync(netns: string): number[] {
  const r = runSync('ip', ['netns', 'pids', netns], { allowFail: true });
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p !== process.pid);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** SIGKILLs every process in the namespace and waits (up to ~2 s) until the kernel no
 *  longer counts them there. Returns the PIDs signalled. */
export function killNetnsSync(netns: string): number[] {
  const killed: number[] = [];
  for (let round = 0; round < 200; round++) {
    const pids = netnsPidsSync(netns);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        if (!killed.includes(pid)) killed.push(pid);
      } catch {
        // already gone
      }
    }
    sleepSync(10);
  }
  return killed;
}
