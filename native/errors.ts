// The addon throws plain Errors carrying a `code` (and `errno`, `syscall` for failed
// system calls); callers get IntactError instances they can branch on by code.
import { IntactError } from '../shared/errors.js';

/** A failed system call: `errno` is negative, as in Node's own errors (-1 is EPERM). */
export class IntactSyscallError extends IntactError {
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  constructor(code: string, message: string, errno: number | undefined, syscall: string | undefined, cause: unknown) {
    super(code, message, { cause });
    this.name = 'IntactSyscallError';
    this.errno = errno;
    this.syscall = syscall;
  }
}

interface NativeErrorShape {
  message: string;
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
}

/** Re-types an error thrown by the addon; anything else (TypeError...) passes through. */
export function fromNative(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof IntactError) return e;
  const n = e as NativeErrorShape;
  if (typeof n.code !== 'string' || !n.code.startsWith('ERR_INTACT_')) return e;
  const errno = typeof n.errno === 'number' ? n.errno : undefined;
  const syscall = typeof n.syscall === 'string' ? n.syscall : undefined;
  return new IntactSyscallError(n.code, n.message, errno, syscall, e);
}

/** Runs a call into the addon, re-typing what it throws. */
export function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}
