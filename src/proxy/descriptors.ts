/**
 * Builds the proxy's model of the user function (./model.ts) from its discovery answer: parses
 * the `EntitySpec.proto` FileDescriptorSet (as protoc or any support library writes it), finds
 * each declared entity's service, and resolves every method's types, entity key fields and
 * HTTP rule. Also extracts entity ids from command payloads.
 *
 * Owns parsing only: which entity types and method shapes are allowed is ./validation.ts's
 * call, HTTP rule semantics are the ingress's.
 */
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { EntityType, int64ToNumber, pinFullNames, protobuf, protocolType, TYPE_URL_PREFIX } from '../protocol/index.js';
import type { EntitySpec } from '../protocol/index.js';
import { keyText } from './key-text.js';
import type { HttpRule, MethodModel, ProxyModel, ServiceModel } from './model.js';

// Importing the extension installs Root.fromDescriptor; keep the import from being elided.
void descriptor;

/** Discovery failed in a way retrying cannot fix: report it to the user function and stop. */
export class DiscoveryError extends Error {
  readonly code = 'ERR_PROXY_DISCOVERY';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiscoveryError';
  }
}

// Decoded descriptor shapes (protocolRoot, keepCase), as far as this module reads them.
interface FieldDescriptor {
  name?: string;
  number?: number;
  options?: Record<string, unknown> | null;
}
interface MessageDescriptor {
  name?: string;
  field?: FieldDescriptor[];
  nested_type?: MessageDescriptor[];
}
interface MethodDescriptor {
  name?: string;
  input_type?: string;
  output_type?: string;
  client_streaming?: boolean;
  server_streaming?: boolean;
  options?: Record<string, unknown> | null;
}
interface ServiceDescriptor {
  name?: string;
  method?: MethodDescriptor[];
}
interface FileDescriptor {
  name?: string;
  package?: string;
  message_type?: MessageDescriptor[];
  service?: ServiceDescriptor[];
}

/** Splits a serialized FileDescriptorSet into its files' exact bytes (field 1, repeated). */
export function splitDescriptorSet(bytes: Uint8Array): Uint8Array[] {
  const reader = protobuf.Reader.create(bytes);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) files.push(reader.bytes());
    else reader.skipType(tag & 7);
  }
  return files;
}

const dotted = (prefix: string, name: string | undefined) => (prefix ? `${prefix}.${name ?? ''}` : (name ?? ''));
const stripDot = (name: string | undefined) => (name ?? '').replace(/^\./, '');

/** Every message of a file by full name (nested ones included). */
function indexMessages(file: FileDescriptor, into: Map<string, MessageDescriptor>): void {
  const walk = (prefix: string, messages: MessageDescriptor[] | undefined) => {
    for (const message of messages ?? []) {
      const fullName = dotted(prefix, message.name);
      into.set(fullName, message);
      walk(fullName, message.nested_type);
    }
  };
  walk(file.package ?? '', file.message_type);
}

const isKeyField = (field: FieldDescriptor) =>
  field.options?.['.cloudstate.entity_key'] === true || field.options?.['.cloudstate.legacy_entity_key'] === true;

/**
 * The model of the user function from its discovery answer. Throws `DiscoveryError` when the
 * descriptor set does not parse or names a type it lacks, or an entity's service is missing.
 */
