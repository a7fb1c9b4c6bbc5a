/**
 * `@cloudstate/cluster`: the embeddable toolkit. Today it holds the foundation (time,
 * randomness, errors, logging) and the persistence layer; membership (`Cluster`) and
 * `Sharding` join it as their layers land.
 */
export * from './core/index.js';
export * from './persistence/index.js';
