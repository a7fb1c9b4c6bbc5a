/**
 * gRPC server reflection, `grpc.reflection.v1alpha.ServerReflection` and
 * `grpc.reflection.v1.ServerReflection` (same messages, two packages), answered from the user
 * function's descriptor files (`ProxyModel.files`), so that grpcurl and friends can list and
 * call the proxy's services.
 *
 * Answers, as the reference proxy and its TCK expect:
 * - list_services: the reflection service itself, then the entity services sorted by name;
 * - file_by_filename / file_containing_symbol / file_containing_extension: the file and its
 *   transitive dependencies (file first), as serialized FileDescriptorProtos; an unknown symbol
 *   gives an empty FileDescriptorResponse (TCK), an unknown file or extension NOT_FOUND;
 * - all_extension_numbers_of_type: the numbers the files declare for a known message type,
 *   NOT_FOUND for an unknown type.
 */
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { loadProtoFiles, protobuf, protocolType, TYPE_URL_PREFIX } from '../../protocol/index.js';
import { CallError, Status, type Call, type Response } from '../dispatch.js';
import type { MethodModel, ProxyModel } from '../model.js';
import type { StreamHandler } from './call.js';

/** The reflection service names. */
export const REFLECTION_SERVICES = ['grpc.reflection.v1alpha.ServerReflection', 'grpc.reflection.v1.ServerReflection'] as const;

interface FieldProto {
  name?: string;
  number?: number;
  extendee?: string;
}
interface MessageProto {
  name?: string;
  nested_type?: MessageProto[];
  enum_type?: { name?: string }[];
  extension?: FieldProto[];
}
interface FileProto {
  name?: string;
  package?: string;
  dependency?: string[];
  message_type?: MessageProto[];
  enum_type?: { name?: string }[];
  service?: { name?: string; method?: { name?: string }[] }[];
  extension?: FieldProto[];
}

/** Where each symbol and extension of a set of descriptor files is declared. Pure. */
export class DescriptorIndex {
  private readonly symbols = new Map<string, string>();
  private readonly extensions = new Map<string, string>();
  private readonly extensionNumbers = new Map<string, number[]>();
  private readonly dependencies = new Map<string, string[]>();

  constructor(private readonly files: ReadonlyMap<string, Uint8Array>) {
    const fileType = protocolType('google.protobuf.FileDescriptorProto');
    for (const [name, bytes] of files) {
      const file = fileType.decode(bytes) as unknown as FileProto;
      this.dependencies.set(name, file.dependency ?? []);
      const prefix = file.package ? `${file.package}.` : '';
      const addExtensions = (fields: FieldProto[] | undefined) => {
        for (const field of fields ?? []) {
          const extendee = (field.extendee ?? '').replace(/^\./, '');
          this.extensions.set(`${extendee}#${field.number ?? 0}`, name);
          const numbers = this.extensionNumbers.get(extendee) ?? [];
          numbers.push(field.number ?? 0);
          this.extensionNumbers.set(extendee, numbers);
        }
      };
      const addMessages = (scope: string, messages: MessageProto[] | undefined) => {
        for (const message of messages ?? []) {
          const full = scope + (message.name ?? '');
          this.symbols.set(full, name);
          for (const e of message.enum_type ?? []) this.symbols.set(`${full}.${e.name ?? ''}`, name);
          addExtensions(message.extension);
          addMessages(`${full}.`, message.nested_type);
        }
      };
      addMessages(prefix, file.message_type);
      for (const e of file.enum_type ?? []) this.symbols.set(prefix + (e.name ?? ''), name);
      for (const service of file.service ?? []) {
        const full = prefix + (service.name ?? '');
        this.symbols.set(full, name);
        for (const method of service.method ?? []) this.symbols.set(`${full}.${method.name ?? ''}`, name);
      }
      addExtensions(file.extension);
    }
  }

  /** A file and its transitive dependencies (those present), the file first, each once. */
  withDependencies(fileName: string): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const queue = [fileName];
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const bytes = this.files.get(name);
      if (bytes === undefined) continue;
      out.push(bytes);
      queue.push(...(this.dependencies.get(name) ?? []));
    }
    return out;
  }

  hasFile(name: string): boolean {
    return this.files.has(name);
  }
  fileOfSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.replace(/^\./, ''));
  }
  fileOfExtension(containingType: string, number: number): string | undefined {
    return this.extensions.get(`${containingType.replace(/^\./, '')}#${number}`);
  }
  /** Undefined when the type is not a message of the files. */
  extensionNumbersOf(type: string): number[] | undefined {
    const name = type.replace(/^\./, '');
    if (!this.symbols.has(name)) return undefined;
    return [...(this.extensionNumbers.get(name) ?? [])].sort((a, b) => a - b);
  }
}

interface ReflectionRequest {
  host?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number } | null;
  all_extension_numbers_of_type?: string;
  list_services?: string;
  message_request?: string;
}

const REFLECTION_FILES = ['grpc/reflection/v1alpha/reflection.proto', 'grpc/reflection/v1/reflection.proto'];

