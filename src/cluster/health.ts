/**
 * Lifeguard's local health awareness: a score that rises when this node shows signs of being
 * slow itself (a probe that got no ack and fewer nacks than asked for, having to refute a
 * suspicion of itself) and falls with each successful probe. Timeouts are multiplied by
 * `score + 1`, so a struggling node accuses others more slowly.
 */
import { clampHealthScore, scaleByHealth } from './formulas.js';

export class LocalHealth {
  private value = 0;

  constructor(private readonly maxMultiplier: number) {}

  get score(): number {
    return this.value;
  }

  apply(delta: number): void {
    this.value = clampHealthScore(this.value + delta, this.maxMultiplier);
  }

  scale(timeoutMs: number): number {
    return scaleByHealth(timeoutMs, this.value);
  }
}
