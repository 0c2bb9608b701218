// Option parsers the subcommands share, so `--port` and `--app-opt` mean the same
// thing, with the same errors, wherever they appear.
import { InvalidArgumentError } from 'commander';
import { checkPrefix } from '../lab/plan.js';

/** For repeatable options (`--app-opt a=1 --app-opt b=2`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return n;
}

/** A lab prefix (`--prefix`), checked as the lab checks it. */
export function prefixArg(v: string): string {
  try {
    return checkPrefix(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function nonNegativeMs(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a whole number of milliseconds');
  return n;
}
