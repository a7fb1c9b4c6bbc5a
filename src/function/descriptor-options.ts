/**
 * Options of .proto elements (file, message, field, enum, service, method…) as protobufjs parses
 * them, turned into the plain objects of the `google.protobuf.*Options` messages that a
 * descriptor set carries. Custom options become extension fields: `(cloudstate.entity_key)` is
 * the field `.cloudstate.entity_key` of `FieldOptions`, `(google.api.http)` the field
 * `.google.api.http` of `MethodOptions`, as `protocolRoot()` registers them.
 *
 * Pure: reads the options types of the protocol root, never writes anything. Options whose
 * extension the protocol root does not know (a user's own custom options) are left out: the
 * proxy reads only the Cloudstate and google.api ones.
 */
import { protobuf, protocolRoot } from '../protocol/index.js';

/** One element's options as protobufjs keeps them. */
export interface ParsedOptionsSource {
  readonly options?: Record<string, unknown> | undefined;
  readonly parsedOptions?: Array<Record<string, unknown>> | null | undefined;
}

type PlainObject = Record<string, unknown>;

const isPlainObject = (value: unknown): value is PlainObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);

/**
 * Splits an option name as written into field path segments:
 * `(google.api.http).additional_bindings.get` → [`(google.api.http)`, `additional_bindings`, `get`].
 */
export function optionPath(name: string): string[] {
  if (name.startsWith('(')) {
    const close = name.indexOf(')');
    const head = name.slice(0, close + 1);
    const rest = name.slice(close + 1).replace(/^\./, '');
    return rest === '' ? [head] : [head, ...rest.split('.')];
  }
  return name.split('.');
}

/** The field of `type` an option path segment names (extensions by full name, with or without the file's package). */
function fieldFor(type: protobuf.Type, segment: string, pkg: string): protobuf.Field | undefined {
  if (!segment.startsWith('(')) return type.fields[segment];
  const name = segment.slice(1, -1).replace(/^\./, '');
  return type.fields[`.${name}`] ?? (pkg === '' ? undefined : type.fields[`.${pkg}.${name}`]);
}

/**
 * Reshapes a parsed option value for `field`: repeated fields become arrays (protobufjs keeps a
 * single aggregate as an object), message values are reshaped field by field, unknown keys dropped.
 */
function shapeValue(field: protobuf.Field, value: unknown, pkg: string): unknown {
  field.resolve();
  if (field.repeated && !Array.isArray(value)) return shapeValue(field, [value], pkg);
  if (Array.isArray(value)) return value.map((item) => shapeSingle(field, item, pkg));
  return shapeSingle(field, value, pkg);
}

function shapeSingle(field: protobuf.Field, value: unknown, pkg: string): unknown {
  const type = field.resolvedType;
  if (type instanceof protobuf.Type && isPlainObject(value)) return shapeMessage(type, value, pkg);
  return value;
}

function shapeMessage(type: protobuf.Type, value: PlainObject, pkg: string): PlainObject {
  const out: PlainObject = {};
  for (const [key, item] of Object.entries(value)) setPath(type, out, optionPath(key), item, pkg);
  return out;
}

/** Sets `value` at `path` in `target` (an object of `type`), merging with what is there. */
function setPath(type: protobuf.Type, target: PlainObject, path: readonly string[], value: unknown, pkg: string): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  const field = fieldFor(type, head, pkg);
  if (field === undefined) return; // an option this descriptor does not know: left out
  field.resolve();
  if (rest.length === 0) {
    const shaped = shapeValue(field, value, pkg);
    const existing = target[field.name];
    if (field.repeated && Array.isArray(existing) && Array.isArray(shaped)) target[field.name] = [...existing, ...shaped];
    else if (isPlainObject(existing) && isPlainObject(shaped)) target[field.name] = { ...existing, ...shaped };
    else target[field.name] = shaped;
    return;
  }
  const sub = field.resolvedType;
  if (!(sub instanceof protobuf.Type)) return;
  let child = target[field.name];
  if (field.repeated) {
    // `option (x).repeated_field.sub = v` appends one element.
    const element: PlainObject = {};
    setPath(sub, element, rest, value, pkg);
    target[field.name] = [...(Array.isArray(child) ? child : []), element];
    return;
  }
  if (!isPlainObject(child)) {
    child = {};
    target[field.name] = child;
  }
  setPath(sub, child as PlainObject, rest, value, pkg);
}

/**
 * The options message (e.g. `google.protobuf.FieldOptions`) for one element, as a plain object
 * for `fromObject`, or undefined when it has none that the descriptor can carry.
 *
 * @param optionsType full name of the options message
 * @param source the element (its `parsedOptions` are preferred: they keep aggregates whole)
 * @param pkg the file's package, to resolve custom option names written relative to it
 * @param skip option names that are not options in a descriptor (`json_name`, `default`, …)
 */
export function descriptorOptions(
  optionsType: string,
  source: ParsedOptionsSource,
  pkg: string,
  skip: readonly string[] = [],
): PlainObject | undefined {
  const type = protocolRoot().lookupType(optionsType);
  const entries: Array<[string, unknown]> = [];
  if (source.parsedOptions && source.parsedOptions.length > 0) {
    for (const parsed of source.parsedOptions) entries.push(...Object.entries(parsed));
  } else if (source.options) {
    entries.push(...Object.entries(source.options));
  }
  const out: PlainObject = {};
  for (const [name, value] of entries) {
    if (skip.includes(name)) continue;
    setPath(type, out, optionPath(name), value, pkg);
  }
  return Object.keys(out).length === 0 ? undefined : out;
}
