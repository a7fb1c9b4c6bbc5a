/**
 * Randomness, injected and seedable. A simulation that fails prints its seed; the same seed
 * replays the same run. The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counter),
 * seeded through splitmix32: fast, 128 bits of state, and good enough for protocol choices.
 * Not for cryptography.
 */
import { randomInt } from 'node:crypto';

export interface Random {
  /** The seed this generator started from (print it when a test fails). */
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** A new array with the elements in random order (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** Up to `k` distinct elements chosen uniformly at random. */
  sample<T>(items: readonly T[], k: number): T[];
  /** An independent generator derived from this one (for one component of a simulation). */
  fork(): Random;
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t ^= t >>> 15;
    return t >>> 0;
  };
}

export class SeededRandom implements Random {
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    const mix = splitmix32(this.seed);
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A generator seeded from the operating system's randomness (the production default). */
  static fromEntropy(): SeededRandom {
    return new SeededRandom(randomInt(0, 2 ** 32 - 1));
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextUint32() / 4294967296;
  }

  int(maxExclusive: number): number {
    if (!(maxExclusive > 0)) throw new RangeError(`maxExclusive must be positive, got ${maxExclusive}`);
    return Math.floor(this.next() * maxExclusive);
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }

  sample<T>(items: readonly T[], k: number): T[] {
    return this.shuffle(items).slice(0, Math.max(0, k));
  }

  fork(): Random {
    return new SeededRandom(this.nextUint32());
  }
}
