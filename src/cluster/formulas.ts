/**
 * The pure formulas of SWIM and Lifeguard, apart from the runtime so they can be tested by
 * table (memberlist keeps the same ones in util.go and suspicion.go). Durations are in
 * milliseconds. Nothing here reads a clock or draws a random number except through arguments.
 */
import type { Random } from '../core/index.js';

/** log10 of the cluster size, at least 1: how timeouts and retransmits scale with N. */
export function nodeScale(clusterSize: number): number {
  return Math.max(1, Math.log10(Math.max(1, clusterSize)));
}

/**
 * How many times a membership update is piggybacked before it is dropped: `mult * ceil(log10(N+1))`.
 * Dissemination reaches every member with high probability in O(log N) periods.
 */
export function retransmitLimit(retransmitMult: number, clusterSize: number): number {
  return retransmitMult * Math.ceil(Math.log10(Math.max(0, clusterSize) + 1));
}

/** The shortest suspicion timeout: `suspicionMult * nodeScale(N) * probeInterval`. */
export function minSuspicionTimeout(suspicionMult: number, clusterSize: number, probeIntervalMs: number): number {
  return suspicionMult * nodeScale(clusterSize) * probeIntervalMs;
}

/**
 * Lifeguard's dynamic suspicion timeout: it starts at `maxMs` and falls towards `minMs` as
 * independent confirmations of the suspicion arrive, logarithmically, reaching `minMs` with
 * `expectedConfirmations` of them.
 */
export function suspicionTimeout(confirmations: number, expectedConfirmations: number, minMs: number, maxMs: number): number {
  if (expectedConfirmations < 1) return minMs;
  const frac = Math.log(Math.max(0, confirmations) + 1) / Math.log(expectedConfirmations + 1);
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
}

/**
 * Independent confirmations a suspicion can expect: the indirect probers that could also
 * suspect the member, at most the other members besides this node and the suspect.
 */
export function expectedConfirmations(indirectChecks: number, clusterSize: number): number {
  return Math.max(0, Math.min(indirectChecks, clusterSize - 2));
}

/**
 * Lifeguard's local health awareness: a node that misses acks, or must refute suspicion of
 * itself, is probably slow itself; it stretches its own probe interval and timeout by
 * `(score + 1)` so it does not accuse healthy members. The score stays in `[0, max - 1]`.
 */
export function clampHealthScore(score: number, maxMultiplier: number): number {
  return Math.min(Math.max(0, score), Math.max(0, maxMultiplier - 1));
}

export function scaleByHealth(timeoutMs: number, healthScore: number): number {
  return timeoutMs * (healthScore + 1);
}

/**
 * The next probe order: all members in random order, walked round-robin, reshuffled after each
 * full pass (SWIM's time-bounded completeness: every member is probed within one pass).
 */
export function probeOrder<T>(members: readonly T[], random: Random): T[] {
  return random.shuffle(members);
}

/** Up to `k` members, chosen at random, none of them in `exclude`. */
export function randomMembers<T>(members: readonly T[], k: number, random: Random, exclude: (m: T) => boolean = () => false): T[] {
  return random.sample(members.filter((m) => !exclude(m)), k);
}
