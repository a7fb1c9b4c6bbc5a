/**
 * Group commit: concurrent appends become one storage write. Appends queue up; whenever the
 * plugin can take another batch, the queue is drained into one `writeBatch` call holding at
 * most one write per persistence id (so storage checks each id's expected seqNr once),
 * bounded in writes and bytes. Batches form on their own under load: while one is stored,
 * the next one fills.
 *
 * Ordering: an id with a write in flight waits for it, so each id's writes are stored in call
 * order even with several batches in flight. An entity that pipelines appends (issues the
 * next before the last is acknowledged) has its queued, contiguous writes merged into one
 * atomic write, as Akka's journal does with one actor's pending writes; a merged write that
 * storage rejects is retried write by write, so a rejection still reaches only its own caller.
 */
import { JournalRejectedError } from './spi/errors.js';
import type { AtomicWrite, WriteOutcome } from './spi/journal.js';
import { writeBytes } from './validate.js';

interface Pending {
  readonly write: AtomicWrite;
  readonly bytes: number;
  /** Set after a merged write was rejected: this write goes alone. */
  solo: boolean;
  resolve(outcome: WriteOutcome): void;
  reject(err: unknown): void;
}

/** Writes of one id that go to storage as one atomic write. */
type Group = Pending[];

export interface GroupCommitOptions {
  /** Batches in flight at once. */
  maxBatchesInFlight: number;
  /** Writes per batch. */
  maxBatchWrites: number;
  /** Approximate bytes per batch (a single larger write still goes, alone). */
  maxBatchBytes: number;
  /** Events per atomic write, also for merged writes. */
  maxEventsPerWrite: number;
}

const lastSeqNr = (w: AtomicWrite) => w.events[w.events.length - 1]!.seqNr;

function merge(group: Group): AtomicWrite {
  if (group.length === 1) return group[0]!.write;
  return { persistenceId: group[0]!.write.persistenceId, events: group.flatMap((p) => p.write.events) };
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
      this.queue.push({ write, bytes: writeBytes(write), solo: false, resolve, reject });
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

  private takeBatch(): Group[] {
    const { maxBatchWrites, maxBatchBytes, maxEventsPerWrite } = this.options;
    const groups = new Map<string, { members: Group; events: number }>();
    const closed = new Set<string>(); // ids whose next queued write must wait for a later batch
    const rest: Pending[] = [];
    let bytes = 0;
    for (const p of this.queue) {
      const id = p.write.persistenceId;
      const fitsBytes = bytes === 0 || bytes + p.bytes <= maxBatchBytes;
      const group = closed.has(id) ? undefined : groups.get(id);
      if (group) {
        const tail = group.members[group.members.length - 1]!;
        const joins =
          !p.solo && !tail.solo && fitsBytes &&
          p.write.events[0]!.seqNr === lastSeqNr(tail.write) + 1 &&
          group.events + p.write.events.length <= maxEventsPerWrite;
        if (joins) {
          group.members.push(p);
          group.events += p.write.events.length;
          bytes += p.bytes;
          continue;
        }
      } else if (!closed.has(id) && !this.busyIds.has(id) && groups.size < maxBatchWrites && fitsBytes) {
        groups.set(id, { members: [p], events: p.write.events.length });
        bytes += p.bytes;
        continue;
      }
      closed.add(id); // later writes of this id stay behind this one
      rest.push(p);
    }
    this.queue = rest;
    return [...groups.values()].map((g) => g.members);
  }

  private dispatch(batch: Group[]): void {
    this.inFlight++;
    for (const g of batch) this.busyIds.add(g[0]!.write.persistenceId);
    const retry: Pending[] = [];
    const settle = () => {
      for (const g of batch) this.busyIds.delete(g[0]!.write.persistenceId);
      this.inFlight--;
      if (retry.length > 0) this.queue = [...retry, ...this.queue];
      this.pump();
    };
    let call: Promise<WriteOutcome[]>;
    try {
      call = this.writeBatch(batch.map(merge));
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then(
      (outcomes) => {
        batch.forEach((group, i) => {
          const outcome = outcomes[i];
          if (group.length > 1 && outcome instanceof JournalRejectedError) {
            for (const p of group) p.solo = true;
            retry.push(...group); // find which of the merged writes storage cannot take
          } else {
            for (const p of group) p.resolve(outcome);
          }
        });
        settle();
      },
      (err: unknown) => {
        for (const g of batch) for (const p of g) p.reject(err);
        settle();
      },
    );
  }
}
