/**
 * The Cloudstate protocol (0.2) as code, shared by the proxy (`src/proxy`) and the user-function
 * library (`src/function`): the .proto files in `proto/` loaded with protobufjs, the message
 * shapes (./messages.ts), the entity type names and the protocol version, and gRPC's message
 * framing and `grpc-timeout` (./grpc-frames.ts), which both sides speak over HTTP/2. It imports nothing
 * from the cluster, so a user function runs without one.
 *
 * Field names are those of the .proto files (snake_case, protobufjs `keepCase`).
 */
import Long from 'long';
import protobuf from 'protobufjs';
import { loadProtoFiles } from './loader.js';

export { decodeGrpcMessage, encodeFrame, encodeGrpcMessage, FrameDecoder, GRPC_ACCEPT_ENCODING, grpcEncoding, GrpcFrameError, GrpcStatus, parseGrpcTimeout } from './grpc-frames.js';
export type { GrpcEncoding } from './grpc-frames.js';
export { loadProtoFiles, packageProtoDir, pinFullNames, resolveProtoFile } from './loader.js';
export type { LoadOptions } from './loader.js';
export type * from './messages.js';
export { protobuf };

/** The protocol version this package speaks; the proxy requires exactly this from the user function. */
export const PROTOCOL_MAJOR_VERSION = 0;
export const PROTOCOL_MINOR_VERSION = 2;

/** `Entity.entity_type` values: the full names of the protocol's services. */
export const EntityType = {
  eventSourced: 'cloudstate.eventsourced.EventSourced',
  valueEntity: 'cloudstate.valueentity.ValueEntity',
  action: 'cloudstate.action.ActionProtocol',
  crdt: 'cloudstate.crdt.Crdt',
} as const;
export type EntityTypeName = (typeof EntityType)[keyof typeof EntityType];

/** The protocol's own files, relative to the package's `proto/` directory. */
export const protocolFiles = [
  'cloudstate/entity.proto',
  'cloudstate/event_sourced.proto',
  'cloudstate/value_entity.proto',
  'cloudstate/action.proto',
  'cloudstate/crdt.proto',
  'cloudstate/entity_key.proto',
  'cloudstate/legacy_entity_key.proto',
  'cloudstate/eventing.proto',
  'google/api/annotations.proto',
  'google/api/httpbody.proto',
  'google/protobuf/descriptor.proto',
] as const;

let root: protobuf.Root | undefined;
/**
 * One root with the protocol, its annotations and `google.protobuf.descriptor`, loaded once.
 * Because the annotation files extend `FieldOptions` and `MethodOptions` here, decoding a
 * `google.protobuf.FileDescriptorSet` with this root yields the `(cloudstate.entity_key)`,
 * `(cloudstate.legacy_entity_key)`, `(cloudstate.eventing)` and `(google.api.http)` options as
 * fields named `.cloudstate.entity_key`, `.google.api.http`, etc.
 */
export function protocolRoot(): protobuf.Root {
  root ??= loadProtoFiles(protocolFiles);
  return root;
}

/** A message type of the protocol root, by full name (e.g. `cloudstate.Command`). */
export function protocolType(fullName: string): protobuf.Type {
  return protocolRoot().lookupType(fullName);
}

/** A 64-bit protocol integer as a JS number (ids and sequence numbers stay far below 2^53). */
export function int64ToNumber(value: number | string | Long | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  return Long.fromValue(value).toNumber();
}

/** The `Any.type_url` prefix for protobuf messages. */
export const TYPE_URL_PREFIX = 'type.googleapis.com/';
/** `Any.type_url` prefix of JSON values (Cloudstate support libraries' convention). */
export const JSON_TYPE_URL_PREFIX = 'json.cloudstate.io/';
/** `Any.type_url` prefix of primitive values (Cloudstate support libraries' convention). */
export const PRIMITIVE_TYPE_URL_PREFIX = 'p.cloudstate.io/';
/** The full name of `google.protobuf.Any`. */
export const ANY_TYPE_NAME = 'google.protobuf.Any';
/** The message full name an `Any.type_url` names (the part after the last `/`). */
export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}
