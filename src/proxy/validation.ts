/**
 * The rules a user function's discovery answer must follow before the proxy serves it (after
 * the reference proxy's `EntityDiscoveryManager`): the protocol version, at least one entity,
 * entity types the proxy knows and supports, one persistence id per stateful service, for
 * event-sourced and value entities no streamed methods, for CRDT entities no client-streaming
 * methods, and for all three an entity key on every method's input, each key field one that
 * prints as an entity id. Pure: each function returns the problems found, as messages written
 * for the user function's developer (what is wrong, where, and what to change); it reports
 * nothing and throws nothing.
 */
import { EntityType, PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION, protobuf } from '../protocol/index.js';
import type { EntitySpec } from '../protocol/index.js';
import type { ProxyModel } from './model.js';

export interface SpecRules {
  /** The entity types this proxy serves (its `ProxyInfo.supported_entity_types`). */
  readonly supportedEntityTypes: readonly string[];
  /** Require exactly protocol 0.2 (default true; `protocol-compatibility-check` in the reference proxy). */
  readonly protocolCompatibilityCheck?: boolean;
}

const knownTypes: readonly string[] = Object.values(EntityType);
const typeNames: Record<string, string> = {
  [EntityType.eventSourced]: 'event-sourced entities',
  [EntityType.valueEntity]: 'value entities',
  [EntityType.action]: 'actions',
  [EntityType.crdt]: 'CRDT entities',
};

/**
 * Problems with the spec itself, checked before its descriptors are parsed: the protocol
 * version, the entity list, entity types, names and persistence ids.
 */
export function specProblems(spec: EntitySpec, rules: SpecRules): string[] {
  const problems: string[] = [];
  const info = spec.service_info;
  const major = info?.protocol_major_version ?? 0;
  const minor = info?.protocol_minor_version ?? 0;
  if ((rules.protocolCompatibilityCheck ?? true) && (major !== PROTOCOL_MAJOR_VERSION || minor !== PROTOCOL_MINOR_VERSION)) {
    const library = info?.support_library_name ? `${info.support_library_name} ${info.support_library_version ?? ''}`.trim() : 'the support library';
    problems.push(
      `Protocol version ${major}.${minor} of ${library} is not supported by this proxy, which speaks ` +
        `${PROTOCOL_MAJOR_VERSION}.${PROTOCOL_MINOR_VERSION}: use a support library for protocol ${PROTOCOL_MAJOR_VERSION}.${PROTOCOL_MINOR_VERSION} ` +
        `(a library that sends no version counts as 0.0), or turn the proxy's protocol compatibility check off.`,
    );
  }
  const entities = spec.entities ?? [];
  if (entities.length === 0) {
    problems.push('No entities were reported by the discover call: register at least one entity or action with the support library before it starts serving.');
  }
  const supported = new Set(rules.supportedEntityTypes);
  const servicesSeen = new Set<string>();
  const persistenceIds = new Map<string, string>();
  for (const entity of entities) {
    const service = entity.service_name ?? '';
    const type = entity.entity_type ?? '';
    if (!service) {
      problems.push(`An entity of type ${type || '(none)'} has no service_name: set it to the full name of its gRPC service (package.Service).`);
      continue;
    }
    if (servicesSeen.has(service)) problems.push(`Service ${service} is registered twice: register each gRPC service as one entity.`);
    servicesSeen.add(service);
    if (!knownTypes.includes(type)) {
      problems.push(`Service ${service} has entity type "${type}", which is not a Cloudstate entity type: use one of ${knownTypes.join(', ')}.`);
      continue;
    }
    if (!supported.has(type)) {
      problems.push(
        `Service ${service} is one of the ${typeNames[type]} (${type}), which this proxy does not support` +
          (rules.supportedEntityTypes.length > 0 ? ` (it supports ${rules.supportedEntityTypes.join(', ')})` : '') +
          `: serve it as a supported entity type, or run a proxy configured for it (e.g. with a journal for event-sourced entities).`,
      );
      continue;
    }
    if (type === EntityType.eventSourced || type === EntityType.valueEntity) {
      const persistenceId = entity.persistence_id || service.slice(service.lastIndexOf('.') + 1);
      const other = persistenceIds.get(persistenceId);
      if (other !== undefined) {
        problems.push(`Services ${other} and ${service} both use persistence id "${persistenceId}": give each stateful entity its own persistence id.`);
      }
      persistenceIds.set(persistenceId, service);
    }
  }
  return problems;
}

const entityKinds: Record<string, string> = {
  [EntityType.eventSourced]: 'an event-sourced entity',
  [EntityType.valueEntity]: 'a value entity',
  [EntityType.crdt]: 'a CRDT entity',
};

/**
 * What a key field is when its value cannot be an entity id, else undefined. The reference
 * proxy would print a message as protobuf text format and a repeated or map field as a Java
 * list: ids no one means, which this proxy could not reproduce. Scalars and enums print
 * (./key-text.ts); bytes too, though the reference's ids for them are unusable.
 */
function unprintableKey(field: protobuf.Field): string | undefined {
  if (field.map) return 'a map';
  if (field.repeated) return 'a repeated field';
  if (field.resolvedType instanceof protobuf.Type) return field.delimited ? 'a group' : `a message (${field.resolvedType.fullName.replace(/^\./, '')})`;
  return undefined;
}

/**
 * Problems with the methods of the services, once the descriptors are parsed: event-sourced
 * and value entities take one command and give one reply (no streaming), CRDT entities take
 * one command (server streaming allowed: a streamed command), and every command of these
 * names its entity through `(cloudstate.entity_key)` fields, each a singular scalar or enum.
 */
export function modelProblems(model: ProxyModel): string[] {
  const problems: string[] = [];
  for (const service of model.services.values()) {
    const kind = entityKinds[service.entityType];
    if (!kind) continue;
    for (const method of service.methods.values()) {
      const where = `${service.name}.${method.name}`;
      if (service.entityType === EntityType.crdt) {
        if (method.clientStreaming) {
          const shape = method.serverStreaming ? 'bidirectional streaming' : 'client streaming';
          problems.push(`Method ${where} is ${shape}, but ${service.name} is ${kind}, whose commands are one request each (server streaming is allowed): remove the "stream" keyword on the input or serve the method from an action.`);
        }
      } else if (method.clientStreaming || method.serverStreaming) {
        const shape = method.clientStreaming && method.serverStreaming ? 'bidirectional streaming' : method.clientStreaming ? 'client streaming' : 'server streaming';
        problems.push(`Method ${where} is ${shape}, but ${service.name} is ${kind}, whose commands are unary: remove the "stream" keyword(s) or serve the method from an action.`);
      }
      const input = method.inputType.fullName.replace(/^\./, '');
      if (method.entityKeyFields.length === 0) {
        problems.push(
          `Method ${where} has no entity key: ${service.name} is ${kind}, so its input message ${input} ` +
            `must mark the field(s) that identify the entity with [(cloudstate.entity_key) = true] (import "cloudstate/entity_key.proto").`,
        );
      }
      for (const field of method.entityKeyFields) {
        const shape = unprintableKey(field);
        if (shape) {
          problems.push(
            `Method ${where} has entity key field ${field.name} (in ${input}), which is ${shape}, but an entity id is the text of singular scalar or enum key fields: ` +
              `mark a string, number, bool or enum field (or several, whose values are joined with "-") with [(cloudstate.entity_key) = true] instead.`,
          );
        }
      }
    }
  }
  return problems;
}
