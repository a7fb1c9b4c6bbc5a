/**
 * HTTP/JSON transcoding rules (`google.api.http`, §2.7 of the protocol notes): every method of
 * the model gets its rule and one level of `additional_bindings`, or the default
 * `POST /<package.Service>/<Method>` with body `*`. `compileHttpRules` validates them all up
 * front (throwing `HttpConfigError`, so discovery can report a bad configuration to the user
 * function) and returns a matcher; `requestJson` assembles the JSON of a request's input
 * message from its path variables, query parameters and body.
 *
 * Pure: the model in, routes out. Serving HTTP is ./http-api.ts's job.
 */
import { protobuf } from '../../protocol/index.js';
import type { HttpRule, MethodModel, ProxyModel } from '../model.js';
import { BadRequest, fieldByName, setJsonField, textToJsonValue } from './json.js';
import { parsePathTemplate, PathTemplateError, type PathTemplate } from './path-template.js';

/** A `google.api.http` configuration the proxy cannot serve; the message says which method and why. */
export class HttpConfigError extends Error {
  readonly code = 'ERR_PROXY_HTTP_CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(`HTTP API config: ${message}`, options);
    this.name = 'HttpConfigError';
  }
}

/** One HTTP route to a method. */
export interface HttpBinding {
  readonly method: MethodModel;
  /** `GET`, `PUT`, `POST`, `DELETE`, `PATCH`, or `*` (a custom pattern of kind `*`: any method). */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** The input field each path variable sets, in template order. */
  readonly pathFields: readonly protobuf.Field[];
  /** `''` (no body), `'*'` (the whole input) or a field name. */
  readonly body: string;
  readonly bodyField: protobuf.Field | undefined;
  /** The output field to answer with instead of the whole output (`response_body`). */
  readonly responseBodyField: protobuf.Field | undefined;
  /** The output is `google.api.HttpBody`: answer with its raw data and content type. */
  readonly httpBodyOutput: boolean;
}

export interface HttpRoutes {
  readonly bindings: readonly HttpBinding[];
  /** The first binding for this method and raw (percent-encoded) path, with the raw path values. */
  match(httpMethod: string, path: string): { binding: HttpBinding; values: string[] } | undefined;
}

const PATTERNS = ['get', 'put', 'post', 'delete', 'patch'] as const;

function patternOf(rule: HttpRule, where: string): { httpMethod: string; path: string } {
  for (const key of PATTERNS) {
    const path = rule[key];
    if (typeof path === 'string' && path !== '') return { httpMethod: key.toUpperCase(), path };
  }
  const custom = rule.custom;
  if (custom !== undefined && custom !== null && (custom.kind || custom.path)) {
    if (custom.kind !== '*') throw new HttpConfigError(`${where}: only custom patterns of kind '*' are supported, found '${custom.kind ?? ''}'`);
    if (!custom.path) throw new HttpConfigError(`${where}: custom pattern without a path`);
    return { httpMethod: '*', path: custom.path };
  }
  throw new HttpConfigError(`${where}: the rule has no pattern (get, put, post, delete, patch or custom)`);
}

function compileBinding(method: MethodModel, rule: HttpRule, ruleOf: string): HttpBinding {
  const fullName = `${method.serviceName}.${method.name}`;
  if (rule.selector && rule.selector !== fullName) {
    throw new HttpConfigError(`${ruleOf}: rule selector '${rule.selector}' must be empty or '${fullName}'`);
  }
  const { httpMethod, path } = patternOf(rule, ruleOf);
  // Errors from here on name the rule too: a method may have several (additional_bindings).
  const where = `${ruleOf} (${httpMethod === '*' ? '' : `${httpMethod} `}${path})`;
  let template: PathTemplate;
  try {
    template = parsePathTemplate(path);
  } catch (error) {
    if (error instanceof PathTemplateError) throw new HttpConfigError(`${where}: path template: ${error.message}`, { cause: error });
    throw error;
  }
  const input = method.inputType;
  const pathFields = template.variables.map((variable) => {
    const name = variable.fieldPath.join('.');
    if (variable.fieldPath.length > 1) throw new HttpConfigError(`${where}: nested field paths in path templates are not supported: '${name}'`);
    const field = fieldByName(input, name);
    if (field === undefined) throw new HttpConfigError(`${where}: path variable '${name}' is not a field of ${input.fullName.slice(1)}`);
    if (field.map) throw new HttpConfigError(`${where}: map field '${name}' cannot be a path variable`);
    if (field.repeated) throw new HttpConfigError(`${where}: repeated field '${name}' cannot be a path variable`);
    if (field.resolvedType instanceof protobuf.Type) throw new HttpConfigError(`${where}: message field '${name}' cannot be a path variable`);
    if (field.resolvedType instanceof protobuf.Enum) throw new HttpConfigError(`${where}: enum field '${name}' cannot be a path variable`);
    return field;
  });
  const body = rule.body ?? '';
  let bodyField: protobuf.Field | undefined;
  if (body !== '' && body !== '*') {
    bodyField = fieldByName(input, body);
    if (bodyField === undefined) throw new HttpConfigError(`${where}: body field '${body}' is not a field of ${input.fullName.slice(1)}`);
    if (bodyField.repeated || bodyField.map) throw new HttpConfigError(`${where}: body field '${body}' is repeated`);
  }
  const responseBody = rule.response_body ?? '';
  let responseBodyField: protobuf.Field | undefined;
  if (responseBody !== '') {
    responseBodyField = fieldByName(method.outputType, responseBody);
    if (responseBodyField === undefined) {
      throw new HttpConfigError(`${where}: response_body field '${responseBody}' is not a field of ${method.outputType.fullName.slice(1)}`);
    }
  }
  return {
    method,
    httpMethod,
    template,
    pathFields,
    body,
    bodyField,
    responseBodyField,
    httpBodyOutput: method.outputType.fullName === '.google.api.HttpBody' && responseBodyField === undefined,
  };
}

