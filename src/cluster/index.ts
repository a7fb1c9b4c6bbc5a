/**
 * The membership layer's public surface: `Cluster` for applications; the SWIM node, the
 * transport SPI and its transports, presets and member types for those who build on it.
 */
export { Cluster, resolveSeeds } from './cluster.js';
export type { ClusterOptions } from './cluster.js';
export { presets } from './config.js';
export type { SwimConfig } from './config.js';
export { SwimNode } from './swim.js';
export type { SwimNodeOptions, SwimStats } from './swim.js';
export type { ExchangeHandler, PacketHandler, Transport } from './transport.js';
export { InMemoryNetwork } from './transports/in-memory.js';
export type { InMemoryNetworkOptions } from './transports/in-memory.js';
export { UdpTcpTransport, splitAddress } from './transports/udp-tcp.js';
export type { UdpTcpOptions } from './transports/udp-tcp.js';
export type { Member, MemberStatus, MembershipEvent } from './types.js';
