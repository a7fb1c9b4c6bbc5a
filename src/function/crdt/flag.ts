/**
 * `Flag`: a boolean that starts false and, once enabled anywhere, stays enabled. The delta is
 * `FlagDelta{value: true}` when enabled here since the last reply; an incoming `false` changes
 * nothing (a flag cannot be switched off).
 */
import type { CrdtDelta } from '../../protocol/index.js';
import { CrdtState } from './state.js';

/** A flag that can only be switched on. */
export class Flag extends CrdtState {
  readonly kind = 'flag';
  #value = false;
  #enabled = false;

  /** Whether the flag is enabled. */
  get value(): boolean {
    return this.#value;
  }

  /** Enables the flag. Returns this. */
  enable(): this {
    if (!this.#value) {
      this.#value = true;
      this.#enabled = true;
      this.changed(() => (this.#value = false));
    }
    return this;
  }

  get hasDelta(): boolean {
    return this.#enabled;
  }
  delta(): CrdtDelta | undefined {
    return this.#enabled ? { flag: { value: true } } : undefined;
  }
  resetDelta(): void {
    this.#enabled = false;
  }
  applyDelta(delta: CrdtDelta): void {
    if (this.deltaOf(delta, 'flag').value) this.#value = true;
  }
  fullDelta(): CrdtDelta {
    return { flag: { value: this.#value } };
  }
}
