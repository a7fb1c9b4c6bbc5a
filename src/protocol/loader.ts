/**
 * Loading .proto files with protobufjs: the package's own `proto/` directory (the Cloudstate
 * protocol, its annotations, gRPC reflection), the user's include directories, and the Google
 * well-known types that protobufjs carries. No protoc is needed, and none is downloaded.
 *
 * Owns only file resolution and parsing; what the messages mean lives with their users.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The package's `proto/` directory (the same from `src/protocol` and `dist/protocol`). */
export const packageProtoDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

const require = createRequire(import.meta.url);
/** protobufjs ships google/protobuf/descriptor.proto and friends beside its sources. */
const protobufjsDir = dirname(require.resolve('protobufjs/package.json'));

/**
 * The file an import refers to: the first of `includeDirs`, then the package's `proto/`, then
 * protobufjs's copies of the Google well-known types, that has it. Undefined when none has.
 */
export function resolveProtoFile(target: string, includeDirs: readonly string[]): string | undefined {
  if (isAbsolute(target)) return existsSync(target) ? target : undefined;
  for (const dir of [...includeDirs, packageProtoDir, protobufjsDir]) {
    const candidate = join(dir, target);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface LoadOptions {
  /** Directories to resolve the files and their imports against, first match wins. */
  readonly includeDirs?: readonly string[];
  /** Keep field names as written in the .proto (snake_case). Default true: names match the protocol, and `google.protobuf.Any` (which protobufjs defines itself) is always `type_url`. */
  readonly keepCase?: boolean;
}

/**
 * Parses `files` (paths relative to an include directory, or absolute) and all their imports
 * into one resolved protobufjs root. Throws with the file name when a file is missing or bad.
 */
export function loadProtoFiles(files: readonly string[], options: LoadOptions = {}): protobuf.Root {
  const includeDirs = options.includeDirs ?? [];
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    const found = resolveProtoFile(target, includeDirs);
    if (found !== undefined) return found;
    // protobufjs knows the common Google types (any, empty, timestamp, …) without a file.
    if (target.startsWith('google/protobuf/')) return target;
    const fromOrigin = origin ? join(dirname(origin), target) : target;
    throw new Error(`proto file not found: ${target} (searched ${[...includeDirs, packageProtoDir].join(', ')}; from ${fromOrigin})`);
  };
  const loaded = root.loadSync(files as string[], { keepCase: options.keepCase ?? true });
  loaded.resolveAll();
  return pinFullNames(loaded);
}

/**
 * Fixes every reflection object's `fullName` to its current value. protobufjs computes it on
 * each read by walking the parents and joining their names, and reads it per message in its
 * JSON and type-checking paths (≈2.5 % of the proxy's CPU under load). Call it on a root that
 * is complete and will not be reorganised (its objects neither moved nor renamed); types
 * added later are unaffected and keep computing their own.
 */
export function pinFullNames<T extends protobuf.Namespace>(namespace: T): T {
  const visit = (object: protobuf.ReflectionObject): void => {
    Object.defineProperty(object, 'fullName', { value: object.fullName, configurable: true, enumerable: false, writable: false });
    if (object instanceof protobuf.Type) for (const field of object.fieldsArray) visit(field);
    if (object instanceof protobuf.Namespace) for (const nested of object.nestedArray) visit(nested);
  };
  visit(namespace);
  return namespace;
}
