import test from 'ava';
import fc from 'fast-check';
import { isPaiError } from '../src/errors.js';
import { describeStrategy } from '../src/inject/describe.js';
import { assertHeaderValue, CREDENTIAL_HEADERS, removalsAfterSet } from '../src/inject/mutation.js';
import type { HeaderMutation, InjectRequest } from '../src/inject/mutation.js';
import {
  basicMutation,
  headerMutation,
  mutationFor,
  needsExtProc,
  needsExtProcError,
  oauthBearerMutation,
} from '../src/inject/strategies.js';
import type { AuthStrategy, InjectionTarget } from '../src/resources/types.js';
import { findCanary, makeCanary } from './helpers/canary.js';

function target(auth: AuthStrategy, type: InjectionTarget['type'] = 'http-token'): InjectionTarget {
  return {
    kind: 'Provider',
    name: 'prov',
    type,
    hosts: ['api.example.com'],
    secret: 'creds',
    requiredKeys: [],
    optionalKeys: [],
    auth,
  };
}
const values = (entries: Record<string, string | Buffer>): Map<string, Buffer> =>
  new Map(Object.entries(entries).map(([k, v]) => [k, typeof v === 'string' ? Buffer.from(v, 'latin1') : v]));

// The agent tries to bring its own credentials in every header it could use.
const request: InjectRequest = {
  method: 'POST',
  path: '/v1/messages',
  host: 'api.example.com',
  headers: [
    [':authority', 'api.example.com'],
    ['authorization', 'Bearer agent-own'],
    ['x-api-key', 'agent-own'],
    ['x-goog-api-key', 'agent-own'],
    ['api-key', 'agent-own'],
    ['proxy-authorization', 'Basic agent-own'],
    ['x-custom-token', 'agent-own'],
  ],
};

const bearer = target({ strategy: 'header', header: 'Authorization', prefix: 'Bearer ', key: 'token' }, 'github');
const anthropic = target({ strategy: 'header', header: 'x-api-key', prefix: '', key: 'api-key' }, 'anthropic');
const custom = target({ strategy: 'header', header: 'X-Custom-Token', prefix: 'Token ', key: 'token' });
const basic = target({ strategy: 'basic', usernameKey: 'username', passwordKey: 'password' });

/** Applies a mutation the documented way (remove, then set) to a header list. */
function apply(headers: InjectRequest['headers'], m: HeaderMutation): [string, string][] {
  const out = headers.filter(([n]) => !m.remove.includes(n.toLowerCase())).map(([n, v]): [string, string] => [n, v]);
  for (const { name, value } of m.set) out.push([name, value]);
  return out;
}

// Failure cases first: every refusal names the secret and key, never the value.
const refusals: [string, InjectionTarget, Record<string, string | Buffer>, string, RegExp][] = [
  ['missing key', bearer, { other: 'x' }, 'key_missing', /secret "creds" has no key "token"/],
  ['missing password', basic, { username: 'u' }, 'key_missing', /no key "password"/],
  ['missing username', basic, { password: 'p' }, 'key_missing', /no key "username"/],
  ['CR', bearer, { token: 'abc\rdef' }, 'bad_header_value', /key "token" in secret "creds" contains a line break/],
  ['LF', bearer, { token: 'abc\ndef' }, 'bad_header_value', /line break/],
  ['trailing newline', bearer, { token: 'abcdef\n' }, 'bad_header_value', /line break/],
  ['CRLF injection', custom, { token: 'x\r\nx-injected: 1' }, 'bad_header_value', /line break/],
  ['NUL', anthropic, { 'api-key': 'abc\0def' }, 'bad_header_value', /NUL/],
  ['other control', bearer, { token: 'abc\x1bdef' }, 'bad_header_value', /control character/],
  ['DEL', bearer, { token: 'abc\x7fdef' }, 'bad_header_value', /control character/],
  ['obs-text byte', bearer, { token: Buffer.from([0x61, 0xe9, 0x62]) }, 'bad_header_value', /non-ASCII/],
  ['UTF-8 BOM', bearer, { token: Buffer.from('\ufefftoken', 'utf8') }, 'bad_header_value', /non-ASCII/],
  ['empty', bearer, { token: '' }, 'bad_header_value', /is empty/],
  ['trailing space', bearer, { token: 'abc ' }, 'bad_header_value', /trailing whitespace/],
  ['leading tab', bearer, { token: '\tabc' }, 'bad_header_value', /leading or trailing/],
  ['basic user with colon', basic, { username: 'a:b', password: 'p' }, 'bad_header_value', /key "username".*":"/],
  ['basic password with LF', basic, { username: 'u', password: 'p\n' }, 'bad_header_value', /key "password".*line break/],
  ['basic user with NUL', basic, { username: 'u\0', password: 'p' }, 'bad_header_value', /NUL/],
  ['basic empty user', basic, { username: '', password: 'p' }, 'bad_header_value', /is empty/],
];

for (const [name, t0, vals, code, message] of refusals) {
  test(`strategy refuses: ${name}`, (t) => {
    const err = t.throws(() => mutationFor(t0, values(vals), request));
    t.true(isPaiError(err), String(err));
    t.is((err as { code?: string }).code, code);
    t.regex(err.message, message);
  });
}

