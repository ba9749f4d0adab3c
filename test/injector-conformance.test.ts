/**
 * ext_authz conformance: a grpc-js client sends real CheckRequests (Envoy's own protos) over the
 * injector's unix socket, one table row per case, and asserts the exact CheckResponse. Resources
 * are set up through the admin API of the same in-process `pai serve`. Failure cases first.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import type { CheckRequest } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';
import type { CheckResponse__Output } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { applyOkResponse } from './helpers/ext-authz-filter.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import { type EnvoyRequest, type Stack, check, denialBody, faultyInjector, startStack } from './helpers/injector.js';
import {
  type Fixture,
  type FixtureValues,
  BAD_AUTHORITIES,
  REFUSED_METHODS,
  HEADER_INJECTIONS,
  PASSING_REQUESTS,
  HOSTS,
  basicOf,
  caseRequest,
  seedFixture,
} from './helpers/injector-fixture.js';

interface Context {
  stack: Stack;
  fx: Fixture;
}
const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  const stack = await startStack();
  t.context = { stack, fx: await seedFixture(stack, makeCanary) };
});
test.after.always(async (t) => {
  await t.context.stack?.close();
});

const CREDENTIAL_HEADERS = ['api-key', 'authorization', 'proxy-authorization', 'x-api-key', 'x-goog-api-key'];
// google.rpc.Code
const PERMISSION_DENIED = 7;
const UNAVAILABLE = 14;

type Req = EnvoyRequest | { readonly raw: CheckRequest };

async function send(stack: Stack, req: Req): Promise<CheckResponse__Output> {
  return 'raw' in req ? check(stack.client, req.raw) : stack.check(req);
}

const bot = (authority: string, extra: Partial<EnvoyRequest> = {}): EnvoyRequest => ({ agent: 'bot', authority, ...extra });

/** An OK CheckResponse that changes nothing: no credential for this request. */
const PASS: CheckResponse__Output = { status: { code: 0 }, ok_response: {}, http_response: 'ok_response' };

// ---------------------------------------------------------------------------------------------
// Denials. Each names the HTTP status Envoy answers (type.v3.StatusCode), the google.rpc code, the
// error code (also the x-pai-deny-reason header and the metric reason) and what the message names.

interface DenyRow {
  readonly name: string;
  readonly req: Req;
  readonly http: 'BadRequest' | 'Forbidden' | 'MethodNotAllowed' | 'InternalServerError' | 'ServiceUnavailable';
  readonly code: string;
  readonly message?: RegExp;
}

const deny = (name: string, req: Req, http: DenyRow['http'], code: string, message?: RegExp): DenyRow => ({
  name,
  req,
  http,
  code,
  ...(message ? { message } : {}),
});
const badHost = (name: string, authority: string, message?: RegExp): DenyRow =>
  deny(`bad host: ${name}`, bot(authority), 'BadRequest', 'bad_host', message);

