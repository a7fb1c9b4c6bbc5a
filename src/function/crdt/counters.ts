/**
 * Counters: `GCounter` (grow only) and `PNCounter` (up and down). The value is a JavaScript
 * number (exact up to 2^53); the delta is the sum of the local changes since the last reply
 * (`GCounterDelta.increment`, `PNCounterDelta.change`), and an incoming delta is added.
 */
import { int64ToNumber, type CrdtDelta } from '../../protocol/index.js';
import { CrdtState } from './state.js';

function checkInteger(what: string, n: number): void {
  if (!Number.isSafeInteger(n)) throw new Error(`${what} must be a safe integer, got ${n}`);
}

/** A counter that only grows. */
export class GCounter extends CrdtState {
  readonly kind = 'gcounter';
  #value = 0;
  #increment = 0;

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /** Adds `by` (a non-negative integer, default 1). Returns this. */
  increment(by = 1): this {
    checkInteger('GCounter increment', by);
    if (by < 0) throw new Error(`a GCounter cannot be decremented (increment ${by})`);
    if (by === 0) return this;
    this.#value += by;
    this.#increment += by;
    this.changed(() => (this.#value -= by));
    return this;
  }

  get hasDelta(): boolean {
    return this.#increment > 0;
  }
  delta(): CrdtDelta | undefined {
    return this.hasDelta ? { gcounter: { increment: this.#increment } } : undefined;
  }
  resetDelta(): void {
    this.#increment = 0;
  }
  applyDelta(delta: CrdtDelta): void {
    this.#value += int64ToNumber(this.deltaOf(delta, 'gcounter').increment);
  }
  fullDelta(): CrdtDelta {
    return { gcounter: { increment: this.#value } };
  }
}

/** A counter that goes up and down. */
export class PNCounter extends CrdtState {
  readonly kind = 'pncounter';
  #value = 0;
  #change = 0;

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /** Adds `by` (an integer, default 1; negative decrements). Returns this. */
  increment(by = 1): this {
    checkInteger('PNCounter change', by);
    if (by === 0) return this;
    this.#value += by;
    this.#change += by;
    this.changed(() => (this.#value -= by));
    return this;
  }

  /** Subtracts `by` (default 1). Returns this. */
  decrement(by = 1): this {
    return this.increment(-by);
  }

  get hasDelta(): boolean {
    return this.#change !== 0;
  }
  delta(): CrdtDelta | undefined {
    return this.hasDelta ? { pncounter: { change: this.#change } } : undefined;
  }
  resetDelta(): void {
    this.#change = 0;
  }
  applyDelta(delta: CrdtDelta): void {
    this.#value += int64ToNumber(this.deltaOf(delta, 'pncounter').change);
  }
  fullDelta(): CrdtDelta {
    return { pncounter: { change: this.#value } };
  }
}
