/**
 * @grpc/grpc-js service definitions for protobufjs services, so the protocol services are
 * served (and, in tests, called) with protobufjs doing the (de)serialization: no
 * @grpc/proto-loader, no second protobufjs. Outgoing values are plain objects or message
 * instances (`fromObject` then `encode`); incoming messages are decoded message instances
 * (unset message fields read as null, int64 as Long).
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { protobuf } from '../protocol/index.js';

function serializer(type: protobuf.Type): (value: unknown) => Buffer {
  return (value) => {
    const message = value instanceof type.ctor ? value : type.fromObject(value as Record<string, unknown>);
    return Buffer.from(type.encode(message).finish());
  };
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => unknown {
  return (bytes) => type.decode(bytes);
}

/** The grpc-js definition of one method of `service`. */
export function methodDefinition(service: protobuf.Service, method: protobuf.Method): MethodDefinition<unknown, unknown> {
  method.resolve();
  const request = method.resolvedRequestType!;
  const response = method.resolvedResponseType!;
  return {
    path: `/${service.fullName.replace(/^\./, '')}/${method.name}`,
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
