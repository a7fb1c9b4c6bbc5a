/**
 * `google.api.HttpRule` path templates: parsing and matching. Pure; no protobuf here (which
 * fields the variables name, and their types, is ./http-rules.ts's business).
 *
 * Grammar (https://cloud.google.com/endpoints/docs/grpc-service-config/reference/rpc/google.api#httprule):
 * ```
 * Template = "/" Segments [ Verb ] ;
 * Segments = Segment { "/" Segment } ;
 * Segment  = "*" | "**" | LITERAL | Variable ;
 * Variable = "{" FieldPath [ "=" Segments ] "}" ;
 * FieldPath = IDENT { "." IDENT } ;
 * Verb     = ":" LITERAL ;
 * ```
 * Extra rules, as the reference proxy enforces them: variables do not nest, `**` only last,
 * a field path appears once. A literal is any run of characters other than `* { } / :`.
 * Matching works on the raw (still percent-encoded) request path; values are decoded by the
 * caller. `*` matches one non-empty segment, `**` the rest of the path.
 */

/** A `{field}` or `{field=segments}` of a template. */
export interface TemplateVariable {
  /** `a.b.c` as `['a','b','c']`. */
  readonly fieldPath: readonly string[];
  /** True when the variable may span several segments (`{x=**}`, `{x=a/*}`). */
  readonly multi: boolean;
}

/** A parsed template: its variables in order, and a matcher. */
export interface PathTemplate {
  readonly template: string;
  readonly variables: readonly TemplateVariable[];
  readonly verb: string | undefined;
  /** The raw value of each variable, in order, or undefined when `path` does not match. */
  match(path: string): string[] | undefined;
}

/** A template that does not parse; `column` is 1-based (the length + 1 at end of input). */
export class PathTemplateError extends Error {
  constructor(
    readonly reason: string,
    readonly template: string,
    readonly column: number,
  ) {
    super(`${reason} at ${column > template.length ? 'end of input' : `character ${column}`} of '${template}'`);
    this.name = 'PathTemplateError';
  }
}

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'single' }
  | { kind: 'multi'; at: number }
  | { kind: 'variable'; fieldPath: string[]; segments: Segment[] | undefined; at: number };

const NOT_LITERAL = new Set(['*', '{', '}', '/', ':']);
const IDENT_START = /[A-Za-z]/;
const IDENT_PART = /[A-Za-z0-9_]/;

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  fail(reason: string, at = this.i): never {
    throw new PathTemplateError(reason, this.s, at + 1);
  }

  parseTemplate(): { segments: Segment[]; verb: string | undefined } {
    if (this.s[this.i] !== '/') this.fail('Template must start with a slash');
    this.i++;
    const segments = this.parseSegments();
    let verb: string | undefined;
    if (this.s[this.i] === ':') {
      this.i++;
      verb = this.parseLiteral();
      if (verb === '') this.fail('Expected a verb after ":"');
    }
    if (this.i < this.s.length) this.fail("Expected '/', ':', path literal character, or end of input");
    return { segments, verb };
  }

  private parseSegments(): Segment[] {
    const segments = [this.parseSegment()];
    while (this.s[this.i] === '/') {
      this.i++;
      segments.push(this.parseSegment());
    }
    return segments;
  }

  private parseSegment(): Segment {
    const c = this.s[this.i];
    if (c === '*') {
      if (this.s[this.i + 1] === '*') {
        const at = this.i;
        this.i += 2;
        return { kind: 'multi', at };
      }
      this.i++;
      return { kind: 'single' };
    }
    if (c === '{') return this.parseVariable();
    const text = this.parseLiteral();
    if (text === '') this.fail('Expected a path segment');
    return { kind: 'literal', text };
  }

  private parseVariable(): Segment {
    const at = this.i;
    this.i++; // '{'
    const fieldPath = [this.parseIdent()];
    while (this.s[this.i] === '.') {
      this.i++;
      fieldPath.push(this.parseIdent());
    }
    let segments: Segment[] | undefined;
    if (this.s[this.i] === '=') {
      this.i++;
      segments = this.parseSegments();
    }
    if (this.s[this.i] !== '}') this.fail('Unclosed variable or unexpected character');
    this.i++;
    return { kind: 'variable', fieldPath, segments, at };
  }

  private parseIdent(): string {
    const start = this.i;
    if (!IDENT_START.test(this.s[this.i] ?? '')) this.fail('Expected identifier first letter');
    this.i++;
    while (IDENT_PART.test(this.s[this.i] ?? '')) this.i++;
    return this.s.slice(start, this.i);
  }

  private parseLiteral(): string {
    const start = this.i;
    while (this.i < this.s.length && !NOT_LITERAL.has(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function toRegExp(segments: readonly Segment[]): string {
  return segments
    .map((segment) => {
      switch (segment.kind) {
        case 'literal':
          return escapeRegExp(segment.text);
        case 'single':
          return '[^/:]+';
        case 'multi':
          return '.*';
        case 'variable':
          return segment.segments === undefined ? '([^/:]+)' : `(${toRegExp(segment.segments)})`;
      }
    })
    .join('/');
}

/** Parses and validates a path template; throws a `PathTemplateError` with the column at fault. */
export function parsePathTemplate(template: string): PathTemplate {
  const parser = new Parser(template);
  const { segments, verb } = parser.parseTemplate();

  // Flatten (no nested variables), then check that `**` is last, and that no field repeats.
  const flat: Segment[] = [];
  for (const segment of segments) {
    if (segment.kind !== 'variable' || segment.segments === undefined) {
      flat.push(segment);
      continue;
    }
    for (const inner of segment.segments) {
      if (inner.kind === 'variable') parser.fail('Variable segments may not be nested', inner.at);
      flat.push(inner);
    }
  }
  flat.forEach((segment, index) => {
    if (segment.kind === 'multi' && index !== flat.length - 1) {
      parser.fail('Multi segment matchers (**) may only be in the last position of the template', segment.at);
    }
  });
  const variables: TemplateVariable[] = [];
  const seen = new Set<string>();
  for (const segment of segments) {
    if (segment.kind !== 'variable') continue;
    const key = segment.fieldPath.join('.');
    if (seen.has(key)) parser.fail(`Duplicate path variable '${key}' in template`, segment.at);
    seen.add(key);
    const inner = segment.segments;
    variables.push({ fieldPath: segment.fieldPath, multi: inner !== undefined && (inner.length > 1 || inner[0]?.kind === 'multi') });
  }

  const regex = new RegExp(`^/${toRegExp(segments)}${verb === undefined ? '' : `:${escapeRegExp(verb)}`}$`);
  const count = variables.length;
  return {
    template,
    variables,
    verb,
    match(path: string): string[] | undefined {
      const m = regex.exec(path);
      if (m === null) return undefined;
      const values = new Array<string>(count);
      for (let k = 0; k < count; k++) values[k] = m[k + 1] ?? '';
      return values;
    },
  };
}
