/**
 * `@cloudstate/cluster`: the embeddable toolkit. Today it holds the foundation (time,
 * randomness, errors, logging), cluster membership (`Cluster`, SWIM with Lifeguard) and the
 * persistence layer; `Sharding` joins it when its layer lands.
 */
export * from './core/index.js';
export * from './cluster/index.js';
export * from './persistence/index.js';
