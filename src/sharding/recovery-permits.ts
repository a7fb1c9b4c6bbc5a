/**
 * A bound on concurrent entity recoveries on one node (Akka's `max-concurrent-recoveries`,
 * default 50 there too). Recoveries beyond it wait, first come first served, so a burst of
 * activations (a node taking over shards, every entity passivated at once) reads storage
 * at a pace the store can take instead of opening a thousand scans at once. A permit covers a
 * recovery's storage reads only: the snapshot, the highest seqNr and the replay.
 */
/** Akka's default, and this package's. */
export const DEFAULT_MAX_CONCURRENT_RECOVERIES = 50;

export class RecoveryPermits {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly max = DEFAULT_MAX_CONCURRENT_RECOVERIES) {
    if (!(Number.isSafeInteger(max) && max > 0)) throw new TypeError(`max concurrent recoveries must be a positive integer, got ${max}`);
  }

  /** Recoveries holding a permit now. */
  get active(): number {
    return this.running;
  }

  /** Recoveries waiting for a permit. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `recover` once a permit is free and frees it when `recover` settles. */
  async run<T>(recover: () => Promise<T>): Promise<T> {
    if (this.running < this.max) this.running++;
    else await new Promise<void>((resolve) => this.queue.push(resolve)); // the releaser hands its permit over
    try {
      return await recover();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** Runs `recover` within a permit of `storage.recoveries`, or at once when the storage has no bound. */
export function withRecoveryPermit<T>(storage: { readonly recoveries?: RecoveryPermits }, recover: () => Promise<T>): Promise<T> {
  return storage.recoveries ? storage.recoveries.run(recover) : recover();
}
