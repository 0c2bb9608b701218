// Reachability checks between lab nodes, with the client kernel's own ping: what the
// lab's checks and tests mean by "A reaches B" and "A cannot reach B".
import { toolPath } from './tools.js';
import { nsExec } from './topology.js';

export interface PingResult {
  sent: number;
  received: number;
}

/** Sends `count` echo requests from the namespace and counts the replies; waits at most
 *  `waitS` seconds for each reply (after the last one sent). Never throws for silence. */
export async function ping(netns: string, address: string, opts: { count?: number; intervalS?: number; waitS?: number } = {}): Promise<PingResult> {
  const count = opts.count ?? 1;
  const r = await nsExec(netns, [
    toolPath('ping'), '-n', '-q', '-c', String(count), '-i', String(opts.intervalS ?? 0.2), '-W', String(opts.waitS ?? 1), address,
  ]);
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  return m ? { sent: Number(m[1]), received: Number(m[2]) } : { sent: 0, received: 0 };
}

/** True when the address answers within a few tries (the first may wait for ARP). */
export async function reaches(netns: string, address: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    if ((await ping(netns, address, { count: 1, waitS: 1 })).received > 0) return true;
  }
  return false;
}

/** True when two echo requests 0.2 s apart get no reply within 0.5 s of the last. */
export async function silent(netns: string, address: string): Promise<boolean> {
  return (await ping(netns, address, { count: 2, intervalS: 0.2, waitS: 0.5 })).received === 0;
}
