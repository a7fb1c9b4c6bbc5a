/**
 * The discovery answer (`cloudstate.EntitySpec`) of a user function: the descriptor set of all
 * its protos, one `Entity` per served entity, and the service info (the app's name and version,
 * the Node runtime, this library and the protocol version it speaks).
 */
import { readFileSync } from 'node:fs';
import { PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION, type EntitySpec, type ServiceInfo } from '../protocol/index.js';
import { buildDescriptorSet } from './descriptors.js';
import type { Entity } from './entity.js';

/** This library's npm name, as reported in `ServiceInfo.support_library_name`. */
export const SUPPORT_LIBRARY_NAME = '@cloudstate/cluster';

let libraryVersion: string | undefined;
/** This package's version (from its package.json; `src/function` and `dist/function` are both two levels down). */
export function supportLibraryVersion(): string {
  if (libraryVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
      libraryVersion = pkg.version ?? '0.0.0';
    } catch {
      libraryVersion = '0.0.0';
    }
  }
  return libraryVersion;
}

/** Name and version of the user's service; default: the running npm package's (`npm_package_name`/`_version`). */
export interface ServiceIdentity {
  readonly serviceName?: string;
  readonly serviceVersion?: string;
}

/** The service info a user function reports. */
export function serviceInfo(identity: ServiceIdentity = {}): ServiceInfo {
  return {
    service_name: identity.serviceName ?? process.env.npm_package_name ?? '',
    service_version: identity.serviceVersion ?? process.env.npm_package_version ?? '',
    service_runtime: `node ${process.version}`,
    support_library_name: SUPPORT_LIBRARY_NAME,
    support_library_version: supportLibraryVersion(),
    protocol_major_version: PROTOCOL_MAJOR_VERSION,
    protocol_minor_version: PROTOCOL_MINOR_VERSION,
  };
}

/** The full discovery answer for `entities` (the descriptor set is built from their .proto files). */
export function entitySpec(entities: readonly Entity[], identity: ServiceIdentity = {}): EntitySpec {
  return {
    proto: buildDescriptorSet(entities.map((entity) => entity.protoSource)),
    entities: entities.map((entity) => entity.toDiscovery()),
    service_info: serviceInfo(identity),
  };
}
