/**
 * The membership layer's public surface: `Cluster` for applications (membership, lifecycle,
 * split-brain handling, reliable messaging, singletons); the SWIM node, the transport SPI and
 * its transports, presets, the keyring and member types for those who build on it.
 */
export { Cluster, resolveSeeds } from './cluster.js';
export type { ClusterEvents, ClusterOptions } from './cluster.js';
export { presets, swimConfig } from './config.js';
export type { SwimConfig } from './config.js';
export { Keyring, SEAL_OVERHEAD } from './keyring.js';
export type { KeyInput } from './keyring.js';
export { byAge, hasRole } from './lifecycle.js';
export type { ClusterMember, LifecycleEvent, LifecycleEventType, MemberState } from './lifecycle.js';
export { Messenger } from './messaging.js';
export type { MessengerOptions, MessengerStats, Peer } from './messaging.js';
export { ClusterSingleton } from './singleton.js';
export type { MessageBus, SingletonBehavior, SingletonOptions } from './singleton.js';
export { singletonTarget } from './singleton-rules.js';
export { survives } from './split-brain.js';
export type { DowningPolicy } from './split-brain.js';
export { SwimNode } from './swim.js';
export type { SwimNodeOptions, SwimStats } from './swim.js';
export type { ExchangeHandler, PacketHandler, Stream, StreamHandler, Transport } from './transport.js';
export { InMemoryNetwork } from './transports/in-memory.js';
export type { InMemoryNetworkOptions } from './transports/in-memory.js';
export { secureTransport } from './transports/secure.js';
export type { SecureTransport, SecureTransportStats } from './transports/secure.js';
export { UdpTcpTransport, splitAddress } from './transports/udp-tcp.js';
export type { UdpTcpOptions } from './transports/udp-tcp.js';
export { MembershipView } from './view.js';
export type { Member, MemberMeta, MemberStatus, MembershipEvent, SelfState } from './types.js';
