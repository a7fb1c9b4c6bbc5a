/**
 * The TypeScript user-function library (`@cloudstate/cluster/function`). Not built yet: this
 * entry point exists so the package's exports are stable; it exports nothing until the
 * library lands.
 */
export {};