export function buildProxyModel(spec: EntitySpec): ProxyModel {
  const descriptorSet = spec.proto ?? new Uint8Array();
  const fileType = protocolType('google.protobuf.FileDescriptorProto');
  const files = new Map<string, Uint8Array>();
  const messages = new Map<string, MessageDescriptor>();
  const services = new Map<string, ServiceDescriptor>();
  let root: protobuf.Root;
  try {
    for (const bytes of splitDescriptorSet(descriptorSet)) {
      const file = fileType.decode(bytes) as FileDescriptor;
      files.set(file.name ?? '', bytes);
      indexMessages(file, messages);
      for (const service of file.service ?? []) services.set(dotted(file.package ?? '', service.name), service);
    }
    root = (protobuf.Root as unknown as { fromDescriptor(b: Uint8Array): protobuf.Root }).fromDescriptor(descriptorSet);
    root.resolveAll();
    pinFullNames(root);
  } catch (error) {
    throw new DiscoveryError(`the user function's descriptor set (EntitySpec.proto) does not parse: ${(error as Error).message}`, { cause: error });
  }

  const lookupType = (fullName: string, what: string): protobuf.Type => {
    try {
      return root.lookupType(fullName);
    } catch (error) {
      throw new DiscoveryError(`${what}: type ${fullName} is not in the descriptor set`, { cause: error });
    }
  };

  const serviceModels = new Map<string, ServiceModel>();
  const byPath = new Map<string, MethodModel>();
  for (const entity of spec.entities ?? []) {
    const serviceName = entity.service_name ?? '';
    const service = services.get(serviceName);
    if (service === undefined) {
      throw new DiscoveryError(
        `entity service ${serviceName || '(empty name)'} (${entity.entity_type}) is not in the descriptor set; ` +
          `known services: ${[...services.keys()].join(', ') || 'none'}`,
      );
    }
    const methods = new Map<string, MethodModel>();
    for (const method of service.method ?? []) {
      const name = method.name ?? '';
      const inputName = stripDot(method.input_type);
      const outputName = stripDot(method.output_type);
      const where = `${serviceName}.${name}`;
      const inputType = lookupType(inputName, where);
      const outputType = lookupType(outputName, where);
      // In declaration order, as the reference sorts them (`FieldDescriptor.getIndex`), not by number.
      const entityKeyFields = (messages.get(inputName)?.field ?? [])
        .filter(isKeyField)
        .map((f) => inputType.fieldsById[f.number ?? 0])
        .filter((f): f is protobuf.Field => f !== undefined);
      const model: MethodModel = {
        serviceName,
        name,
        path: `/${serviceName}/${name}`,
        inputType,
        outputType,
        inputTypeUrl: TYPE_URL_PREFIX + inputName,
        outputTypeUrl: TYPE_URL_PREFIX + outputName,
        clientStreaming: method.client_streaming === true,
        serverStreaming: method.server_streaming === true,
        entityKeyFields,
        httpRule: (method.options?.['.google.api.http'] as HttpRule | undefined) ?? undefined,
        eventing: (method.options?.['.cloudstate.eventing'] as Record<string, unknown> | undefined) ?? undefined,
      };
      methods.set(name, model);
      byPath.set(model.path, model);
    }
    const timeout = entity.passivation_strategy?.timeout?.timeout;
    serviceModels.set(serviceName, {
      name: serviceName,
      entityType: entity.entity_type ?? '',
      persistenceId: entity.persistence_id || serviceName.slice(serviceName.lastIndexOf('.') + 1),
      passivationTimeoutMs: timeout === undefined || timeout === null ? undefined : int64ToNumber(timeout) || undefined,
      methods,
    });
  }
  return { descriptorSet, files, root, services: serviceModels, method: (path) => byPath.get(path) };
}

/**
 * The entity id a command addresses: its key fields' values (./key-text.ts), in declaration
 * order, joined with `-`; `""` when the method has none (actions). Throws on a payload that
 * does not decode.
 */
export function entityIdOf(method: MethodModel, payload: Uint8Array): string {
  const keys = method.entityKeyFields;
  if (keys.length === 0) return '';
  const message = method.inputType.decode(payload) as unknown as Record<string, unknown>;
  if (keys.length === 1) return keyText(keys[0]!, message[keys[0]!.name]);
  return keys.map((field) => keyText(field, message[field.name])).join('-');
}

/** Whether a service's entities are sharded with state (event sourced or value entity). */
export const isStatefulEntity = (entityType: string): boolean =>
  entityType === EntityType.eventSourced || entityType === EntityType.valueEntity;
