import test from 'ava';
import { normalFormProblem, parseQuery, percentDecode, splitPath } from '../src/policy/path.js';
import { toPolicyRequest } from '../src/policy/request.js';

// ---- normal form: failures first ----

const notNormal: [string, RegExp][] = [
  ['', /start with/],
  ['repos/o/r', /start with/],
  ['*', /start with/],
  ['/repos/o/r/pulls/../../x', /dot segment/],
  ['/repos/o/r/./pulls', /dot segment/],
  ['/..', /dot segment/],
  ['/a/.', /dot segment/],
  ['/repos/o/r/pulls/%2e%2e/x', /hidden dot/],
  ['/repos/o/r/pulls/.%2E/x', /hidden dot/],
  ['/repos/o/r/pulls/%2E/x', /hidden dot/],
  ['/repos/o%2Fr/pulls', /encoded "\/"/],
  ['/repos/o%2fr/pulls', /encoded "\/"/],
  ['/repos/o%5Cr', /encoded "\\"/],
  ['/repos/o\\r', /backslash/],
  ['/repos//o/r', /empty segment/],
  ['//repos/o/r', /empty segment/],
  ['/repos/o/r%00', /control/],
  ['/repos/o/r%0A', /control/],
  ['/repos/o/r\u0000', /control/],
  ['/repos/o/r\n', /control/],
  ['/repos/o/r%7F', /control/],
  ['/repos/pull%73', /unreserved/],
  ['/rep%6Fs/o/r', /unreserved/],
  ['/a%7Eb', /unreserved/],
  ['/a%2D', /unreserved/],
  ['/a%zz', /malformed/],
  ['/a%2', /malformed/],
  ['/a%', /malformed/],
  ['/a#frag', /fragment/],
  ['/a b', /not allowed/],
  ['/a"b', /not allowed/],
  ['/a|b', /not allowed/],
  ['/é', /non-ASCII/],
];
for (const [path, why] of notNormal) {
  test(`not normal form: ${JSON.stringify(path)}`, (t) => {
    t.regex(normalFormProblem(path) ?? 'none', why);
  });
}

const normal = [
  '/',
  '/repos/o/r',
  '/repos/o/r/',
  "/a-b_c.d~e!$&'()*+,;=:@",
  '/a/b%20c',
  '/caf%C3%A9',
  '/a%25',
  '/a/.b/..c/...',
  '/a%3F',
];
for (const path of normal) {
  test(`normal form: ${path}`, (t) => {
    t.is(normalFormProblem(path), undefined);
  });
}

test('encoded "/" is accepted only when allowed (Cloud Storage object names), dot segments still not', (t) => {
  t.is(normalFormProblem('/storage/v1/b/b/o/a%2Fb', { allowEncodedSlash: true }), undefined);
  t.regex(normalFormProblem('/storage/v1/b/b/o/a%2Fb') ?? '', /encoded/);
  t.regex(normalFormProblem('/b/../o', { allowEncodedSlash: true }) ?? '', /dot segment/);
});

// ---- split and query ----

test('splitPath splits at the first "?" only', (t) => {
  t.deepEqual(splitPath('/a?b=1?c'), { path: '/a', query: 'b=1?c' });
  t.deepEqual(splitPath('/a'), { path: '/a', query: undefined });
  t.deepEqual(splitPath('/a?'), { path: '/a', query: '' });
});

const badQueries: [string, RegExp][] = [
  ['a=%zz', /malformed/],
  ['a=%', /malformed/],
  ['%E0%A4%A=1', /malformed/],
  ['a=%ED%A0%80', /malformed/], // a lone surrogate is not UTF-8
  ['a=b c', /raw space/],
  ['a=b#c', /raw space|#/],
  ['a=\n', /control/],
  ['a%00b=1', /control character in a query parameter name/],
];
for (const [raw, why] of badQueries) {
  test(`query refused: ${JSON.stringify(raw)}`, (t) => {
    const r = parseQuery(raw);
    t.true('problem' in r);
    if ('problem' in r) t.regex(r.problem, why);
  });
}

const goodQueries: [string, [string, string][]][] = [
  ['', []],
  [
    'a=1&b=2',
    [
      ['a', '1'],
      ['b', '2'],
    ],
  ],
  [
    'a=1&a=2&a',
    [
      ['a', '1'],
      ['a', '2'],
      ['a', ''],
    ],
  ],
  ['acl', [['acl', '']]],
  [
    'q=a+b&r=a%2Bb',
    [
      ['q', 'a b'],
      ['r', 'a+b'],
    ],
  ],
  ['%41ction=Send%4Dessage', [['Action', 'SendMessage']]],
  ['&&a=1&', [['a', '1']]],
  ['x=a=b', [['x', 'a=b']]],
  ['v=%0A', [['v', '\n']]],
];
for (const [raw, expected] of goodQueries) {
  test(`query parsed: ${JSON.stringify(raw)}`, (t) => {
    const r = parseQuery(raw);
    t.deepEqual('params' in r ? r.params.map((p) => [p.name, p.value]) : r, expected);
  });
}

test('percentDecode reads "+" as a space only in form mode', (t) => {
  t.is(percentDecode('a+b'), 'a+b');
  t.is(percentDecode('a+b', true), 'a b');
  t.is(percentDecode('%E2%82%AC'), '€');
  t.is(percentDecode('%E2%82'), undefined);
});

// ---- the request as the policy sees it ----

const badMethods = ['get', 'Get', 'dElEtE', 'GET ', 'G ET', '', 'GE-T'];
for (const method of badMethods) {
  test(`method refused: ${JSON.stringify(method)}`, (t) => {
    const r = toPolicyRequest({ method, path: '/', host: 'h', headers: [] });
    t.true('problem' in r);
  });
}

test('toPolicyRequest: path, query, lower-case header names, repeated headers joined', (t) => {
  const r = toPolicyRequest({
    method: 'POST',
    path: '/a/b?x=1&x=2',
    host: 'h',
    headers: [
      ['X-Amz-Target', 'A.B'],
      ['x-amz-target', 'C.D'],
      ['Content-Type', 'application/json'],
    ],
  });
  if ('problem' in r) return t.fail(r.problem);
  t.is(r.request.path, '/a/b');
  t.deepEqual(r.request.query, [
    { name: 'x', value: '1' },
    { name: 'x', value: '2' },
  ]);
  t.is(r.request.headers.get('x-amz-target'), 'A.B, C.D');
  t.is(r.request.headers.get('content-type'), 'application/json');
  t.is(r.request.body, undefined);
});

test('toPolicyRequest refuses a path or query not in normal form, naming the part', (t) => {
  const bad = toPolicyRequest({ method: 'GET', path: '/a/../b', host: 'h', headers: [] });
  t.deepEqual(bad, { problem: 'path: dot segment' });
  const badQuery = toPolicyRequest({ method: 'GET', path: '/a?x=%zz', host: 'h', headers: [] });
  t.true('problem' in badQuery);
});