const denials: DenyRow[] = [
  // Identity comes from the sidecar's route config, never from the agent.
  deny(
    'identity only in an x-pai-agent header',
    { authority: HOSTS.github, headers: [['x-pai-agent', 'bot']] },
    'Forbidden',
    'no_identity',
    /pai\.agent/,
  ),
  deny(
    'empty pai.agent extension',
    { authority: HOSTS.github, contextExtensions: { 'pai.agent': '' } },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'identity under another extension key',
    { authority: HOSTS.github, contextExtensions: { agent: 'bot' } },
    'Forbidden',
    'no_identity',
  ),
  deny('unknown agent', { agent: 'ghost', authority: HOSTS.github }, 'Forbidden', 'unknown_agent', /agent "ghost" is not known/),
  deny(
    'agent name that is no resource name (no identity)',
    { agent: '../bot', authority: HOSTS.github },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'CheckRequest without attributes.request.http',
    { raw: { attributes: { context_extensions: { 'pai.agent': 'bot' } } } },
    'BadRequest',
    'bad_request',
  ),
  // Host spoofing: anything ambiguous is refused rather than guessed at.
  ...BAD_AUTHORITIES.map((c) => badHost(c.name, c.authority, c.message)),
  deny(
    'bad host: duplicate :authority (raw header map)',
    bot('', {
      rawHeaders: [
        [':authority', HOSTS.github],
        [':authority', 'evil.net'],
        [':method', 'GET'],
        [':path', '/'],
      ],
    }),
    'BadRequest',
    'bad_host',
    /duplicate/,
  ),
  deny(
    'bad host: :authority and host disagree (raw header map)',
    bot('', {
      rawHeaders: [
        [':authority', 'evil.net'],
        ['host', HOSTS.github],
        [':method', 'GET'],
        [':path', '/'],
      ],
    }),
    'BadRequest',
    'bad_host',
    /disagree/,
  ),
  deny(
    'bad host: duplicate host header (raw header map)',
    bot('', {
      rawHeaders: [
        ['host', HOSTS.github],
        ['host', 'evil.net'],
        [':method', 'GET'],
        [':path', '/'],
      ],
    }),
    'BadRequest',
    'bad_host',
    /duplicate/,
  ),
  // TRACE and CONNECT never get a credential (issue 16, item 7).
  ...REFUSED_METHODS.map((c) =>
    deny(`refused method: ${c.name}`, caseRequest(c), 'MethodNotAllowed', 'method_not_allowed', c.message),
  ),
  // egress: deny lets only the agent's own targets through.
  deny(
    'egress deny: unmatched host',
    { agent: 'strict-bot', authority: HOSTS.unmatched },
    'Forbidden',
    'egress_denied',
    /strict-bot.*unmatched\.example\.org/,
  ),
  deny(
    'egress deny: a host another agent may reach',
    { agent: 'strict-bot', authority: HOSTS.anthropic },
    'Forbidden',
    'egress_denied',
  ),
  // Broken configuration: fail closed, naming what is missing.
  deny(
    'secret missing',
    bot(HOSTS.doomed),
    'InternalServerError',
    'secret_missing',
    /secret "doomed" used by Provider "doomed-api" does not exist/,
  ),
  deny('key missing', bot(HOSTS.shrunk), 'InternalServerError', 'key_missing', /secret "shrunk" has no key "token"/),
  deny(
    'value with CR LF',
    bot(HOSTS.crlf),
    'InternalServerError',
    'bad_header_value',
    /key "token" in secret "crlf-value" contains a line break/,
  ),
  deny(
    'value with a trailing LF',
    bot(HOSTS.lf),
    'InternalServerError',
    'bad_header_value',
    /secret "lf-value" contains a line break/,
  ),
  deny('value with NUL', bot(HOSTS.nul), 'InternalServerError', 'bad_header_value', /secret "nul-value" contains a NUL/),
  deny(
    'telegram needs ext_proc',
    bot(HOSTS.telegram, { path: '/bot/getMe' }),
    'InternalServerError',
    'needs_ext_proc',
    /Provider "telegram" \(type telegram\).*ext_proc/,
  ),
  deny(
    'aws needs ext_proc',
    bot(HOSTS.s3, { method: 'PUT', path: '/bucket/key' }),
    'InternalServerError',
    'needs_ext_proc',
    /Provider "aws" \(type aws\) signs the request body/,
  ),
  deny(
    'bedrock needs ext_proc',
    { agent: 'bedrock-bot', authority: HOSTS.bedrock, method: 'POST', path: '/model/x/invoke' },
    'InternalServerError',
    'needs_ext_proc',
    /ModelProvider "bedrock"/,
  ),
];

