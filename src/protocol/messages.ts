/**
 * TypeScript shapes of the Cloudstate protocol (0.2) messages, as protobufjs encodes and
 * decodes them with `keepCase`: field names exactly as in `proto/cloudstate/*.proto`.
 *
 * int64 fields decode as `Long` (protobufjs keeps 64-bit precision) and encode from a number,
 * a string or a Long: read them through `int64ToNumber` (./index.ts). Decoded messages may
 * omit unset fields; a oneof's chosen case is the one field that is set.
 */
import type Long from 'long';

export type Int64 = number | string | Long;

/** `google.protobuf.Any`: `type_url` names the message type, `value` its encoded bytes. */
export interface Any {
  type_url?: string;
  value?: Uint8Array;
}

export interface MetadataEntry {
  key?: string;
  string_value?: string;
  bytes_value?: Uint8Array;
}
export interface Metadata {
  entries?: MetadataEntry[];
}
export interface Reply {
  payload?: Any | null;
  metadata?: Metadata | null;
}
export interface Forward {
  service_name?: string;
  command_name?: string;
  payload?: Any | null;
  metadata?: Metadata | null;
}
export interface Failure {
  command_id?: Int64;
  description?: string;
  restart?: boolean;
}
export interface ClientAction {
  reply?: Reply | null;
  forward?: Forward | null;
  failure?: Failure | null;
}
export interface SideEffect {
  service_name?: string;
  command_name?: string;
  payload?: Any | null;
  synchronous?: boolean;
  metadata?: Metadata | null;
}
export interface Command {
  entity_id?: string;
  id?: Int64;
  name?: string;
  payload?: Any | null;
  streamed?: boolean;
  metadata?: Metadata | null;
}
export interface StreamCancelled {
  entity_id?: string;
  id?: Int64;
}

// ---- discovery (cloudstate.EntityDiscovery) ----

export interface ProxyInfo {
  protocol_major_version?: number;
  protocol_minor_version?: number;
  proxy_name?: string;
  proxy_version?: string;
  supported_entity_types?: string[];
}
export interface ServiceInfo {
  service_name?: string;
  service_version?: string;
  service_runtime?: string;
  support_library_name?: string;
  support_library_version?: string;
  protocol_major_version?: number;
  protocol_minor_version?: number;
}
export interface EntityPassivationStrategy {
  timeout?: { timeout?: Int64 } | null;
}
export interface Entity {
  entity_type?: string;
  service_name?: string;
  persistence_id?: string;
  passivation_strategy?: EntityPassivationStrategy | null;
}
export interface EntitySpec {
  /** A serialized `google.protobuf.FileDescriptorSet`. */
  proto?: Uint8Array;
  entities?: Entity[];
  service_info?: ServiceInfo | null;
}
export interface UserFunctionError {
  message?: string;
}

// ---- event sourced (cloudstate.eventsourced.EventSourced/handle) ----

export interface EventSourcedSnapshot {
  snapshot_sequence?: Int64;
  snapshot?: Any | null;
}
export interface EventSourcedInit {
  service_name?: string;
  entity_id?: string;
  snapshot?: EventSourcedSnapshot | null;
}
export interface EventSourcedEvent {
  sequence?: Int64;
  payload?: Any | null;
}
export interface EventSourcedStreamIn {
  init?: EventSourcedInit | null;
  event?: EventSourcedEvent | null;
  command?: Command | null;
}
export interface EventSourcedReply {
  command_id?: Int64;
  client_action?: ClientAction | null;
  side_effects?: SideEffect[];
  events?: Any[];
  snapshot?: Any | null;
}
export interface EventSourcedStreamOut {
  reply?: EventSourcedReply | null;
  failure?: Failure | null;
}

// ---- value entity (cloudstate.valueentity.ValueEntity/handle) ----

