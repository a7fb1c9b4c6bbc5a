/**
 * Group commit: concurrent appends become one storage write. Appends queue up; whenever the
 * plugin can take another batch, the queue is drained into one `writeBatch` call of at most
 * one write per persistence id (so storage checks each id's expected seqNr once), bounded in
 * writes and bytes. A persistence id with a write in flight waits for it, which keeps each
 * id's writes in call order even with several batches in flight. Batches form on their own
 * under load: while one is being stored, the next one fills.
 */
import type { AtomicWrite, WriteOutcome } from './spi/journal.js';
import { writeBytes } from './validate.js';

interface Pending {
  readonly write: AtomicWrite;
  readonly bytes: number;
  resolve(outcome: WriteOutcome): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions {
  /** Batches in flight at once. */
  maxBatchesInFlight: number;
  /** Writes per batch. */
  maxBatchWrites: number;
  /** Approximate bytes per batch (a single larger write still goes, alone). */
  maxBatchBytes: number;
}

export class GroupCommitter {
  private queue: Pending[] = [];
  private readonly busyIds = new Set<string>();
  private inFlight = 0;
  private pumpScheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly writeBatch: (writes: readonly AtomicWrite[]) => Promise<WriteOutcome[]>,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Queues the write; resolves to its outcome, rejects when its batch failed. */
  submit(write: AtomicWrite): Promise<WriteOutcome> {
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ write, bytes: writeBytes(write), resolve, reject });
      this.schedulePump();
    });
  }

  /** Resolves when nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes submitted in the same tick share a batch: the first pump runs after them. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxBatchesInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      if (batch.length === 0) break;
      this.dispatch(batch);
    }
    if (this.queue.length === 0 && this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const skipped = new Set<string>();
    let bytes = 0;
    for (const p of this.queue) {
      const id = p.write.persistenceId;
      const fits = batch.length < this.options.maxBatchWrites && (batch.length === 0 || bytes + p.bytes <= this.options.maxBatchBytes);
      if (fits && !this.busyIds.has(id) && !skipped.has(id)) {
        batch.push(p);
        bytes += p.bytes;
        skipped.add(id); // a second write for the id waits for the next batch
      } else {
        skipped.add(id); // keeps later writes of this id behind this one
        rest.push(p);
      }
    }
    this.queue = rest;
    return batch;
  }

  private dispatch(batch: Pending[]): void {
    this.inFlight++;
    for (const p of batch) this.busyIds.add(p.write.persistenceId);
    const settle = () => {
      for (const p of batch) this.busyIds.delete(p.write.persistenceId);
      this.inFlight--;
      this.pump();
    };
    let call: Promise<WriteOutcome[]>;
    try {
      call = this.writeBatch(batch.map((p) => p.write));
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then(
      (outcomes) => {
        batch.forEach((p, i) => p.resolve(outcomes[i]));
        settle();
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
        settle();
      },
    );
  }
}
