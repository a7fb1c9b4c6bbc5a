/**
 * Serialized `google.protobuf.FileDescriptorSet`s from .proto files, without protoc: what
 * `protoc --include_imports --descriptor_set_out` would write for the same files. The set is
 * what a user function answers `discover` with (`EntitySpec.proto`); the proxy reads services,
 * methods, entity keys and HTTP rules from it.
 *
 * Each file becomes one `FileDescriptorProto` under the name it is imported by, with its own
 * package, dependencies (as written in its `import` lines), syntax, options, messages (nested
 * types, map entries, oneofs incl. proto3 `optional`, reserved ranges), enums, services and
 * extensions. Files come dependencies first, like protoc. The structure of each file is taken
 * from parsing that file alone (so its names are exactly as written, snake_case included);
 * type references are resolved through one protobufjs root holding all files. The Google
 * well-known types that protobufjs bundles (any, empty, timestamp, …) come from its bundled
 * definitions. Custom options are encoded as extension fields (./descriptor-options.ts).
 *
 * Not covered: proto2 groups (encoded as plain message fields), editions, source code info,
 * and custom options other than the Cloudstate and google.api ones.
 */
import { loadProtoFiles, protobuf, protocolType } from '../protocol/index.js';
import { descriptorOptions } from './descriptor-options.js';
import { jsonName, parseAll, type Obj, type ParsedFile, type ProtoSource } from './proto-files.js';

export { jsonName, type ProtoSource } from './proto-files.js';
/** `FieldDescriptorProto.Type` numbers of the scalar types. */
const SCALAR_TYPES: Record<string, number> = {
  double: 1, float: 2, int64: 3, uint64: 4, int32: 5, fixed64: 6, fixed32: 7, bool: 8, string: 9,
  bytes: 12, uint32: 13, sfixed32: 15, sfixed64: 16, sint32: 17, sint64: 18,
};
const TYPE_MESSAGE = 11;
const TYPE_ENUM = 14;
const LABEL_OPTIONAL = 1;
const LABEL_REQUIRED = 2;
const LABEL_REPEATED = 3;
/** The highest field number; protobufjs writes `max` as this (inclusive). */
const MAX_FIELD_NUMBER = 536870911;

/** protoc's name of the synthetic entry message of a map field (`my_map` → `MyMapEntry`). */
function mapEntryName(fieldName: string): string {
  const camel = jsonName(fieldName);
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}

/** Builds the FileDescriptorProtos of one file, resolving type names through `all`. */
class FileConverter {
  constructor(
    private readonly file: ParsedFile,
    private readonly all: protobuf.Root,
  ) {}

  convert(): Obj {
    const { file } = this;
    const messages: Obj[] = [];
    const enums: Obj[] = [];
    const services: Obj[] = [];
    const extensions: Obj[] = [];
    const walk = (ns: protobuf.NamespaceBase): void => {
      for (const nested of ns.nestedArray) {
        if (nested instanceof protobuf.Type) messages.push(this.message(nested));
        else if (nested instanceof protobuf.Enum) enums.push(this.enumType(nested));
        else if (nested instanceof protobuf.Service) services.push(this.service(nested));
        else if (nested instanceof protobuf.Field && nested.extend !== undefined) extensions.push(this.field(nested));
        else if (nested instanceof protobuf.Namespace) walk(nested);
      }
    };
    walk(file.root);
    const pkgNs = file.pkg === '' ? file.root : file.root.lookup(file.pkg);
    const options = file.fileOptions ?? (pkgNs ? descriptorOptions('google.protobuf.FileOptions', pkgNs, file.pkg) : undefined);
    const allImports = [...file.imports, ...file.weakImports];
    return {
      name: file.name,
      package: file.pkg === '' ? undefined : file.pkg,
      dependency: allImports,
      weak_dependency: file.weakImports.map((weak) => allImports.indexOf(weak)),
      message_type: messages,
      enum_type: enums,
      service: services,
      extension: extensions,
      options,
      syntax: file.proto3 ? 'proto3' : undefined,
    };
  }

