// Starts the kill tests' kernel client (client.ts) in a client namespace, kills the
// primary the moment the client prints MARK, and collects its one JSON line.
import { join } from 'node:path';
import { findNode } from '../../../lab/plan.js';
import { startProcess, type ManagedProcess } from '../../../scenarios/lib/process.js';
import { REPO_ROOT, tsxArgv } from '../../../scenarios/lib/repo.js';
import type { Pair } from './pair.js';

export interface ClientRun {
  result: Record<string, unknown> & { ok?: boolean; marked?: boolean };
  /** Whether the kill came after MARK (false: the client ended without reaching it). */
  killedOnMark: boolean;
  problems: string[];
}

export async function startClient(pair: Pair, args: readonly string[], logFile: string, node = 'client'): Promise<ManagedProcess> {
  return startProcess({
    name: `client ${args[0]}`,
    netns: findNode(pair.lab, node).netns,
    argv: tsxArgv(join(REPO_ROOT, 'test/failover/lib/client.ts'), args),
    cwd: REPO_ROOT,
    env: { ...process.env, INTACT_LOG_LEVEL: 'warn' },
    logFile,
  });
}

/** Runs the client, kills the primary on MARK (or when the client ends first), and
 *  waits for the client's verdict (at most `timeoutMs`). `onKilled` runs right after
 *  the kill (the 'many' client's go signal). */
export async function runClientAndKill(
  pair: Pair,
  args: readonly string[],
  o: { logFile: string; timeoutMs: number; markTimeoutMs?: number; onKilled?: (client: ManagedProcess) => void },
): Promise<ClientRun> {
  const client = await startClient(pair, [...args, '--timeout-ms', String(o.timeoutMs)], o.logFile);
  const problems: string[] = [];
  let killedOnMark = false;
  try {
    await client.waitForLine(/^MARK$/, o.markTimeoutMs ?? o.timeoutMs);
    killedOnMark = true;
  } catch (e) {
    if (client.running) problems.push(`client never reached its kill point: ${(e as Error).message.split('\n')[0]}`);
  }
  pair.killPrimary();
  o.onKilled?.(client);
  await client.waitExit(o.timeoutMs + 15_000).catch((e: Error) => problems.push(e.message.split('\n')[0]!));
  const last = client.stdout().trim().split('\n').pop() ?? '';
  let result: ClientRun['result'] = {};
  try {
    result = JSON.parse(last) as ClientRun['result'];
  } catch {
    problems.push(`client printed no result: ${client.tail().trim().slice(-400)}`);
  }
  if (result.ok === false) problems.push(`client: ${JSON.stringify(result).slice(0, 500)}`);
  return { result, killedOnMark, problems };
}
