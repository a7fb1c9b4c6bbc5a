/**
 * The Cloudstate proxy (`@cloudstate/cluster/proxy`): `startProxy` runs one in this process
 * (the `cloudstate-proxy` bin does exactly that, see ./main.ts), `parseConfig` reads its flags
 * and environment. Protocol 0.2: event-sourced entities, value entities and actions; CRDT
 * entities are not served yet and not advertised in discovery.
 */
export { parseConfig, usage, ConfigError } from './config.js';
export type { ProxyConfig, StoreKind } from './config.js';
export { startProxy, supportedEntityTypes, PROXY_NAME, PROXY_VERSION } from './proxy.js';
export type { RunningProxy } from './proxy.js';
export { main } from './main.js';
