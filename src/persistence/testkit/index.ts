/** The persistence test kit: the conformance suite every plugin runs, and a faulty journal. */
export { runStorageConformance, conformanceCases, withPlugin } from './conformance.js';
export type { ConformanceCase, ConformanceTarget, TestRegistrar } from './conformance.js';
export { FaultyJournal } from './faulty-journal.js';
export type { FaultyOperation } from './faulty-journal.js';
export { collect, event, write, uniqueId, payloadFor } from './fixtures.js';