function assertDenied(t: ExecutionContext<Context>, res: CheckResponse__Output, row: DenyRow): void {
  const rpc = row.http === 'ServiceUnavailable' ? UNAVAILABLE : PERMISSION_DENIED;
  t.deepEqual(res.status, { code: rpc, message: row.code }, 'status');
  t.is(res.http_response, 'denied_response');
  t.is(res.ok_response, undefined, 'no ok_response, so no header reaches the upstream');
  t.deepEqual(res.denied_response?.status, { code: row.http });
  t.deepEqual(res.denied_response?.headers, [
    { header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    { header: { key: 'x-pai-deny-reason', value: row.code }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ]);
  const body = denialBody(res);
  t.is(body?.error.code, row.code);
  if (row.message) t.regex(body?.error.message ?? '', row.message);
}

function assertNoValue(t: ExecutionContext<Context>, res: CheckResponse__Output, except: readonly string[] = []): void {
  const text = JSON.stringify(res);
  for (const value of t.context.fx.all) {
    if (except.includes(value)) continue;
    t.deepEqual(findCanary(text, value), [], 'no secret value in the response');
  }
}

for (const row of denials) {
  test(`deny: ${row.name}`, async (t) => {
    const res = await send(t.context.stack, row.req);
    assertDenied(t, res, row);
    assertNoValue(t, res);
  });
}

// ---------------------------------------------------------------------------------------------
// Store faults, with InjectorServer started directly on a store wrapper (cold caches).

test('deny: store down (secret reads fail) → 503, no stale value to fall back on', async (t) => {
  const injector = await faultyInjector(t.context.stack, { readSecret: 'throw' });
  t.teardown(() => injector.close());
  const res = await injector.check(bot(HOSTS.github));
  assertDenied(t, res, deny('', bot(''), 'ServiceUnavailable', 'store_unavailable'));
  assertNoValue(t, res);
});

test('deny: store down (every read fails, agent unknown to the cache) → 503', async (t) => {
  const injector = await faultyInjector(t.context.stack, { readSecret: 'throw', getDoc: 'throw' });
  t.teardown(() => injector.close());
  const res = await injector.check(bot(HOSTS.github));
  assertDenied(t, res, deny('', bot(''), 'ServiceUnavailable', 'store_unavailable'));
});

test('deny: store hangs → 503 within the store timeout, not Envoy’s', async (t) => {
  const injector = await faultyInjector(t.context.stack, { readSecret: 'hang' }, { storeTimeoutMs: 100 });
  t.teardown(() => injector.close());
  // Connect and load the agent first (no secret read on a pass), so that only the hang is timed.
  t.deepEqual(await injector.check(bot(HOSTS.unmatched)), PASS);
  const started = Date.now();
  const res = await injector.check(bot(HOSTS.github));
  // Generous against a loaded test machine; a store read that were not bounded would hang for good.
  t.true(Date.now() - started < 2500, 'answered while Envoy still waits');
  assertDenied(t, res, deny('', bot(''), 'ServiceUnavailable', 'store_unavailable', /did not answer within \d+ ms/));
});

test('deny: store fails with a foreign error → 500 internal, its message not echoed', async (t) => {
  const value = t.context.fx.values.github;
  const injector = await faultyInjector(t.context.stack, { readSecret: new Error(`driver exploded near ${value}`) });
  t.teardown(() => injector.close());
  const res = await injector.check(bot(HOSTS.github));
  assertDenied(t, res, deny('', bot(''), 'InternalServerError', 'internal', /^internal error$/));
  assertNoValue(t, res);
});

test('single flight: concurrent Checks on a cold cache make one store read of the secret', async (t) => {
  let reads = 0;
  const injector = await faultyInjector(t.context.stack, {
    readSecret: async (real, ...args) => {
      reads++;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return real(...args);
    },
  });
  t.teardown(() => injector.close());
  const results = await Promise.all(Array.from({ length: 50 }, () => injector.check(bot(HOSTS.github))));
  t.is(reads, 1);
  for (const res of results) t.deepEqual(normalized(res), injected('authorization', `Bearer ${t.context.fx.values.github}`));
});

// ---------------------------------------------------------------------------------------------
// Pass: no credential, and the request goes on unchanged.

const passes: { name: string; req: EnvoyRequest }[] = PASSING_REQUESTS.map((c) => ({ name: c.name, req: caseRequest(c) }));

for (const row of passes) {
  test(`pass: ${row.name}`, async (t) => {
    const res = await t.context.stack.check(row.req);
    t.deepEqual(res, PASS);
  });
}

// ---------------------------------------------------------------------------------------------
// Inject: exactly one header set with OVERWRITE_IF_EXISTS_OR_ADD, every other credential header removed.

const overwrite = (key: string, value: string): unknown => ({
  header: { key, value },
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
});

function injected(key: string, value: string): CheckResponse__Output {
  return {
    status: { code: 0 },
    ok_response: { headers: [overwrite(key, value)] as never, headers_to_remove: CREDENTIAL_HEADERS.filter((h) => h !== key) },
    http_response: 'ok_response',
  };
}

/** The response with headers_to_remove sorted (its order carries no meaning). */
function normalized(res: CheckResponse__Output): CheckResponse__Output {
  const ok = res.ok_response;
  if (!ok?.headers_to_remove) return res;
  return { ...res, ok_response: { ...ok, headers_to_remove: [...ok.headers_to_remove].sort() } };
}

interface InjectRow {
  readonly name: string;
  readonly req: EnvoyRequest;
  readonly header: string;
  readonly value: (v: FixtureValues) => string;
}

/** The secret values a header value is made of (the only ones allowed in the response). */
const parts = (fx: Fixture, header: string): string[] =>
  fx.all.filter(
    (x) => header.includes(x) || (header.startsWith('Basic ') && (x === fx.values.username || x === fx.values.password)),
  );

const injections: InjectRow[] = [
  ...HEADER_INJECTIONS.map((c) => ({ name: c.name, req: caseRequest(c), header: c.header, value: c.value })),
  {
    name: 'raw header map (encode_raw_headers)',
    req: bot('', {
      rawHeaders: [
        [':authority', HOSTS.github],
        [':method', 'GET'],
        [':path', '/'],
        ['authorization', 'Bearer agent-own'],
      ],
    }),
    header: 'authorization',
    value: (v) => `Bearer ${v.github}`,
  },
];

for (const row of injections) {
  test(`inject: ${row.name}`, async (t) => {
    const res = await t.context.stack.check(row.req);
    const value = row.value(t.context.fx.values);
    t.deepEqual(normalized(res), injected(row.header, value));
    assertNoValue(t, res, parts(t.context.fx, value));
  });
}

test('inject: query parameter → query_parameters_to_set (encoded), agent spellings removed by raw name', async (t) => {
  const v = t.context.fx.values;
  const res = await t.context.stack.check(bot(HOSTS.query, { path: '/v1/items?q=1&KEY=own1&key=own2&k%65y=own3&Key=own4' }));
  t.deepEqual(normalized(res), {
    status: { code: 0 },
    ok_response: {
      headers_to_remove: CREDENTIAL_HEADERS,
      query_parameters_to_set: [{ key: 'key', value: encodeURIComponent(v.query) }],
      query_parameters_to_remove: ['KEY', 'k%65y', 'Key'],
    },
    http_response: 'ok_response',
  });
  // What Envoy then forwards: one `key`, the encoded value, nothing of the agent's.
  const forwarded = applyOkResponse(
    {
      method: 'GET',
      path: '/v1/items?q=1&KEY=own1&key=own2&k%65y=own3&Key=own4',
      authority: HOSTS.query,
      headers: [],
      body: Buffer.alloc(0),
    },
    res.ok_response,
    'http',
  );
  t.is(forwarded.path, `/v1/items?key=${encodeURIComponent(v.query)}&q=1`);
  t.deepEqual(new URL(forwarded.path, 'http://x').searchParams.getAll('key'), [v.query]);
});

// ---------------------------------------------------------------------------------------------
// The agent's own credential headers, for a matched host: gone, and the injected value written last.

const OWN: [string, string][] = [
  ['authorization', 'Bearer agent-own'],
  ['Authorization', 'Basic agent-own-2'],
  ['x-api-key', 'agent-own'],
  ['X-Goog-Api-Key', 'agent-own'],
  ['api-key', 'agent-own'],
  ['proxy-authorization', 'Basic agent-own'],
  ['x-custom-token', 'Token agent-own'],
  ['accept', 'application/json'],
];

const overridden: { host: string; header: string; value: (v: FixtureValues) => string }[] = [
  { host: HOSTS.openai, header: 'authorization', value: (v) => `Bearer ${v.openai}` },
  { host: HOSTS.anthropic, header: 'x-api-key', value: (v) => v.anthropic },
  { host: HOSTS.gemini, header: 'x-goog-api-key', value: (v) => v.gemini },
  { host: HOSTS.azure, header: 'api-key', value: (v) => v.azure },
  { host: HOSTS.github, header: 'authorization', value: (v) => `Bearer ${v.github}` },
  { host: HOSTS.custom, header: 'x-custom-token', value: (v) => `Token ${v.custom}` },
  { host: HOSTS.basic, header: 'authorization', value: basicOf },
];

for (const row of overridden) {
  test(`agent credentials replaced: ${row.host}`, async (t) => {
    const res = await t.context.stack.check(bot(row.host, { headers: OWN }));
    const forwarded = applyOkResponse(
      {
        method: 'GET',
        path: '/',
        authority: row.host,
        headers: OWN.map(([n, v]) => [n.toLowerCase(), v]),
        body: Buffer.alloc(0),
      },
      res.ok_response,
      'https',
    );
    const credentialNames = new Set([...CREDENTIAL_HEADERS, 'x-custom-token']);
    const credentials = forwarded.headers.filter(([n]) => credentialNames.has(n) && n !== row.header);
    // x-custom-token is an ordinary header for every host but custom.example.com: it passes.
    t.deepEqual(credentials, row.header === 'x-custom-token' ? [] : [['x-custom-token', 'Token agent-own']]);
    t.deepEqual(
      forwarded.headers.filter(([n]) => n === row.header),
      [[row.header, row.value(t.context.fx.values)]],
    );
    t.deepEqual(forwarded.headers.at(-1), [row.header, row.value(t.context.fx.values)], 'the injected value is written last');
    t.true(
      forwarded.headers.some(([n]) => n === 'accept'),
      'other headers pass',
    );
  });
}

test('agent credentials pass unchanged for an unmatched host (nothing to protect there)', async (t) => {
  const res = await t.context.stack.check(bot(HOSTS.unmatched, { headers: OWN }));
  t.deepEqual(res, PASS);
});
