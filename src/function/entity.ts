/**
 * What every served entity (event sourced, value entity, action) has in common: the gRPC
 * service it implements, the .proto files that describe it (loaded with protobufjs, camelCase
 * field names like node-support), and what discovery tells the proxy about it.
 *
 * Owns loading and looking up; the protocol streams live with each entity type.
 */
import { EntityType, loadProtoFiles, protobuf, type Entity as ProtocolEntity, type EntityTypeName } from '../protocol/index.js';
import type { ProtoSource } from './descriptors.js';
import { AnySupport } from './any-support.js';

/** Options shared by every entity type. */
export interface EntityOptions {
  /** Full name of the gRPC service this entity implements (e.g. `com.example.shoppingcart.ShoppingCart`). */
  readonly serviceName: string;
  /** The .proto file(s) that define the service and the types it uses (relative to `includeDirs`, or absolute). */
  readonly protoFiles: string | readonly string[];
  /** Directories the files and their imports are resolved in, first match wins; default the current directory, like protoc (the Cloudstate and Google protos are always found). */
  readonly includeDirs?: readonly string[];
}

/** Options of stateful entities (event sourced, value). */
export interface StatefulEntityOptions extends EntityOptions {
  /** The proxy's persistence id for this entity type; default the service's simple name. */
  readonly persistenceId?: string;
  /** Idle time after which the proxy passivates an instance (sent to the proxy at discovery); default: the proxy's. */
  readonly passivationTimeoutMs?: number;
}

/** A served entity: the base of `EventSourcedEntity`, `ValueEntity` and `Action`. */
export abstract class Entity {
  /** The protocol service (`Entity.entity_type`) the proxy talks to this entity through. */
  abstract readonly entityType: EntityTypeName;
  /** Full name of the served gRPC service. */
  readonly serviceName: string;
  /** The user's protos, loaded with camelCase field names. */
  readonly root: protobuf.Root;
  /** The served gRPC service. */
  readonly service: protobuf.Service;
  /** Where the protos are, for the discovery descriptor set. */
  readonly protoSource: ProtoSource;
  /** @internal Packs and unpacks values against `root` (it also remembers the types it looked up). */
  readonly anySupport: AnySupport;

  protected constructor(options: EntityOptions) {
    const files = typeof options.protoFiles === 'string' ? [options.protoFiles] : [...options.protoFiles];
    if (files.length === 0) throw new Error(`entity ${options.serviceName}: no protoFiles given`);
    this.serviceName = options.serviceName.replace(/^\./, '');
    const includeDirs = options.includeDirs ?? ['.'];
    this.protoSource = { files, includeDirs };
    this.root = loadProtoFiles(files, { includeDirs, keepCase: false });
    this.anySupport = new AnySupport([this.root]);
    const service = this.root.lookup(this.serviceName, [protobuf.Service]);
    if (!(service instanceof protobuf.Service)) {
      throw new Error(`entity ${this.serviceName}: no such service in ${files.join(', ')}`);
    }
    this.service = service;
    for (const method of service.methodsArray) method.resolve();
  }

  /**
   * The method each command handler serves, by handler name; throws naming a handler that
   * matches no method of the service (`what`: how errors name this entity).
   */
  protected handledMethods(handlers: object, what: 'entity' | 'action' = 'entity'): Map<string, protobuf.Method> {
    const methods = new Map<string, protobuf.Method>();
    for (const name of Object.keys(handlers)) {
      const method = this.service.methods[name];
      if (!method) throw new Error(`${what} ${this.serviceName}: command handler ${name} matches no method`);
      methods.set(name, method);
    }
    return methods;
  }

  /** A message type of the loaded protos, by full name (throws if unknown). */
  lookupType(fullName: string): protobuf.Type {
    const type = this.anySupport.lookupType(fullName);
    if (type === undefined) throw new Error(`no such type: ${fullName}`);
    return type;
  }

  /** A message of `typeName` made from plain fields (camelCase): what `emit`, replies and state may be. */
  message<T extends object = Record<string, unknown>>(typeName: string, fields: T): protobuf.Message<T> & T {
    return this.lookupType(typeName).fromObject(fields as Record<string, unknown>) as protobuf.Message<T> & T;
  }

  /** What discovery advertises for this entity (`cloudstate.Entity`). */
  abstract toDiscovery(): ProtocolEntity;
}

/** `Entity` for discovery with the persistence id and passivation strategy of a stateful entity. */
export function statefulDiscovery(entity: Entity, entityType: EntityTypeName, options: StatefulEntityOptions): ProtocolEntity {
  const simpleName = entity.serviceName.slice(entity.serviceName.lastIndexOf('.') + 1);
  const out: ProtocolEntity = {
    entity_type: entityType,
    service_name: entity.serviceName,
    persistence_id: options.persistenceId ?? simpleName,
  };
  if (options.passivationTimeoutMs !== undefined) {
    out.passivation_strategy = { timeout: { timeout: options.passivationTimeoutMs } };
  }
  return out;
}

export { EntityType };
