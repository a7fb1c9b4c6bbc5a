/**
 * The protobufjs codecs of protocol methods, one definition for both gRPC stacks in play: the
 * library's own HTTP/2 server (`serverMethod`, ./h2-server.ts) and @grpc/grpc-js service
 * definitions (`serviceDefinition`, public: clients in tests and tools call the protocol
 * services with it) — no @grpc/proto-loader, no second protobufjs. Outgoing values are plain
 * objects or message instances (`fromObject` then `encode`); incoming messages are decoded
 * message instances (unset message fields read as null, int64 as Long).
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { protobuf } from '../protocol/index.js';
import type { GrpcMethod } from './h2-server.js';

function encoder(type: protobuf.Type): (value: unknown) => Uint8Array {
  return (value) => type.encode(value instanceof type.ctor ? value : type.fromObject(value as Record<string, unknown>)).finish();
}

function serializer(type: protobuf.Type): (value: unknown) => Buffer {
  const encode = encoder(type);
  return (value) => Buffer.from(encode(value));
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => unknown {
  return (bytes) => type.decode(bytes);
}

/** `/package.Service/Method`, the gRPC path of `method`. */
const pathOf = (service: protobuf.Service, method: protobuf.Method) => `/${service.fullName.replace(/^\./, '')}/${method.name}`;

/** The grpc-js definition of one method of `service`. */
export function methodDefinition(service: protobuf.Service, method: protobuf.Method): MethodDefinition<unknown, unknown> {
  method.resolve();
  const request = method.resolvedRequestType!;
  const response = method.resolvedResponseType!;
  return {
    path: pathOf(service, method),
    requestStream: method.requestStream === true,
    responseStream: method.responseStream === true,
    requestSerialize: serializer(request),
    requestDeserialize: deserializer(request),
    responseSerialize: serializer(response),
    responseDeserialize: deserializer(response),
    originalName: method.name,
  };
}

/** The grpc-js definition of a whole service, keyed by method name as written in the .proto. */
export function serviceDefinition(service: protobuf.Service): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methodsArray) definition[method.name] = methodDefinition(service, method);
  return definition;
}

/**
 * Method `name` of `service` for the library's HTTP/2 server: its path and the codecs of its
 * request (decoded) and response (encoded). The caller states the message types.
 */
export function serverMethod<Request, Response>(service: protobuf.Service, name: string): GrpcMethod<Request, Response> {
  const method = service.methods[name];
  if (method === undefined) throw new Error(`${service.fullName} has no method ${name}`);
  method.resolve();
  return {
    path: pathOf(service, method),
    decode: deserializer(method.resolvedRequestType!) as (bytes: Buffer) => Request,
    encode: encoder(method.resolvedResponseType!),
  };
}