  /** The counterpart of a per-file element in the root that holds every file. */
  private resolved<T extends protobuf.ReflectionObject>(element: protobuf.ReflectionObject): T {
    const found = this.all.lookup(element.fullName);
    if (found === null) throw new Error(`${this.file.name}: cannot resolve ${element.fullName}`);
    return found as T;
  }

  private message(type: protobuf.Type): Obj {
    const merged = this.resolved<protobuf.Type>(type);
    const oneofs = [...type.oneofsArray].sort((a, b) => Number(isSynthetic(a)) - Number(isSynthetic(b)));
    const nestedTypes: Obj[] = [];
    const nestedEnums: Obj[] = [];
    const extensions: Obj[] = [];
    // Extensions declared in this file also show up as `.pkg.name` fields of the extended type: not its own.
    const fields = type.fieldsArray.filter((field) => !field.name.startsWith('.')).map((field) => {
      const mergedField = merged.fields[field.name];
      if (mergedField === undefined) throw new Error(`${this.file.name}: cannot resolve ${field.fullName}`);
      const out = this.field(field, mergedField);
      if (field.partOf) out.oneof_index = oneofs.indexOf(field.partOf);
      if (field instanceof protobuf.MapField) nestedTypes.push(this.mapEntry(field as protobuf.MapField, mergedField, out));
      return out;
    });
    for (const nested of type.nestedArray) {
      if (nested instanceof protobuf.Type) nestedTypes.push(this.message(nested));
      else if (nested instanceof protobuf.Enum) nestedEnums.push(this.enumType(nested));
      else if (nested instanceof protobuf.Field && nested.extend !== undefined) extensions.push(this.field(nested));
    }
    const reserved = type.reserved ?? [];
    return {
      name: type.name,
      field: fields,
      nested_type: nestedTypes,
      enum_type: nestedEnums,
      extension: extensions,
      extension_range: (type.extensions ?? []).map(([start, end]) => ({ start, end: Math.min(end as number, MAX_FIELD_NUMBER) + 1 })),
      oneof_decl: oneofs.map((oneof) => ({ name: oneof.name, options: descriptorOptions('google.protobuf.OneofOptions', oneof, this.file.pkg) })),
      options: descriptorOptions('google.protobuf.MessageOptions', type, this.file.pkg),
      reserved_range: reserved.filter(Array.isArray).map(([start, end]) => ({ start, end: Math.min(end as number, MAX_FIELD_NUMBER) + 1 })),
      reserved_name: reserved.filter((r): r is string => typeof r === 'string'),
    };
  }

  /** One field, or an extension (`mergedField` defaults to the extension's counterpart). */
  private field(field: protobuf.Field, mergedField?: protobuf.Field): Obj {
    const counterpart = mergedField ?? this.extensionCounterpart(field);
    counterpart.resolve();
    const isMap = field instanceof protobuf.MapField;
    const options = field.options ?? {};
    const name = this.file.snakeCaseFields ? field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : field.name;
    const out: Obj = {
      name,
      number: field.id,
      label: isMap || field.rule === 'repeated' ? LABEL_REPEATED : field.rule === 'required' ? LABEL_REQUIRED : LABEL_OPTIONAL,
      json_name: typeof options.json_name === 'string' ? options.json_name : jsonName(name),
      options: descriptorOptions('google.protobuf.FieldOptions', field, this.file.pkg, ['json_name', 'default', 'proto3_optional']),
    };
    if (options.proto3_optional === true) out.proto3_optional = true;
    if (!isMap) Object.assign(out, this.fieldType(field.type, counterpart.resolvedType));
    if (field.extend !== undefined) {
      const parent = this.resolved<protobuf.Namespace>(field.parent as protobuf.ReflectionObject);
      const extendee = parent.lookup(field.extend, [protobuf.Type]);
      if (extendee === null) throw new Error(`${this.file.name}: cannot resolve extended type ${field.extend}`);
      out.extendee = extendee.fullName;
    }
    if (options.default !== undefined) out.default_value = String(options.default);
    return out;
  }

  private extensionCounterpart(field: protobuf.Field): protobuf.Field {
    const parent = this.resolved<protobuf.Namespace>(field.parent as protobuf.ReflectionObject);
    const found = parent.get(field.name);
    if (!(found instanceof protobuf.Field)) throw new Error(`${this.file.name}: cannot resolve extension ${field.fullName}`);
    return found;
  }

