/**
 * A consumer's timing: how often it polls the journal, when it saves its offset, and how it
 * backs off after a failure (pure). Defaults after the reference proxy's projection settings
 * (`withSaveOffset(20, 1.second)`, `withRestartBackoff(3.seconds, 30.seconds, 0.2)`).
 */

export interface EventingSettings {
  /** Events read from the journal per query (default 100); a full batch is followed by the next at once. */
  readonly batchSize: number;
  /** Wait between queries while the log has nothing new, ms (default 200). */
  readonly pollIntervalMs: number;
  /** Save the offset after this many processed events (default 20)… */
  readonly saveEveryEvents: number;
  /** …or once the oldest unsaved one is this old, ms (default 1,000); and always on stop. */
  readonly saveAfterMs: number;
  /** Backoff after the first failure, ms (default 3,000); doubles per failure in a row. */
  readonly minBackoffMs: number;
  /** Longest backoff, ms (default 30,000). */
  readonly maxBackoffMs: number;
  /** Up to this fraction is added to each backoff, at random (default 0.2). */
  readonly randomFactor: number;
}

export const defaultEventingSettings: EventingSettings = {
  batchSize: 100,
  pollIntervalMs: 200,
  saveEveryEvents: 20,
  saveAfterMs: 1_000,
  minBackoffMs: 3_000,
  maxBackoffMs: 30_000,
  randomFactor: 0.2,
};

/**
 * The wait before retry number `failures` (1 = after the first failure), ms:
 * `min(max, min · 2^(failures-1)) · (1 + random · randomFactor)`, with `random` in [0, 1).
 */
export function backoffMs(failures: number, settings: Pick<EventingSettings, 'minBackoffMs' | 'maxBackoffMs' | 'randomFactor'>, random: number): number {
  const exponent = Math.max(0, failures - 1);
  const base = Math.min(settings.maxBackoffMs, settings.minBackoffMs * 2 ** Math.min(exponent, 30));
  return base * (1 + random * settings.randomFactor);
}

/** Whether the unsaved progress is due to be saved. */
export function offsetSaveDue(unsavedEvents: number, oldestUnsavedAtMs: number, nowMs: number, settings: Pick<EventingSettings, 'saveEveryEvents' | 'saveAfterMs'>): boolean {
  if (unsavedEvents <= 0) return false;
  return unsavedEvents >= settings.saveEveryEvents || nowMs - oldestUnsavedAtMs >= settings.saveAfterMs;
}
