/**
 * The proxy's picture of the user function, built once from discovery (`EntitySpec`): every
 * service the user function serves, its methods with their protobufjs types, entity key
 * fields, HTTP rules and streaming shape. Built by ./descriptors.ts, read by the ingress, the
 * entity supports and the router. Immutable after discovery.
 */
import type { protobuf } from '../protocol/index.js';

/** `google.api.HttpRule` as decoded (snake_case field names). */
export interface HttpRule {
  selector?: string;
  get?: string;
  put?: string;
  post?: string;
  delete?: string;
  patch?: string;
  custom?: { kind?: string; path?: string } | null;
  body?: string;
  response_body?: string;
  additional_bindings?: HttpRule[];
}

export interface MethodModel {
  /** The service's full name, e.g. `com.example.shoppingcart.ShoppingCart`. */
  readonly serviceName: string;
  /** The method's simple name as in the .proto, e.g. `AddItem` (the protocol's command name). */
  readonly name: string;
  /** The gRPC path: `/<serviceName>/<name>`. */
  readonly path: string;
  readonly inputType: protobuf.Type;
  readonly outputType: protobuf.Type;
  /** `type.googleapis.com/<input full name>`: the `Any.type_url` of a command's payload. */
  readonly inputTypeUrl: string;
  readonly outputTypeUrl: string;
  readonly clientStreaming: boolean;
  readonly serverStreaming: boolean;
  /** Input fields flagged `(cloudstate.entity_key)` or `(cloudstate.legacy_entity_key)`, in declaration order (as the reference proxy joins them). */
  readonly entityKeyFields: readonly protobuf.Field[];
  /** The method's `(google.api.http)` option, if it has one. */
  readonly httpRule: HttpRule | undefined;
  /** The method's `(cloudstate.eventing)` option, if it has one (decoded, snake_case). */
  readonly eventing: Record<string, unknown> | undefined;
}

export interface ServiceModel {
  /** Full name, e.g. `com.example.shoppingcart.ShoppingCart`. */
  readonly name: string;
  /** `Entity.entity_type`, e.g. `cloudstate.eventsourced.EventSourced`. */
  readonly entityType: string;
  /** `Entity.persistence_id` (defaults to the service's simple name when the user function sends none). */
  readonly persistenceId: string;
  /** `Entity.passivation_strategy.timeout.timeout`, ms, if the user function set one. */
  readonly passivationTimeoutMs: number | undefined;
  /** Methods by simple name. */
  readonly methods: ReadonlyMap<string, MethodModel>;
}

export interface ProxyModel {
  /** The user function's `EntitySpec.proto`: a serialized FileDescriptorSet. */
  readonly descriptorSet: Uint8Array;
  /** Each file of the set, serialized as a FileDescriptorProto, by file name (for server reflection). */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** Every type of the descriptor set, resolved. */
  readonly root: protobuf.Root;
  /** The services the user function declared as entities, by full name. */
  readonly services: ReadonlyMap<string, ServiceModel>;
  /** A method by gRPC path (`/<service>/<method>`), or undefined. */
  method(path: string): MethodModel | undefined;
}
