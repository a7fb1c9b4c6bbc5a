/**
 * Time, injected. Every component that needs the time or a timer takes a `Clock` and a
 * `Scheduler` through its options, so tests and simulations can run on virtual time.
 * This module owns the production implementations; it must not keep timers alive
 * (every system timer is unref'd) and must not read the clock anywhere else.
 */

/** Reads the time. */
export interface Clock {
  /** Wall-clock time in milliseconds since the Unix epoch (for timestamps that leave the process). */
  now(): number;
  /** Monotonic time in milliseconds with sub-millisecond precision (for durations and timeouts). */
  monotonic(): number;
}

/** A scheduled task that can be cancelled. Cancelling twice, or after it ran, does nothing. */
export interface Cancellable {
  cancel(): void;
}

/** Runs functions later. Delays are in milliseconds; a negative delay counts as zero. */
export interface Scheduler {
  /** Runs `task` once after `delayMs`. */
  schedule(delayMs: number, task: () => void): Cancellable;
  /** Runs `task` after `initialDelayMs`, then every `intervalMs`, until cancelled. */
  scheduleRepeatedly(initialDelayMs: number, intervalMs: number, task: () => void): Cancellable;
  /** A promise that resolves after `delayMs`. */
  sleep(delayMs: number): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/**
 * The real scheduler. Timers are unref'd: a pending timer never keeps the process alive,
 * so a library user's process exits when its own work is done.
 */
export const systemScheduler: Scheduler = {
  schedule(delayMs, task) {
    const timer = setTimeout(task, Math.max(0, delayMs));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
  scheduleRepeatedly(initialDelayMs, intervalMs, task) {
    let interval: NodeJS.Timeout | undefined;
    let cancelled = false;
    const first = setTimeout(() => {
      if (cancelled) return;
      interval = setInterval(task, Math.max(1, intervalMs));
      interval.unref();
      task();
    }, Math.max(0, initialDelayMs));
    first.unref();
    return {
      cancel() {
        cancelled = true;
        clearTimeout(first);
        if (interval) clearInterval(interval);
      },
    };
  },
  sleep(delayMs) {
    return new Promise((resolve) => {
      setTimeout(resolve, Math.max(0, delayMs)).unref();
    });
  },
};