const badHeaders: [string, string][] = [
  ['Host', 'host'],
  ['Content-Length', 'content-length'],
  ['Transfer-Encoding', 'transfer-encoding'],
  [':path', 'pseudo header'],
  ['x-envoy-original-path', 'envoy header'],
  ['bad header', 'space'],
  ['x-a\r\nb', 'CRLF'],
];
for (const [header, why] of badHeaders) {
  test(`header strategy refuses to write into ${why} (${JSON.stringify(header)})`, (t) => {
    const err = t.throws(() =>
      headerMutation(target({ strategy: 'header', header, prefix: '', key: 'k' }), values({ k: 'v' }), request),
    );
    t.true(isPaiError(err, 'invalid'));
  });
}

test('header strategy refuses a prefix with control characters', (t) => {
  const err = t.throws(() =>
    headerMutation(
      target({ strategy: 'header', header: 'Authorization', prefix: 'Bearer\n', key: 'k' }),
      values({ k: 'v' }),
      request,
    ),
  );
  t.true(isPaiError(err, 'invalid'));
});

test('refusals never carry the value (canary)', (t) => {
  const canary = makeCanary('inject');
  for (const bad of [`${canary}\n`, `${canary}\r`, `${canary}\0`, `\x01${canary}`, `${canary} `]) {
    for (const tgt of [bearer, anthropic, custom]) {
      const err = t.throws(() => mutationFor(tgt, values({ token: bad, 'api-key': bad }), request));
      t.deepEqual(findCanary(`${err.message} ${JSON.stringify(err)}`, canary), []);
    }
    const err = t.throws(() => basicMutation(basic, values({ username: 'u', password: bad.replace(' ', '\n') }), request));
    t.deepEqual(findCanary(`${err.message} ${JSON.stringify(err)}`, canary), []);
  }
});

const injections: [string, InjectionTarget, Record<string, string>, string, string][] = [
  ['openai / github bearer', bearer, { token: 'ghp_abc123' }, 'authorization', 'Bearer ghp_abc123'],
  ['anthropic x-api-key', anthropic, { 'api-key': 'sk-ant-1' }, 'x-api-key', 'sk-ant-1'],
  [
    'gemini x-goog-api-key',
    target({ strategy: 'header', header: 'x-goog-api-key', prefix: '', key: 'api-key' }, 'gemini'),
    { 'api-key': 'AIza1' },
    'x-goog-api-key',
    'AIza1',
  ],
  [
    'azure-openai api-key',
    target({ strategy: 'header', header: 'api-key', prefix: '', key: 'api-key' }, 'azure-openai'),
    { 'api-key': 'az1' },
    'api-key',
    'az1',
  ],
  ['custom header and prefix', custom, { token: 't0k en' }, 'x-custom-token', 'Token t0k en'],
  [
    'basic',
    basic,
    { username: 'user', password: 'p:ss wörd' },
    'authorization',
    `Basic ${Buffer.from('user:p:ss wörd', 'latin1').toString('base64')}`,
  ],
  [
    'basic empty password',
    basic,
    { username: 'user', password: '' },
    'authorization',
    `Basic ${Buffer.from('user:').toString('base64')}`,
  ],
];

for (const [name, tgt, vals, header, value] of injections) {
  test(`strategy injects: ${name}`, (t) => {
    const m = mutationFor(tgt, values(vals), request);
    t.is(m.path, undefined);
    t.deepEqual(m.set.at(-1), { name: header, value });
    for (const h of [...CREDENTIAL_HEADERS, header]) t.true(m.remove.includes(h), `removes ${h}`);
    t.is(new Set(m.remove).size, m.remove.length, 'no duplicate removals');
    const after = apply(request.headers, m);
    t.deepEqual(
      after.filter(([n]) => n === header),
      [[header, value]],
      'exactly one copy, ours',
    );
    t.false(
      after.some(([n, v]) => (CREDENTIAL_HEADERS.includes(n) || n === header) && v.includes('agent-own')),
      'no agent credential survives',
    );
    t.is(after.at(-1)?.[0], header, 'credential written last');
  });
}

test('oauth bearer (azure, gcp) sets the fetched token and refuses a bad one', (t) => {
  for (const strategy of ['azure', 'gcp'] as const) {
    const tgt = target({ strategy, scope: 'https://x/.default' }, strategy);
    const m = oauthBearerMutation(tgt, 'eyJ0eXAi.abc.def');
    t.deepEqual(m.set, [{ name: 'authorization', value: 'Bearer eyJ0eXAi.abc.def' }]);
    t.deepEqual(m, mutationFor(tgt, new Map(), request, 'eyJ0eXAi.abc.def'));
    t.true(
      isPaiError(
        t.throws(() => oauthBearerMutation(tgt, 'tok\r\n')),
        'bad_header_value',
      ),
    );
    t.true(
      isPaiError(
        t.throws(() => mutationFor(tgt, new Map(), request)),
        'internal',
      ),
    );
  }
  t.true(
    isPaiError(
      t.throws(() => oauthBearerMutation(bearer, 'x')),
      'internal',
    ),
  );
});

