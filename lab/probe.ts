// Reachability checks between lab nodes, with the client kernel's own ping: what the
// lab's checks and tests mean by "A reaches B" and "A cannot reach B".
import { toolPath } from './tools.js';
import { nsExec } from './topology.js';

export interface PingResult {
  sent: number;
  received: number;
}

/** Sends `count` echo requests from the namespace and counts the replies; waits at most
 *  `waitS` seconds for each reply, and stops the whole run after `deadlineMs` if given
 *  (ping's own waits stretch when the neighbour entry is failing). Never throws for silence. */
export async function ping(
  netns: string,
  address: string,
  opts: { count?: number; intervalS?: number; waitS?: number; deadlineMs?: number } = {},
): Promise<PingResult> {
  const count = opts.count ?? 1;
  const r = await nsExec(
    netns,
    [toolPath('ping'), '-n', '-q', '-c', String(count), '-i', String(opts.intervalS ?? 0.2), '-W', String(opts.waitS ?? 1), address],
    // SIGINT, not SIGKILL: ping then prints the summary we parse.
    opts.deadlineMs ? { timeoutMs: opts.deadlineMs, killSignal: 'SIGINT' } : {},
  );
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  return m ? { sent: Number(m[1]), received: Number(m[2]) } : { sent: 0, received: 0 };
}

/** True when the address answers within `withinMs`. Patient on purpose: after a heal
 *  the sender's neighbour entry may sit INCOMPLETE/FAILED and the kernel re-probes ARP
 *  only about once a second, as it would after a real cable came back. */
export async function reaches(netns: string, address: string, withinMs = 4000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  do {
    const t0 = Date.now();
    if ((await ping(netns, address, { count: 1, waitS: 0.5 })).received > 0) return true;
    // An immediate "host unreachable" comes back in microseconds; do not spin on it.
    const spent = Date.now() - t0;
    if (spent < 100) await new Promise((r) => setTimeout(r, 100 - spent));
  } while (Date.now() < deadline);
  return false;
}

/** True when two echo requests 0.2 s apart get no reply within 0.7 s of the first.
 *  (A lab RTT is well under a millisecond.) */
export async function silent(netns: string, address: string): Promise<boolean> {
  return (await ping(netns, address, { count: 2, intervalS: 0.2, waitS: 0.5, deadlineMs: 700 })).received === 0;
}
