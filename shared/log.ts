// Structured logs (pino, JSON lines on stderr). Every process of intact logs through
// here so a lab run can be replayed from the logs of its nodes. INTACT_LOG_LEVEL sets
// the level (default info; tests set silent).
import pino from 'pino';

export type Logger = pino.Logger;

const root = pino(
  {
    level: process.env.INTACT_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  pino.destination({ dest: 2, sync: true }),
);

/** A child logger for one component, e.g. logger('lab'), logger('tcp'). */
export function logger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ component, ...bindings });
}
