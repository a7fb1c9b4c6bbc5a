/**
 * `@cloudstate/cluster`: the embeddable toolkit: the foundation (time, randomness, errors,
 * logging), cluster membership (`Cluster`, SWIM with Lifeguard), the persistence layer and
 * cluster sharding (`Sharding`, with event-sourced, durable-state and in-memory entities).
 */
export * from './core/index.js';
export * from './cluster/index.js';
export * from './persistence/index.js';
export * from './sharding/index.js';
