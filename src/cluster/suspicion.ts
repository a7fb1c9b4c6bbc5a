/**
 * Lifeguard's suspicion timer, written against the injected scheduler and clock. A suspicion
 * starts with the longest timeout and shrinks, logarithmically, as independent members
 * confirm it (see `suspicionTimeout` in ./formulas.ts); when it runs out, the member is
 * declared dead. The first accuser is not a confirmation of itself.
 */
import type { Cancellable, Clock, Scheduler } from '../core/index.js';
import { suspicionTimeout } from './formulas.js';

export class Suspicion {
  private readonly confirmers = new Set<string>();
  private readonly started: number;
  private timer: Cancellable | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    firstAccuser: string,
    private readonly expected: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly onTimeout: () => void,
  ) {
    this.confirmers.add(firstAccuser);
    this.started = clock.monotonic();
    this.arm();
  }

  /** Independent confirmations so far (accusers other than the first). */
  get confirmations(): number {
    return this.confirmers.size - 1;
  }

  /** Counts `from` as a confirmation; true when it was new (and the deadline moved closer). */
  confirm(from: string): boolean {
    if (this.confirmers.has(from) || this.timer === undefined) return false;
    this.confirmers.add(from);
    this.timer.cancel();
    this.arm();
    return true;
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(): void {
    const timeout = suspicionTimeout(this.confirmations, this.expected, this.minMs, this.maxMs);
    const remaining = timeout - (this.clock.monotonic() - this.started);
    this.timer = this.scheduler.schedule(Math.max(0, remaining), () => {
      this.timer = undefined;
      this.onTimeout();
    });
  }
}
