// The lab drives the system's own tools (ip, nft, ping, ethtool) rather than netlink
// directly: the commands it runs are the ones a person would type to debug it, and
// they are logged at debug level so a failing lab can be replayed by hand.
import { execFile, execFileSync, type ExecFileException } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { IntactError } from '../shared/errors.js';
import { logger } from '../shared/log.js';

const log = logger('lab');

/** Tools the lab may need, and the Debian package that provides each. */
export const TOOL_PACKAGES = {
  ip: 'iproute2',
  nft: 'nftables',
  ping: 'iputils-ping',
  ethtool: 'ethtool',
  taskset: 'util-linux',
} as const;
export type Tool = keyof typeof TOOL_PACKAGES;

// sbin directories are often missing from PATH under sudo or in CI shells.
const EXTRA_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const resolved = new Map<Tool, string>();

/** Absolute path of a tool, or ERR_INTACT_TOOL_MISSING naming its package. */
export function toolPath(tool: Tool): string {
  const hit = resolved.get(tool);
  if (hit) return hit;
  const p = findTool(tool, [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS]);
  resolved.set(tool, p);
  return p;
}

/** Looks for a tool in the given directories only (toolPath without the cache). */
export function findTool(tool: Tool, dirs: readonly string[]): string {
  for (const d of dirs) {
    const p = join(d, tool);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  throw new IntactError(
    'ERR_INTACT_TOOL_MISSING',
    `the lab needs \`${tool}\`, which is not installed: install the Debian package ${TOOL_PACKAGES[tool]} (apt-get install -y ${TOOL_PACKAGES[tool]})`,
  );
}

export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return;
  throw new IntactError(
    'ERR_INTACT_NOT_ROOT',
    'the lab needs root (it creates network namespaces, veth pairs and nftables rules): run it with sudo',
  );
}

/** Root plus every tool named: the check each lab command makes before touching anything. */
export function requireLab(tools: readonly Tool[] = ['ip', 'nft']): void {
  requireRoot();
  for (const t of tools) toolPath(t);
}

export interface RunResult {
  /** Exit status; 128 + signal number when killed by a signal (as a shell reports it). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin. */
  input?: string;
  /** Return a non-zero exit instead of throwing ERR_INTACT_LAB_COMMAND. */
  allowFail?: boolean;
  timeoutMs?: number;
  /** Signal sent at timeoutMs (default SIGKILL); SIGINT lets e.g. ping print its summary. */
  killSignal?: NodeJS.Signals;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };

function commandError(argv: readonly string[], r: RunResult): IntactError {
  const err = r.stderr.trim() || r.stdout.trim();
  return new IntactError('ERR_INTACT_LAB_COMMAND', `\`${argv.join(' ')}\` failed (exit ${r.code})${err ? `: ${err}` : ''}`);
}

/** Runs a tool and collects its output. */
export function run(tool: Tool, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const argv = [toolPath(tool), ...args];
  log.debug({ argv }, 'run');
  return new Promise((resolve, reject) => {
    const child = execFile(
      argv[0]!,
      argv.slice(1),
      { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: opts.timeoutMs ?? 0, killSignal: opts.killSignal ?? 'SIGKILL' },
      (error: ExecFileException | null, stdout: string, stderr: string) => {
        let code = 0;
        if (error) {
          if (typeof error.code === 'number') code = error.code;
          else if (error.signal) code = 128 + (SIGNALS[error.signal] ?? 0);
          else return reject(error);
        }
        const r = { code, stdout, stderr };
        if (code !== 0 && !opts.allowFail) return reject(commandError([tool, ...args], r));
        resolve(r);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Synchronous twin of run(), for process 'exit' handlers where nothing async runs. */
export function runSync(tool: Tool, args: readonly string[], opts: RunOptions = {}): RunResult {
  const argv = [toolPath(tool), ...args];
  log.debug({ argv }, 'run (sync)');
  try {
    const stdout = execFileSync(argv[0]!, argv.slice(1), {
      encoding: 'utf8',
      input: opts.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 0,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const x = e as { status?: number | null; signal?: string | null; stdout?: string; stderr?: string };
    const code = typeof x.status === 'number' ? x.status : 128 + (SIGNALS[x.signal ?? ''] ?? 0);
    const r = { code, stdout: String(x.stdout ?? ''), stderr: String(x.stderr ?? '') };
    if (!opts.allowFail) throw commandError([tool, ...args], r);
    return r;
  }
}