test('mutationFor refuses sigv4 (signed elsewhere) and a strategy function refuses a foreign target', (t) => {
  const aws = target({ strategy: 'sigv4' }, 'aws');
  t.true(
    isPaiError(
      t.throws(() => mutationFor(aws, new Map(), request)),
      'internal',
    ),
  );
  t.true(
    isPaiError(
      t.throws(() => basicMutation(bearer, values({ token: 'x' }), request)),
      'internal',
    ),
  );
});

test('needsExtProc: telegram and sigv4 only; the error names the target and says why', (t) => {
  const all: [AuthStrategy, boolean][] = [
    [{ strategy: 'header', header: 'authorization', prefix: '', key: 'k' }, false],
    [{ strategy: 'basic', usernameKey: 'u', passwordKey: 'p' }, false],
    [{ strategy: 'query', param: 'key', key: 'k' }, false],
    [{ strategy: 'telegram', key: 'token' }, true],
    [{ strategy: 'sigv4' }, true],
    [{ strategy: 'azure', scope: 's' }, false],
    [{ strategy: 'gcp', scope: 's' }, false],
  ];
  for (const [auth, expected] of all) t.is(needsExtProc(target(auth)), expected, auth.strategy);
  const err = needsExtProcError(target({ strategy: 'telegram', key: 'token' }, 'telegram'));
  t.is(err.code, 'needs_ext_proc');
  t.regex(err.message, /Provider "prov" \(type telegram\) rewrites :path and needs ext_proc/);
  t.regex(needsExtProcError(target({ strategy: 'sigv4' }, 'aws')).message, /signs the request body/);
});

test('removalsAfterSet keeps the injected header out of an ext_authz headers_to_remove', (t) => {
  const m = mutationFor(bearer, values({ token: 'x' }), request);
  t.false(removalsAfterSet(m).includes('authorization'));
  t.true(removalsAfterSet(m).includes('x-api-key'));
});

test('describeStrategy prints every strategy with values REDACTED and key names shown', (t) => {
  const lines = [
    describeStrategy(bearer),
    describeStrategy(basic),
    describeStrategy(target({ strategy: 'query', param: 'api_key', key: 'token' })),
    describeStrategy(target({ strategy: 'telegram', key: 'token' }, 'telegram')),
    describeStrategy(target({ strategy: 'sigv4', region: 'eu-west-1' }, 'aws')),
    describeStrategy(target({ strategy: 'azure', scope: 'https://management.azure.com/.default' }, 'azure')),
    describeStrategy(target({ strategy: 'gcp', scope: 'cloud-platform', tokenUrl: 'http://127.0.0.1/token' }, 'gcp')),
  ];
  t.is(
    lines[0],
    'Provider/prov (github) hosts=[api.example.com] header authorization: Bearer REDACTED(creds/token) [ext_authz or ext_proc]',
  );
  t.regex(lines[1] ?? '', /Basic base64\(REDACTED\(creds\/username\):REDACTED\(creds\/password\)\)/);
  t.regex(lines[2] ?? '', /query \?api_key=REDACTED\(creds\/token\)/);
  t.regex(lines[3] ?? '', /path \/botREDACTED\(creds\/token\)\/<method> .*\[ext_proc only\]/);
  t.regex(
    lines[4] ?? '',
    /sigv4 service=\(from host\) region=eu-west-1 .*REDACTED\(creds\/secret_access_key\).*\[ext_proc only\]/,
  );
  t.regex(lines[5] ?? '', /oauth2 azure scope=https:\/\/management.azure.com\/.default .*Bearer REDACTED/);
  t.regex(lines[6] ?? '', /oauth2 gcp scope=cloud-platform via http:\/\/127.0.0.1\/token/);
});

test('assertHeaderValue returns the string form of a clean value, from a Buffer or a string', (t) => {
  const what = { secret: 's', key: 'k' };
  t.is(assertHeaderValue(Buffer.from('a b\tc~!'), what), 'a b\tc~!');
  t.is(assertHeaderValue('xyz', what), 'xyz');
});

test('property: a header value containing any CR, LF or NUL is always refused', (t) => {
  const bad = fc.constantFrom('\r', '\n', '\0', '\r\n');
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), bad, fc.string({ maxLength: 30 }), fc.boolean(), (a, b, c, asBuffer) => {
      const text = `${a}${b}${c}`;
      const value = asBuffer ? Buffer.from(text, 'utf8') : text;
      try {
        assertHeaderValue(value, { secret: 's', key: 'k' });
        return false;
      } catch (err) {
        return isPaiError(err, 'bad_header_value') && err.message.startsWith('value of key "k" in secret "s"');
      }
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: header strategies accept every visible-ASCII value and inject it unchanged', (t) => {
  fc.assert(
    fc.property(fc.stringMatching(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/), (token) => {
      const m = mutationFor(custom, values({ token }), request);
      return m.set.at(-1)?.value === `Token ${token}`;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
