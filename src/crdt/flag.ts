/**
 * Flag: a boolean that can only be switched on (Akka Distributed Data's `Flag`; a delta-state
 * CRDT in the sense of Almeida, Shoker, Baquero, "Delta State Replicated Data Types"). The join
 * is `or`; switching on has the delta `on`. Nothing to prune.
 */
import { assertKind } from './types.js';
import type { Crdt } from './types.js';

const NONE: ReadonlySet<string> = new Set();

export class Flag implements Crdt<Flag> {
  static readonly off = new Flag(false);
  static readonly on = new Flag(true);
  static readonly empty = Flag.off;
  readonly kind = 'flag' as const;

  private constructor(
    readonly enabled: boolean,
    readonly delta: Flag | undefined = undefined,
  ) {}

  get value(): boolean {
    return this.enabled;
  }

  /** Switches the flag on (there is no way back). */
  switchOn(): Flag {
    return this.enabled ? this : new Flag(true, Flag.on);
  }

  merge(other: Flag): Flag {
    return this.enabled || other.enabled ? Flag.on : Flag.off;
  }

  mergeDelta(delta: Flag): Flag {
    return this.merge(delta);
  }

  resetDelta(): Flag {
    return this.enabled ? Flag.on : Flag.off;
  }

  modifiedByNodes(): ReadonlySet<string> {
    return NONE;
  }

  needPruningFrom(): boolean {
    return false;
  }

  prune(): Flag {
    return this;
  }

  pruningCleanup(): Flag {
    return this;
  }

  toJSON() {
    return { t: 'fl', v: this.enabled };
  }

  static fromJSON(json: { t: string; v?: boolean }): Flag {
    assertKind(json, 'fl', 'flag');
    return json.v ? Flag.on : Flag.off;
  }
}