  private fieldType(typeName: string, resolvedType: protobuf.Type | protobuf.Enum | null): Obj {
    const scalar = SCALAR_TYPES[typeName];
    if (scalar !== undefined) return { type: scalar };
    if (resolvedType === null) throw new Error(`${this.file.name}: cannot resolve type ${typeName}`);
    return { type: resolvedType instanceof protobuf.Enum ? TYPE_ENUM : TYPE_MESSAGE, type_name: resolvedType.fullName };
  }

  /** The synthetic `XxxEntry` message of a map field; points the field at it. */
  private mapEntry(field: protobuf.MapField, mergedField: protobuf.Field, out: Obj): Obj {
    const entryName = mapEntryName(field.name);
    out.type = TYPE_MESSAGE;
    out.type_name = `${mergedField.parent!.fullName}.${entryName}`;
    return {
      name: entryName,
      field: [
        { name: 'key', number: 1, label: LABEL_OPTIONAL, json_name: 'key', ...this.fieldType(field.keyType, null) },
        { name: 'value', number: 2, label: LABEL_OPTIONAL, json_name: 'value', ...this.fieldType(field.type, mergedField.resolvedType) },
      ],
      options: { map_entry: true },
    };
  }

  private enumType(enumType: protobuf.Enum): Obj {
    const valueOptions = enumType.valuesOptions ?? {};
    const reserved = enumType.reserved ?? [];
    return {
      name: enumType.name,
      value: Object.entries(enumType.values).map(([name, number]) => ({
        name,
        number,
        options: descriptorOptions('google.protobuf.EnumValueOptions', { options: valueOptions[name] }, this.file.pkg),
      })),
      options: descriptorOptions('google.protobuf.EnumOptions', enumType, this.file.pkg),
      reserved_range: reserved.filter(Array.isArray).map(([start, end]) => ({ start, end })),
      reserved_name: reserved.filter((r): r is string => typeof r === 'string'),
    };
  }

  private service(service: protobuf.Service): Obj {
    const merged = this.resolved<protobuf.Service>(service);
    return {
      name: service.name,
      method: service.methodsArray.map((method) => {
        const resolved = merged.methods[method.name]!;
        resolved.resolve();
        return {
          name: method.name,
          input_type: resolved.resolvedRequestType!.fullName,
          output_type: resolved.resolvedResponseType!.fullName,
          options: descriptorOptions('google.protobuf.MethodOptions', method, this.file.pkg),
          client_streaming: method.requestStream === true ? true : undefined,
          server_streaming: method.responseStream === true ? true : undefined,
        };
      }),
      options: descriptorOptions('google.protobuf.ServiceOptions', service, this.file.pkg),
    };
  }
}

function isSynthetic(oneof: protobuf.OneOf): boolean {
  return oneof.fieldsArray.length === 1 && oneof.fieldsArray[0]!.options?.proto3_optional === true;
}

/**
 * The `FileDescriptorProto`s (as plain objects of `protocolRoot()`'s descriptor types, snake_case)
 * of `source`'s files and everything they import, dependencies first.
 */
export function fileDescriptorProtos(source: ProtoSource): Obj[] {
  const all = loadProtoFiles(source.files, { includeDirs: source.includeDirs ?? [], keepCase: true });
  return parseAll(source).map((file) => new FileConverter(file, all).convert());
}

/**
 * A serialized `google.protobuf.FileDescriptorSet` for all `sources` (each file once, by name,
 * dependencies before their dependents), as `protoc --include_imports` would produce.
 * Throws with the file name when a file is missing, does not parse, or references an unknown type.
 */
export function buildDescriptorSet(sources: readonly ProtoSource[]): Uint8Array {
  const byName = new Map<string, Obj>();
  for (const source of sources) {
    for (const file of fileDescriptorProtos(source)) if (!byName.has(file.name as string)) byName.set(file.name as string, file);
  }
  const setType = protocolType('google.protobuf.FileDescriptorSet');
  return setType.encode(setType.fromObject({ file: [...byName.values()] })).finish();
}
