/**
 * The error base class. Every error this package throws on purpose is a `CloudstateError`
 * with a stable `code` (callers and logs match on the code, never on the message) and, where
 * a foreign error caused it, that error as `cause`. Foreign errors are mapped once, at the
 * boundary where they enter (a driver, a socket), never passed on raw.
 */

export class CloudstateError extends Error {
  /** A stable, documented identifier such as `ERR_JOURNAL_SEQUENCE_CONFLICT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `err` is a `CloudstateError` with the given code. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof CloudstateError && err.code === code;
}

/** A short description of any thrown value, for messages that wrap a cause. */
/** `err` as an Error (a thrown non-Error becomes one with its text), for APIs that carry errors as values. */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