let reflectionRoot: protobuf.Root | undefined;
function root(): protobuf.Root {
  reflectionRoot ??= loadProtoFiles(REFLECTION_FILES);
  return reflectionRoot;
}

/** The descriptor extension's own FileDescriptorProto type (camelCase fields, as `toDescriptor` writes them). */
const fileDescriptorProto = (descriptor as unknown as { FileDescriptorProto: protobuf.Type }).FileDescriptorProto;

let reflectionFiles: Map<string, Uint8Array> | undefined;
/**
 * The reflection protos as serialized FileDescriptorProtos, so that clients can describe the
 * reflection service too (grpcurl's `describe` walks every listed service).
 */
function ownFiles(): Map<string, Uint8Array> {
  if (reflectionFiles !== undefined) return reflectionFiles;
  reflectionFiles = new Map();
  for (const file of REFLECTION_FILES) {
    const set = (loadProtoFiles([file]) as unknown as { toDescriptor(syntax: string): { file: Record<string, unknown>[] } }).toDescriptor('proto3');
    const proto = { ...set.file[0], name: file };
    reflectionFiles.set(file, fileDescriptorProto.encode(proto).finish());
  }
  return reflectionFiles;
}

/** The answer to one request (a plain object of `ServerReflectionResponse`). */
export function answer(index: DescriptorIndex, services: readonly string[], request: ReflectionRequest): Record<string, unknown> {
  const response: Record<string, unknown> = { valid_host: request.host ?? '', original_request: request };
  const notFound = (message: string) => ({ error_response: { error_code: Status.NOT_FOUND, error_message: message } });
  const files = (list: Uint8Array[]) => ({ file_descriptor_response: { file_descriptor_proto: list } });
  switch (request.message_request) {
    case 'list_services':
      return { ...response, list_services_response: { service: services.map((name) => ({ name })) } };
    case 'file_by_filename': {
      const name = request.file_by_filename ?? '';
      return { ...response, ...(index.hasFile(name) ? files(index.withDependencies(name)) : notFound(`file ${name} not found`)) };
    }
    case 'file_containing_symbol': {
      const file = index.fileOfSymbol(request.file_containing_symbol ?? '');
      return { ...response, ...files(file === undefined ? [] : index.withDependencies(file)) };
    }
    case 'file_containing_extension': {
      const type = request.file_containing_extension?.containing_type ?? '';
      const number = request.file_containing_extension?.extension_number ?? 0;
      const file = index.fileOfExtension(type, number);
      return { ...response, ...(file === undefined ? notFound(`no extension ${number} of ${type}`) : files(index.withDependencies(file))) };
    }
    case 'all_extension_numbers_of_type': {
      const type = request.all_extension_numbers_of_type ?? '';
      const numbers = index.extensionNumbersOf(type);
      return {
        ...response,
        ...(numbers === undefined ? notFound(`type ${type} not found`) : { all_extension_numbers_response: { base_type_name: type, extension_number: numbers } }),
      };
    }
    default:
      return { ...response, error_response: { error_code: Status.INVALID_ARGUMENT, error_message: 'the request names no known message_request' } };
  }
}

/**
 * The reflection services of a model, by gRPC path, as ingress-local streaming handlers with
 * the method models they are routed by.
 */
export function reflectionServices(model: ProxyModel): Map<string, { method: MethodModel; handler: StreamHandler }> {
  const index = new DescriptorIndex(new Map([...ownFiles(), ...model.files]));
  const entityServices = [...model.services.keys()].sort();
  const out = new Map<string, { method: MethodModel; handler: StreamHandler }>();
  for (const serviceName of REFLECTION_SERVICES) {
    const pkg = serviceName.slice(0, serviceName.lastIndexOf('.'));
    const requestType = root().lookupType(`${pkg}.ServerReflectionRequest`);
    const responseType = root().lookupType(`${pkg}.ServerReflectionResponse`);
    const services = [serviceName, ...entityServices];
    const method: MethodModel = {
      serviceName,
      name: 'ServerReflectionInfo',
      path: `/${serviceName}/ServerReflectionInfo`,
      inputType: requestType,
      outputType: responseType,
      inputTypeUrl: TYPE_URL_PREFIX + requestType.fullName.slice(1),
      outputTypeUrl: TYPE_URL_PREFIX + responseType.fullName.slice(1),
      clientStreaming: true,
      serverStreaming: true,
      entityKeyFields: [],
      httpRule: undefined,
      eventing: undefined,
    };
    const handler = async function* (call: Call): AsyncIterable<Response> {
      for await (const bytes of call.requests) {
        let request: ReflectionRequest;
        try {
          request = requestType.toObject(requestType.decode(bytes), { oneofs: true, defaults: false }) as ReflectionRequest;
        } catch (error) {
          throw new CallError(Status.INVALID_ARGUMENT, `malformed ServerReflectionRequest: ${(error as Error).message}`);
        }
        const reply = answer(index, services, request);
        yield { payload: responseType.encode(responseType.fromObject(reply)).finish() };
      }
    };
    out.set(method.path, { method, handler });
  }
  return out;
}
