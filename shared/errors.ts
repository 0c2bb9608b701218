// Errors with a stable `code`, in the manner of Node's own (ERR_...), so scripts and
// callers branch on the code, never on the message text.

export class IntactError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IntactError';
    this.code = code;
  }
}

export function isIntactError(e: unknown, code?: string): e is IntactError {
  return e instanceof IntactError && (code === undefined || e.code === code);
}