export interface ValueEntityInit {
  service_name?: string;
  entity_id?: string;
  state?: { value?: Any | null } | null;
}
export interface ValueEntityStreamIn {
  init?: ValueEntityInit | null;
  command?: Command | null;
}
export interface ValueEntityAction {
  update?: { value?: Any | null } | null;
  delete?: Record<string, never> | null;
}
export interface ValueEntityReply {
  command_id?: Int64;
  client_action?: ClientAction | null;
  side_effects?: SideEffect[];
  state_action?: ValueEntityAction | null;
}
export interface ValueEntityStreamOut {
  reply?: ValueEntityReply | null;
  failure?: Failure | null;
}

// ---- action (cloudstate.action.ActionProtocol) ----

export interface ActionCommand {
  service_name?: string;
  name?: string;
  payload?: Any | null;
  metadata?: Metadata | null;
}
export interface ActionResponse {
  failure?: Failure | null;
  reply?: Reply | null;
  forward?: Forward | null;
  side_effects?: SideEffect[];
}

// ---- CRDT (cloudstate.crdt.Crdt/handle) ----

/** `CrdtWriteConsistency`: LOCAL = 0, MAJORITY = 1, ALL = 2 (enums decode as numbers). */
export type CrdtWriteConsistency = 0 | 1 | 2;
/** `CrdtClock`: DEFAULT = 0, REVERSE = 1, CUSTOM = 2, CUSTOM_AUTO_INCREMENT = 3. */
export type CrdtClock = 0 | 1 | 2 | 3;

export interface GCounterDelta {
  /** uint64: decodes as an unsigned Long. */
  increment?: Int64;
}
export interface PNCounterDelta {
  change?: Int64;
}
export interface GSetDelta {
  added?: Any[];
}
export interface ORSetDelta {
  cleared?: boolean;
  removed?: Any[];
  added?: Any[];
}
export interface LWWRegisterDelta {
  value?: Any | null;
  clock?: number;
  custom_clock_value?: Int64;
}
export interface FlagDelta {
  value?: boolean;
}
export interface ORMapEntryDelta {
  key?: Any | null;
  delta?: CrdtDelta | null;
}
export interface ORMapDelta {
  cleared?: boolean;
  removed?: Any[];
  updated?: ORMapEntryDelta[];
  added?: ORMapEntryDelta[];
}
export interface VoteDelta {
  self_vote?: boolean;
  votes_for?: number;
  total_voters?: number;
}
/** A oneof: exactly one field is set. */
export interface CrdtDelta {
  gcounter?: GCounterDelta | null;
  pncounter?: PNCounterDelta | null;
  gset?: GSetDelta | null;
  orset?: ORSetDelta | null;
  lwwregister?: LWWRegisterDelta | null;
  flag?: FlagDelta | null;
  ormap?: ORMapDelta | null;
  vote?: VoteDelta | null;
}
export interface CrdtInit {
  service_name?: string;
  entity_id?: string;
  delta?: CrdtDelta | null;
}
export interface CrdtStreamIn {
  init?: CrdtInit | null;
  delta?: CrdtDelta | null;
  delete?: Record<string, never> | null;
  command?: Command | null;
  stream_cancelled?: StreamCancelled | null;
}
export interface CrdtStateAction {
  update?: CrdtDelta | null;
  delete?: Record<string, never> | null;
  write_consistency?: number;
}
export interface CrdtReply {
  command_id?: Int64;
  client_action?: ClientAction | null;
  side_effects?: SideEffect[];
  state_action?: CrdtStateAction | null;
  streamed?: boolean;
}
export interface CrdtStreamedMessage {
  command_id?: Int64;
  client_action?: ClientAction | null;
  side_effects?: SideEffect[];
  end_stream?: boolean;
}
export interface CrdtStreamCancelledResponse {
  command_id?: Int64;
  side_effects?: SideEffect[];
  state_action?: CrdtStateAction | null;
}
export interface CrdtStreamOut {
  reply?: CrdtReply | null;
  streamed_message?: CrdtStreamedMessage | null;
  stream_cancelled_response?: CrdtStreamCancelledResponse | null;
  failure?: Failure | null;
}
