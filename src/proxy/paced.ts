/**
 * Paces the ingress's unary calls: at most `perTurn` start in one turn of the event loop, the
 * rest start in later turns, in arrival order.
 *
 * Why: a loop turn reads every request that arrived (64 connections' worth under load) and
 * everything it sends the user function leaves in one HTTP/2 write at the end of the turn. The
 * user function then works while the proxy waits, the answers come back together, are stored
 * in one batch and answered together: the commands move in one wave, and each process idles
 * while the wave is elsewhere. Starting a few calls per turn lets the user function begin on
 * the first ones while the proxy still reads the others. Measured on 2 cores
 * (`benchmarks/support/proxy-profile.ts http leveldb`, 64 in flight): 8 per turn gave
 * 8.35k commands/s against 7.5k unpaced; 4 per turn was slower (7.35k), 16 and 32 in between.
 * Under light load a turn holds a call or two and nothing waits.
 */
import type { Dispatcher } from './dispatch.js';

/** Calls per turn that start at once (see the module comment). */
export const DEFAULT_CALLS_PER_TURN = 8;

/** Runs at most `perTurn` tasks per turn; `nextTurn` schedules a callback for the next turn (`setImmediate`). */
export class TurnBudget {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  private resetScheduled = false;

  constructor(
    private readonly perTurn: number,
    private readonly nextTurn: (callback: () => void) => void = setImmediate,
  ) {
    if (!(Number.isSafeInteger(perTurn) && perTurn > 0)) throw new TypeError(`calls per turn must be a positive integer, got ${perTurn}`);
  }

  /** Tasks waiting for a later turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `task` now if this turn has room and nothing waits before it, else in a later turn. */
  run(task: () => void): void {
    if (!this.tryNow()) this.waiting.push(task);
    else task();
  }

  /** Takes a place in this turn if it has room and nothing waits: the caller starts its task now. */
  tryNow(): boolean {
    return this.waiting.length === 0 && this.take();
  }

  private take(): boolean {
    if (this.used >= this.perTurn) return false;
    this.used++;
    this.scheduleReset();
    return true;
  }

  /** At the next turn: a fresh budget, spent first on the tasks that wait. */
  private scheduleReset(): void {
    if (this.resetScheduled) return;
    this.resetScheduled = true;
    this.nextTurn(() => {
      this.resetScheduled = false;
      this.used = 0;
      while (this.waiting.length > 0 && this.take()) this.waiting.shift()!();
    });
  }
}

/** `inner` with its unary calls started through `budget`; streams start at once. */
export function pacedDispatcher(inner: Dispatcher, budget: TurnBudget): Dispatcher {
  return {
    unary: (method, payload, metadata, cancel) =>
      budget.tryNow()
        ? inner.unary(method, payload, metadata, cancel) // the common case costs nothing more
        : new Promise((resolve, reject) => budget.run(() => inner.unary(method, payload, metadata, cancel).then(resolve, reject))),
    stream: (call) => inner.stream(call),
  };
}
