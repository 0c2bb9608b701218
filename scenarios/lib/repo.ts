// How the scenarios start intact's own programs and their helper scripts: always from
// source through tsx, never from dist/. A scenario then measures the tree as it is, with
// no build step to forget, and the same command works before anyone runs `npm run
// build`. `node --import tsx` (not `npx tsx`) keeps one process per program, so the PID
// we signal is the program itself; tsx is named by its absolute path in the repo's
// node_modules, so the child's cwd does not matter.
import { fileURLToPath } from 'node:url';
import { dirname, isAbsolute, join } from 'node:path';
import { existsSync } from 'node:fs';

/** Absolute path of the repository root (this file is scenarios/lib/repo.ts). */
export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** The repository root from sources (scenarios/lib/) or compiled code (dist/scenarios/lib/)
 *  alike: the first folder upwards that holds package.json and binding.gyp. */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) return fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
  }
}

/** tsx's loader as a file URL, so `--import` works whatever the child's cwd is. */
const TSX_LOADER = import.meta.resolve('tsx');

/** argv that runs a TypeScript file of the repo (path relative to the root, or absolute). */
export function tsxArgv(script: string, args: readonly string[] = [], nodeArgs: readonly string[] = []): string[] {
  const path = isAbsolute(script) ? script : join(REPO_ROOT, script);
  return [process.execPath, ...nodeArgs, '--import', TSX_LOADER, path, ...args];
}

/** argv for `intact <args...>` from source (cli/intact.ts). */
export function intactArgv(args: readonly string[], nodeArgs: readonly string[] = []): string[] {
  return tsxArgv('cli/intact.ts', args, nodeArgs);
}

/** argv for one of the scenario clients (scenarios/clients/<name>.ts). */
export function clientArgv(name: 'bulk-send' | 'bulk-recv' | 'rr', args: readonly string[]): string[] {
  return tsxArgv(`scenarios/clients/${name}.ts`, args);
}

/** argv for the kernel TCP reference server (scenarios/servers/kernel-server.ts). */
export function kernelServerArgv(args: readonly string[]): string[] {
  return tsxArgv('scenarios/servers/kernel-server.ts', args);
}
