import t from 'tap';
import { parsePathTemplate, PathTemplateError } from '../../../../src/proxy/ingress/path-template.js';

// After the reference proxy's PathTemplateParserSpec: what parses, what each template matches
// (raw values per variable), and the 1-based column a bad template is reported at.
const matching: { template: string; variables: { fieldPath: string[]; multi: boolean }[]; paths: [string, string[] | undefined][] }[] = [
  { template: '/foo', variables: [], paths: [['/foo', []], ['/bar', undefined], ['/foo/', undefined]] },
  {
    template: '/foo/{bar}/baz',
    variables: [{ fieldPath: ['bar'], multi: false }],
    paths: [
      ['/foo', undefined],
      ['/foo/bl/ah/baz', undefined],
      ['/foo/blah/baz', ['blah']],
      ['/foo//baz', undefined],
    ],
  },
  {
    template: '/foo/{bar}/baz/{other}',
    variables: [
      { fieldPath: ['bar'], multi: false },
      { fieldPath: ['other'], multi: false },
    ],
    paths: [
      ['/foo/blah/baz', undefined],
      ['/foo/blah/baz/blah2', ['blah', 'blah2']],
    ],
  },
  {
    template: '/foo/{bar=*/a/*}/baz',
    variables: [{ fieldPath: ['bar'], multi: true }],
    paths: [
      ['/foo/blah/baz', undefined],
      ['/foo/bl/a/h/baz', ['bl/a/h']],
    ],
  },
  { template: '/foo/{bar=**}', variables: [{ fieldPath: ['bar'], multi: true }], paths: [['/foo/blah/baz', ['blah/baz']]] },
  {
    template: '/foo/{bar}:watch',
    variables: [{ fieldPath: ['bar'], multi: false }],
    paths: [
      ['/foo/blah', undefined],
      ['/foo/blah:watch', ['blah']],
      ['/foo/blah:other', undefined],
    ],
  },
  { template: '/v1/*/items/**', variables: [], paths: [['/v1/x/items/a/b/c', []], ['/v1/x/y/items/a', undefined]] },
  {
    template: '/cart/{user_id}/items/{product_id}/remove',
    variables: [
      { fieldPath: ['user_id'], multi: false },
      { fieldPath: ['product_id'], multi: false },
    ],
    paths: [['/cart/u%201/items/p.2/remove', ['u%201', 'p.2']]],
  },
  { template: '/a/{b.c}', variables: [{ fieldPath: ['b', 'c'], multi: false }], paths: [['/a/x', ['x']]] },
  { template: '/a.b+c(d)$/{x}', variables: [{ fieldPath: ['x'], multi: false }], paths: [['/a.b+c(d)$/1', ['1']], ['/aXbbc(d)$/1', undefined]] },
];

t.test('templates parse and match', async (t) => {
  for (const { template, variables, paths } of matching) {
    const parsed = parsePathTemplate(template);
    t.same(parsed.variables, variables, `${template}: variables`);
    for (const [path, expected] of paths) t.same(parsed.match(path), expected, `${template} against ${path}`);
  }
});

const failing: [template: string, column: number, reason: RegExp][] = [
  ['/foo/{bar={baz}}', 11, /nested/],
  ['foo', 1, /start with a slash/],
  ['/foo/{bar*}', 10, /Unclosed variable/],
  ['/foo/{bar', 10, /Unclosed variable/],
  ['/f*o', 3, /Expected '\/'/],
  ['/foo/{bar=ba*}', 13, /Unclosed variable/],
  ['/foo/**/bar', 6, /last position/],
  ['/foo/{a}/{a}', 10, /Duplicate/],
  ['', 1, /start with a slash/],
  ['/foo/', 6, /path segment/],
  ['/foo/{1a}', 7, /identifier/],
  ['/foo:', 6, /verb/],
];

t.test('bad templates report the column at fault', async (t) => {
  for (const [template, column, reason] of failing) {
    const error = t.throws(() => parsePathTemplate(template), PathTemplateError, template) as unknown as PathTemplateError;
    t.equal(error.column, column, `${template}: column`);
    t.match(error.reason, reason, `${template}: reason`);
    t.match(error.message, template === '' ? /end of input/ : /of '/, `${template}: message names the place`);
  }
});
