/**
 * The shipped test kit (`@cloudstate/cluster/testkit`): what a user needs to test code built
 * on this package deterministically. Today: the manual scheduler (virtual time), seeded
 * randomness, the in-memory cluster network (loss, partitions, pause, kill), and the
 * persistence conformance kit with its faulty journal. The protocol test client joins it later.
 */
export { ManualScheduler, SeededRandom } from '../core/index.js';
export { InMemoryNetwork } from '../cluster/index.js';
export * from '../persistence/testkit/index.js';
