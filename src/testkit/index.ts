/**
 * The shipped test kit (`@cloudstate/cluster/testkit`): what a user needs to test code built
 * on this package deterministically. Today: the manual scheduler (virtual time), seeded
 * randomness, and the persistence conformance kit with its faulty journal. The in-memory
 * cluster network and the protocol test client join it with their layers.
 */
export { ManualScheduler, SeededRandom } from '../core/index.js';
export * from '../persistence/testkit/index.js';
