/**
 * The .proto files behind a descriptor set: each file the user names and everything it imports,
 * parsed one by one (so each keeps its own package, imports, syntax and names exactly as
 * written), in protoc's `--include_imports` order: dependencies first. The Google well-known
 * types that protobufjs bundles instead of reading (any, empty, timestamp, …) come from those
 * bundled definitions, with the file options the real files have.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { protobuf, resolveProtoFile } from '../protocol/index.js';

/** Where to find a set of .proto files: paths relative to an include directory (or absolute). */
export interface ProtoSource {
  readonly files: readonly string[];
  readonly includeDirs?: readonly string[];
}

/** A plain object of a descriptor message (snake_case fields, for `fromObject`). */
export type Obj = Record<string, unknown>;

/** protoc's JSON name: underscores dropped, the letter after each one upper-cased. */
export function jsonName(name: string): string {
  return name.replace(/_+([a-zA-Z0-9]?)/g, (_match, next: string) => next.toUpperCase());
}

/** One parsed .proto file. */
export interface ParsedFile {
  /** The name the file is imported by (its `FileDescriptorProto.name`). */
  readonly name: string;
  readonly root: protobuf.Root;
  readonly pkg: string;
  readonly imports: readonly string[];
  readonly weakImports: readonly string[];
  readonly proto3: boolean;
  /** File options known without parsing (the bundled well-known type files). */
  readonly fileOptions?: Obj;
  /** protobufjs's bundled definitions name some fields in camelCase (`Value.nullValue`); the files say `null_value`. */
  readonly snakeCaseFields?: boolean;
}

const bundled = protobuf.common as unknown as Record<string, protobuf.INamespace | undefined>;

/** The file options of a bundled well-known type file (`google/protobuf/empty.proto` → `Empty`, `emptypb`). */
function wellKnownFileOptions(name: string): Obj {
  const base = name.slice('google/protobuf/'.length, -'.proto'.length); // e.g. field_mask
  const camel = jsonName(base);
  return {
    java_package: 'com.google.protobuf',
    java_outer_classname: `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Proto`,
    java_multiple_files: true,
    go_package: `google.golang.org/protobuf/types/known/${base.replace(/_/g, '')}pb`,
    ...(base === 'any' ? {} : { cc_enable_arenas: true }),
    objc_class_prefix: 'GPB',
    csharp_namespace: 'Google.Protobuf.WellKnownTypes',
  };
}

/** The name of a top-level file as protoc would record it: relative to its include directory. */
function topLevelName(file: string, includeDirs: readonly string[]): string {
  if (!isAbsolute(file)) return file.split(sep).join('/');
  for (const dir of includeDirs) {
    const rel = relative(resolve(dir), file);
    if (!rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  return file.slice(file.lastIndexOf(sep) + 1);
}

function parseFile(name: string, includeDirs: readonly string[], knownPath?: string): ParsedFile {
  const common = bundled[name];
  if (common !== undefined && name.startsWith('google/protobuf/')) {
    return { name, root: protobuf.Root.fromJSON(common), pkg: 'google.protobuf', imports: [], weakImports: [], proto3: true, fileOptions: wellKnownFileOptions(name), snakeCaseFields: true };
  }
  const path = knownPath ?? resolveProtoFile(name, includeDirs);
  if (path === undefined) throw new Error(`proto file not found: ${name} (include dirs: ${includeDirs.join(', ') || 'none'})`);
  const text = readFileSync(path, 'utf8');
  let parsed: protobuf.IParserResult;
  try {
    parsed = protobuf.parse(text, new protobuf.Root(), { keepCase: true });
  } catch (error) {
    throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return {
    name,
    root: parsed.root,
    pkg: parsed.package ?? '',
    imports: parsed.imports ?? [],
    weakImports: parsed.weakImports ?? [],
    proto3: /^\s*syntax\s*=\s*["']proto3["']/m.test(text),
  };
}

/** The files and all they import, dependencies first (protoc's `--include_imports` order). */
export function parseAll(source: ProtoSource): ParsedFile[] {
  const includeDirs = source.includeDirs ?? [];
  const done = new Map<string, ParsedFile>();
  const visiting = new Set<string>();
  const ordered: ParsedFile[] = [];
  const visit = (name: string, path?: string): void => {
    if (done.has(name) || visiting.has(name)) return;
    visiting.add(name);
    const file = parseFile(name, includeDirs, path);
    for (const dep of [...file.imports, ...file.weakImports]) visit(dep);
    visiting.delete(name);
    done.set(name, file);
    ordered.push(file);
  };
  // An absolute file is read where it is, whatever name it is recorded under.
  for (const file of source.files) visit(topLevelName(file, includeDirs), isAbsolute(file) ? file : undefined);
  return ordered;
}