/** The bindings of one method: its rule and additional bindings, or the default route. */
export function bindingsOf(method: MethodModel): HttpBinding[] {
  const where = `${method.serviceName}.${method.name}`;
  const rule: HttpRule = method.httpRule ?? { post: method.path, body: '*' };
  const bindings = [compileBinding(method, rule, where)];
  (rule.additional_bindings ?? []).forEach((extra, index) => {
    if ((extra.additional_bindings ?? []).length > 0) {
      throw new HttpConfigError(`${where}: additional_bindings may not have additional_bindings (only one level is supported)`);
    }
    bindings.push(compileBinding(method, extra, `${where} additional_bindings[${index}]`));
  });
  return bindings;
}

/**
 * The HTTP routes of every method of every service of the model. Throws `HttpConfigError`
 * for the first rule that cannot be served.
 */
export function compileHttpRules(model: ProxyModel): HttpRoutes {
  const bindings: HttpBinding[] = [];
  for (const service of model.services.values()) {
    for (const method of service.methods.values()) bindings.push(...bindingsOf(method));
  }
  return {
    bindings,
    match(httpMethod, path) {
      for (const binding of bindings) {
        if (binding.httpMethod !== '*' && binding.httpMethod !== httpMethod) continue;
        const values = binding.template.match(path);
        if (values !== undefined) return { binding, values };
      }
      return undefined;
    },
  };
}

function decodePathValue(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequest(`Malformed request: path value '${raw}' is not valid percent-encoding`);
  }
}

/** Sets one query parameter (a dotted field path, one or more values) in the request JSON. */
function setQueryParameter(input: protobuf.Type, json: Record<string, unknown>, selector: string, values: string[]): void {
  const names = selector.split('.');
  let type = input;
  let target = json;
  for (let i = 0; i < names.length; i++) {
    const field = fieldByName(type, names[i]!);
    if (field === undefined) throw new BadRequest(`Malformed request: query parameter '${selector}' refers to no field of ${type.fullName.slice(1)}`);
    const last = i === names.length - 1;
    if (!last) {
      if (!(field.resolvedType instanceof protobuf.Type) || field.repeated || field.map) {
        throw new BadRequest(`Malformed request: query parameter '${selector}': '${names[i]}' is not a singular message field`);
      }
      const next = target[field.name];
      const nested = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : {};
      setJsonField(target, field, nested);
      target = nested;
      type = field.resolvedType;
      continue;
    }
    if (field.resolvedType instanceof protobuf.Type || field.map) {
      throw new BadRequest(`Malformed request: query parameter '${selector}' refers to a message field`);
    }
    if (field.repeated) setJsonField(target, field, values.map((v) => textToJsonValue(field, v)));
    else if (values.length > 1) throw new BadRequest(`Malformed request: several values for the non-repeated query parameter '${selector}'`);
    else setJsonField(target, field, textToJsonValue(field, values[0]!));
  }
}

/**
 * The JSON of the input message of a matched request: the body (as the rule places it), the
 * query parameters (unless the body is `*`) and the path variables (which win). `body` is the
 * parsed JSON body, or undefined when the rule takes none. Throws `BadRequest`.
 */
export function requestJson(binding: HttpBinding, pathValues: readonly string[], query: URLSearchParams, body: unknown): Record<string, unknown> {
  let json: Record<string, unknown> = {};
  if (binding.body === '*') {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BadRequest(`Malformed request: the body must be a JSON object of ${binding.method.inputType.fullName.slice(1)}`);
    }
    json = { ...(body as Record<string, unknown>) };
  } else {
    const grouped = new Map<string, string[]>();
    for (const [key, value] of query) {
      if (value === '') continue;
      const list = grouped.get(key);
      if (list === undefined) grouped.set(key, [value]);
      else list.push(value);
    }
    for (const [key, values] of grouped) setQueryParameter(binding.method.inputType, json, key, values);
    if (binding.bodyField !== undefined) setJsonField(json, binding.bodyField, body);
  }
  binding.pathFields.forEach((field, index) => {
    setJsonField(json, field, textToJsonValue(field, decodePathValue(pathValues[index] ?? '')));
  });
  return json;
}
