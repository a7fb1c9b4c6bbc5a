/**
 * Delta-state CRDTs and the replicator (`@cloudstate/cluster/crdt`). Not built yet: this
 * entry point exists so the package's exports are stable; it exports nothing until the CRDT
 * layer lands.
 */
export {};
