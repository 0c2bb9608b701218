// Lab and addon tests need root (namespaces, AF_PACKET). Without root they are skipped
// with a message saying so; under CI (CI=true) they never skip: missing root fails.
import type { Test } from 'tap';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Returns the options to pass to t.test(): skip when not root and not in CI. */
export function rootOnly(): { skip: string | false } {
  if (isRoot()) return { skip: false };
  if (process.env.CI === 'true') return { skip: false };
  return { skip: 'needs root (network namespaces, AF_PACKET): run as root to include it' };
}

/** Fails the test at once in CI when not root, so a CI run can never pass by skipping. */
export function assertRootInCi(t: Test): boolean {
  if (!isRoot()) {
    t.fail('this test needs root and CI=true forbids skipping it');
    return false;
  }
  return true;
}
