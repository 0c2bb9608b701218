// The kill files whose cycles are one kv session each, driven by hand (freeze the
// primary, restart the backup...): their suite of at most three cycles, the kv client
// with the session's flags, and its verdict once it exits.
import { join } from 'node:path';
import type { Test } from 'tap';
import type { ManagedProcess } from '../../../scenarios/lib/process.js';
import { runCycle, type WorkloadResult } from './cycle.js';
import type { Pair } from './pair.js';
import { startClient } from './run-client.js';
import { runSuite } from './suite.js';

/** One hand-driven cycle: its subtest name, and what it does with the pair (its logs
 *  go to `logDir`, named by `tag`). */
export interface KvCyclePlan {
  name: string;
  workload: (pair: Pair, logDir: string, tag: string) => Promise<WorkloadResult>;
}

/** A kill file of hand-driven kv cycles: cycle i (at most three; each takes seconds
 *  of waiting) is `plan(i)`, run on a fresh pair in the file's lab. */
export async function kvSuite(t: Test, name: string, plan: (i: number) => KvCyclePlan): Promise<void> {
  await runSuite(t, {
    name,
    prepare: ({ lab, cycles }) =>
      Array.from({ length: Math.min(cycles, 3) }, (_, i) => {
        const p = plan(i);
        return {
          name: p.name,
          run: (logDir: string, tag: string) => runCycle(lab, { app: 'kv', logDir, tag, workload: (pair) => p.workload(pair, logDir, tag) }),
        };
      }),
  });
}

/** Commands per session and how many are in flight. */
export const KV_COMMANDS = 20_000;
const KV_WINDOW = 32;

/** Starts the kv client: `extra` are its kill-point flags (--mark, --pause-at). */
export function startKvClient(pair: Pair, logDir: string, tag: string, extra: string[], timeoutMs = 60_000): Promise<ManagedProcess> {
  return startClient(pair, ['kv', '--port', '4000', '--commands', String(KV_COMMANDS), '--window', String(KV_WINDOW), ...extra, '--timeout-ms', String(timeoutMs)], join(logDir, `${tag}-client.log`));
}

/** Waits for the client to exit; its JSON line, and a problem unless it says ok. */
export async function kvVerdict(client: ManagedProcess, timeoutMs: number): Promise<{ result: Record<string, unknown>; problems: string[] }> {
  const exit = await client.waitExit(timeoutMs);
  const result = JSON.parse(client.stdout().trim().split('\n').pop() ?? '{}') as Record<string, unknown> & { ok?: boolean };
  return { result, problems: result.ok ? [] : [`client: ${JSON.stringify(result).slice(0, 400)} (${exit.code})`] };
}
