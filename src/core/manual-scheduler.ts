/**
 * A clock and scheduler for tests and simulations that does not look at the real clock:
 * time moves only when the test calls `advance` / `advanceAsync` (after Akka's
 * ExplicitlyTriggeredScheduler). Tasks due at the same instant run in the order they were
 * scheduled. It owns virtual time only; it never touches real timers.
 */
import type { Cancellable, Clock, Scheduler } from './clock.js';

interface Entry {
  readonly id: number;
  due: number;
  readonly intervalMs: number | undefined;
  readonly task: () => void;
  cancelled: boolean;
}

const flushMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ManualScheduler implements Clock, Scheduler {
  private time: number;
  private readonly epochOffset: number;
  private nextId = 0;
  private queue: Entry[] = [];

  /** @param startMs the wall-clock time `now()` reports before any advance (default 1.6e12). */
  constructor(startMs = 1_600_000_000_000) {
    this.time = 0;
    this.epochOffset = startMs;
  }

  now(): number {
    return this.epochOffset + this.time;
  }

  monotonic(): number {
    return this.time;
  }

  /** Number of tasks waiting to run. */
  get pending(): number {
    return this.queue.filter((e) => !e.cancelled).length;
  }

  schedule(delayMs: number, task: () => void): Cancellable {
    return this.add(Math.max(0, delayMs), undefined, task);
  }

  scheduleRepeatedly(initialDelayMs: number, intervalMs: number, task: () => void): Cancellable {
    return this.add(Math.max(0, initialDelayMs), Math.max(1, intervalMs), task);
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.schedule(delayMs, resolve));
  }

  /** Moves time forward by `ms`, running every task that falls due, synchronously. */
  advance(ms: number): void {
    const target = this.time + Math.max(0, ms);
    for (let e = this.takeDue(target); e; e = this.takeDue(target)) this.run(e);
    this.time = target;
  }

  /**
   * Like `advance`, but lets promise callbacks settle after each task, so work chained on a
   * timer through promises (`await scheduler.sleep(…)`) runs at the virtual time it belongs to.
   */
  async advanceAsync(ms: number, options: { microtaskTurns?: number } = {}): Promise<void> {
    const target = this.time + Math.max(0, ms);
    const turns = options.microtaskTurns;
    // A full macrotask turn after each task is thorough; a few microtask turns are much faster
    // for big simulations whose promise chains are known to be short.
    const settle = turns === undefined ? flushMicrotasks : async () => {
      for (let i = 0; i < turns; i++) await Promise.resolve();
    };
    await settle();
    for (let e = this.takeDue(target); e; e = this.takeDue(target)) {
      this.run(e);
      await settle();
    }
    this.time = target;
  }

  private add(delay: number, intervalMs: number | undefined, task: () => void): Cancellable {
    const entry: Entry = { id: this.nextId++, due: this.time + delay, intervalMs, task, cancelled: false };
    this.insert(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
        this.queue = this.queue.filter((e) => e !== entry);
      },
    };
  }

  private insert(entry: Entry): void {
    // Keep the queue sorted by (due, id); a binary search keeps inserts cheap in big simulations.
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.queue[mid]!;
      if (m.due < entry.due || (m.due === entry.due && m.id < entry.id)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, entry);
  }

  private takeDue(target: number): Entry | undefined {
    const head = this.queue[0];
    if (!head || head.due > target) return undefined;
    this.queue.shift();
    return head;
  }

  private run(entry: Entry): void {
    this.time = Math.max(this.time, entry.due);
    if (entry.intervalMs !== undefined && !entry.cancelled) {
      entry.due += entry.intervalMs;
      this.insert(entry);
    }
    entry.task();
  }
}
