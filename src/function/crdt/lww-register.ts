/**
 * `LWWRegister`: a last-write-wins register. Each write carries a clock, chosen per write (the
 * protocol's `CrdtClock`): the proxy's wall clock (DEFAULT), its negation (REVERSE: the first
 * write wins), a custom value (CUSTOM), or a custom value the proxy raises past the current one
 * when needed (CUSTOM_AUTO_INCREMENT). Which write wins is the proxy's decision; here the register
 * holds the latest value it knows, and the delta is the last local write since the last reply.
 */
import { int64ToNumber, type CrdtDelta } from '../../protocol/index.js';
import { CrdtState, packed, unpacked, type DeltaContext, type Packed } from './state.js';

/** The clocks of `LWWRegister.set` (values of the protocol's `CrdtClock`). */
export const Clock = {
  /** The proxy's wall clock, in milliseconds. */
  DEFAULT: 0,
  /** The negated wall clock: the first write wins. */
  REVERSE: 1,
  /** `customClockValue` is the clock. */
  CUSTOM: 2,
  /** `customClockValue`, raised by the proxy past the current clock when it is not newer. */
  CUSTOM_AUTO_INCREMENT: 3,
} as const;
export type Clock = (typeof Clock)[keyof typeof Clock];

interface Write<T> {
  readonly value: Packed<T>;
  readonly clock: Clock;
  readonly customClockValue: number;
}

/** A last-write-wins register. */
export class LWWRegister<T = unknown> extends CrdtState {
  readonly kind = 'lwwregister';
  #current: Write<T> | undefined;
  #pending: Write<T> | undefined;

  /**
   * A register holding `initialValue` (sent to the proxy with the next reply, like any write).
   * Without arguments (as made for a replicated register) it holds nothing until a delta arrives.
   */
  constructor(...initial: [] | [value: T, clock?: Clock, customClockValue?: number]) {
    super();
    if (initial.length > 0) this.set(initial[0] as T, initial[1], initial[2]);
  }

  /** The current value. */
  get value(): T {
    if (!this.#current) throw new Error('this LWWRegister holds no value yet');
    return this.#current.value.value;
  }

  /** Sets the value with the default clock. */
  set value(value: T) {
    this.set(value);
  }

  /** Sets the value, with the given clock (default: the proxy's wall clock). Returns this. */
  set(value: T, clock: Clock = Clock.DEFAULT, customClockValue = 0): this {
    if (!Object.values(Clock).includes(clock)) throw new Error(`unknown LWWRegister clock ${String(clock)}`);
    const write = { value: packed(value), clock, customClockValue };
    const current = this.#current;
    const same = current && current.value.key === write.value.key && current.clock === clock && current.customClockValue === customClockValue;
    if (same) return this;
    this.#pending = write;
    this.#current = write;
    this.changed(() => (this.#current = current));
    return this;
  }

  get hasDelta(): boolean {
    return this.#pending !== undefined;
  }
  delta(): CrdtDelta | undefined {
    return this.#pending ? toDelta(this.#pending) : undefined;
  }
  resetDelta(): void {
    this.#pending = undefined;
  }
  applyDelta(delta: CrdtDelta, context: DeltaContext): void {
    const d = this.deltaOf(delta, 'lwwregister');
    if (!d.value) return; // nothing written yet (the full delta of an empty register)
    this.#current = {
      value: unpacked(d.value, context) as Packed<T>,
      clock: (d.clock ?? 0) as Clock,
      customClockValue: int64ToNumber(d.custom_clock_value),
    };
  }
  fullDelta(): CrdtDelta {
    return this.#current ? toDelta(this.#current) : { lwwregister: {} };
  }
}

function toDelta<T>(write: Write<T>): CrdtDelta {
  return { lwwregister: { value: write.value.any, clock: write.clock, custom_clock_value: write.customClockValue } };
}
