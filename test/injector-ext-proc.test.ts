/**
 * ext_proc conformance, part 1: a grpc-js client plays Envoy's ext_proc filter over the injector's
 * unix socket with scripted ProcessingRequests (Envoy's own protos): identity (as Envoy forwards
 * it, or missing), host spoofing, every denial kind, passes and header credentials. One table row
 * per case, failure cases first; the exact ProcessingResponses are asserted, and where a credential
 * is injected, the request Envoy would forward is rebuilt (helpers/ext-proc-filter.ts) and checked.
 * Part 2 (path credentials, SigV4 over the body, OAuth, stream semantics) is
 * test/injector-ext-proc-flows.test.ts.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import type { ProcessingResponse__Output } from '../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { Struct } from '../src/generated/google/protobuf/Struct.js';
import {
  CREDENTIAL_HEADERS,
  MAX_BODY,
  PASS,
  type ProcessSuite,
  assertImmediateDenial,
  assertNoValueIn,
  startProcessSuite,
  stopProcessSuite,
} from './helpers/ext-proc-suite.js';
import {
  type ExtProcHeadersSpec,
  applyExtProcMutation,
  headerPairsOf,
  processHeaders,
  routeMetadataText,
} from './helpers/ext-proc-filter.js';
import {
  type FixtureValues,
  BAD_AUTHORITIES,
  REFUSED_METHODS,
  HEADER_INJECTIONS,
  PASSING_REQUESTS,
  HOSTS,
  caseRequest,
} from './helpers/injector-fixture.js';
import { CLOUD_HOSTS } from './helpers/token-servers.js';

type Context = ProcessSuite;
const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  t.context = await startProcessSuite();
});
test.after.always(async (t) => {
  await stopProcessSuite(t.context);
});

type Header = [string, string];

const bot = (authority: string, extra: Partial<ExtProcHeadersSpec> = {}): ExtProcHeadersSpec => ({
  agent: 'bot',
  authority,
  ...extra,
});

// ---------------------------------------------------------------------------------------------
// Denials: ImmediateResponse with the error table's status, JSON body, content-type and reason.

interface DenyRow {
  readonly name: string;
  readonly spec: ExtProcHeadersSpec;
  readonly http:
    'BadRequest' | 'Forbidden' | 'MethodNotAllowed' | 'InternalServerError' | 'ServiceUnavailable' | 'PayloadTooLarge';
  readonly code: string;
  readonly message?: RegExp;
}

const deny = (name: string, spec: ExtProcHeadersSpec, http: DenyRow['http'], code: string, message?: RegExp): DenyRow => ({
  name,
  spec,
  http,
  code,
  ...(message ? { message } : {}),
});
const badHost = (name: string, authority: string, message?: RegExp): DenyRow =>
  deny(`bad host: ${name}`, bot(authority), 'BadRequest', 'bad_host', message);
const text = (agentText: string): Record<string, Struct> => ({
  'envoy.filters.http.ext_proc': { fields: { 'xds.route_metadata': { stringValue: agentText } } },
});

const denials: DenyRow[] = [
  // Identity: only from the route, as Envoy forwards it.
  deny('no attributes at all', { authority: HOSTS.github, attributes: {} }, 'Forbidden', 'no_identity', /pai\.agent/),
  deny(
    'identity only in an x-pai-agent header',
    { authority: HOSTS.github, attributes: {}, headers: [['x-pai-agent', 'bot']] },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'attributes under another filter name',
    {
      authority: HOSTS.github,
      attributes: {
        'envoy.filters.http.ext_authz': {
          fields: { "xds.route_metadata.filter_metadata['pai']['agent']": { stringValue: 'bot' } },
        },
      },
    },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'empty agent attribute',
    {
      authority: HOSTS.github,
      attributes: {
        'envoy.filters.http.ext_proc': { fields: { "xds.route_metadata.filter_metadata['pai']['agent']": { stringValue: '' } } },
      },
    },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'agent attribute that is not a string',
    {
      authority: HOSTS.github,
      attributes: {
        'envoy.filters.http.ext_proc': { fields: { "xds.route_metadata.filter_metadata['pai']['agent']": { boolValue: true } } },
      },
    },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'route metadata without pai',
    {
      authority: HOSTS.github,
      attributes: text('filter_metadata { key: "other" value { fields { key: "agent" value { string_value: "bot" } } } }'),
    },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'route metadata with pai but no agent',
    {
      authority: HOSTS.github,
      attributes: text('filter_metadata { key: "pai" value { fields { key: "name" value { string_value: "bot" } } } }'),
    },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'route metadata with a non-string agent',
    {
      authority: HOSTS.github,
      attributes: text('filter_metadata { key: "pai" value { fields { key: "agent" value { number_value: 1 } } } }'),
    },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'route metadata naming pai twice',
    { authority: HOSTS.github, attributes: text(`${routeMetadataText('bot')} filter_metadata { key: "pai" value { } }`) },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'route metadata that does not parse',
    { authority: HOSTS.github, attributes: text('filter_metadata { key: "pai" value { fields {') },
    'Forbidden',
    'no_identity',
  ),
  deny(
    'route metadata with the Envoy 1.37.0 debug marker',
    { authority: HOSTS.github, attributes: text(`goo.gle/debugonly ${routeMetadataText('bot')}`) },
    'Forbidden',
    'no_identity',
  ),
  deny('unknown agent', { agent: 'ghost', authority: HOSTS.github }, 'Forbidden', 'unknown_agent', /agent "ghost" is not known/),
  deny(
    'unknown agent from route metadata text',
    { agent: 'ghost', identity: 'text', authority: HOSTS.github },
    'Forbidden',
    'unknown_agent',
  ),
  // Malformed requests are denied, never crash.
  deny(
    'no :method',
    bot(HOSTS.github, {
      rawHeaders: [
        [':authority', HOSTS.github],
        [':path', '/'],
      ],
    }),
    'BadRequest',
    'bad_request',
    /:method/,
  ),
  deny(
    'no :path',
    bot(HOSTS.github, {
      rawHeaders: [
        [':authority', HOSTS.github],
        [':method', 'GET'],
      ],
    }),
    'BadRequest',
    'bad_request',
    /:path/,
  ),
  deny(
    'two :path',
    bot(HOSTS.github, {
      rawHeaders: [
        [':authority', HOSTS.github],
        [':method', 'GET'],
        [':path', '/'],
        [':path', '/x'],
      ],
    }),
    'BadRequest',
    'bad_request',
    /repeat/,
  ),
  // TRACE and CONNECT never get a credential (issue 16, item 7).
  ...REFUSED_METHODS.map((c) =>
    deny(`refused method: ${c.name}`, caseRequest(c), 'MethodNotAllowed', 'method_not_allowed', c.message),
  ),
  // Host spoofing (the rows of part 1).
  ...BAD_AUTHORITIES.map((c) => badHost(c.name, c.authority, c.message)),
  deny(
    'bad host: duplicate :authority',
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
    'bad host: :authority and host disagree',
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
    'bad host: duplicate host header',
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
  deny(
    'egress deny: unmatched host',
    { agent: 'strict-bot', authority: HOSTS.unmatched },
    'Forbidden',
    'egress_denied',
    /strict-bot/,
  ),
  // Broken configuration: fail closed, naming what is missing.
  deny('secret missing', bot(HOSTS.doomed), 'InternalServerError', 'secret_missing', /secret "doomed"/),
  deny('key missing', bot(HOSTS.shrunk), 'InternalServerError', 'key_missing', /secret "shrunk" has no key "token"/),
  deny('value with CR LF', bot(HOSTS.crlf), 'InternalServerError', 'bad_header_value', /line break/),
  deny('value with NUL', bot(HOSTS.nul), 'InternalServerError', 'bad_header_value', /NUL/),
  // Telegram: the agent never chooses the token or leaves the bot path.
  deny(
    'telegram: agent-chosen token',
    bot(HOSTS.telegram, { path: '/bot123:abc/getMe' }),
    'BadRequest',
    'bad_request',
    /added by the injector/,
  ),
  deny('telegram: not a bot path', bot(HOSTS.telegram, { path: '/getMe' }), 'BadRequest', 'bad_request', /\/bot\/<method>/),
  deny('telegram: dot segment', bot(HOSTS.telegram, { path: '/bot/../admin' }), 'BadRequest', 'bad_request', /segments/),
  deny('telegram: encoded slash', bot(HOSTS.telegram, { path: '/bot/a%2fb' }), 'BadRequest', 'bad_request', /encoded/),
  // SigV4: what cannot be signed is refused before anything is sent.
  deny(
    'aws: host with no derivable service and region',
    bot('a.b.c.amazonaws.com', { method: 'GET', path: '/' }),
    'BadRequest',
    'bad_host',
    /AWS service and region/,
  ),
  deny(
    'aws: aws-chunked upload',
    bot(HOSTS.s3, { method: 'PUT', path: '/b/k', headers: [['x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD']] }),
    'BadRequest',
    'bad_request',
    /aws-chunked/,
  ),
  deny(
    'aws: declared body over PAI_MAX_SIGNED_BODY',
    bot(HOSTS.s3, { method: 'PUT', path: '/b/k', endOfStream: false, headers: [['content-length', String(MAX_BODY + 1)]] }),
    'PayloadTooLarge',
    'body_too_large',
    /65537 bytes.*65536/,
  ),
  // OAuth: a failing token endpoint is a 503 with a reason, never a request without its credential.
  deny(
    'azure: token endpoint answers 500',
    { agent: 'cloud-bot', authority: CLOUD_HOSTS.down },
    'ServiceUnavailable',
    'token_endpoint_failed',
    /azure Provider "arm-down": the token endpoint at 127\.0\.0\.1:\d+ answered HTTP 500$/,
  ),
  deny(
    'azure: token endpoint rejects the client',
    { agent: 'cloud-bot', authority: CLOUD_HOSTS.echo },
    'ServiceUnavailable',
    'token_endpoint_failed',
    /answered HTTP 401 \(invalid_client\)$/,
  ),
  deny(
    'azure: token endpoint hangs',
    { agent: 'cloud-bot', authority: CLOUD_HOSTS.hang },
    'ServiceUnavailable',
    'token_endpoint_failed',
    /did not answer within 3000 ms/,
  ),
  deny(
    'azure: tenant id that would change the URL path',
    { agent: 'cloud-bot', authority: CLOUD_HOSTS.badTenant },
    'InternalServerError',
    'bad_header_value',
    /key "tenant_id" in secret "azure-bad-tenant" is not a tenant id/,
  ),
  deny(
    'gcp: key.json without a usable private key',
    { agent: 'cloud-bot', authority: CLOUD_HOSTS.badKey },
    'InternalServerError',
    'bad_header_value',
    /key "key.json" in secret "gcp-bad" has a private_key that is not an RSA key/,
  ),
];

const assertDenied = assertImmediateDenial;

function assertNoValue(t: ExecutionContext<Context>, res: unknown, except: readonly string[] = []): void {
  assertNoValueIn(t, res, [...t.context.fx.all, ...t.context.cloud.all], except);
}

for (const row of denials) {
  test(`deny: ${row.name}`, async (t) => {
    const res = await processHeaders(t.context.client, row.spec);
    assertDenied(t, res, row);
    assertNoValue(t, res);
  });
}

// ---------------------------------------------------------------------------------------------
// Pass: an empty CONTINUE, so the request goes on unchanged.

const passes: { name: string; spec: ExtProcHeadersSpec }[] = [
  ...PASSING_REQUESTS.map((c) => ({ name: c.name, spec: caseRequest(c) })),
  {
    name: 'identity from the route metadata text only',
    spec: { agent: 'lonely-bot', identity: 'text', authority: HOSTS.github },
  },
];

for (const row of passes) {
  test(`pass: ${row.name}`, async (t) => {
    t.deepEqual(await processHeaders(t.context.client, row.spec), PASS);
  });
}

// ---------------------------------------------------------------------------------------------
// Header credentials: removals of every credential header, then one overwrite, as raw bytes.

const overwrite = (key: string, value: string): unknown => ({
  header: { key, raw_value: Buffer.from(value, 'latin1') },
  append: { value: false },
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
});

/** The answer that removes every credential header (and `key`) and sets `key` once. */
function injected(key: string, value: string): ProcessingResponse__Output {
  const remove = CREDENTIAL_HEADERS.includes(key) ? CREDENTIAL_HEADERS : [...CREDENTIAL_HEADERS, key];
  return {
    request_headers: {
      response: {
        status: 'CONTINUE',
        header_mutation: { remove_headers: remove, set_headers: [overwrite(key, value)] as never },
      },
    },
    response: 'request_headers',
  };
}

const injections: { name: string; spec: ExtProcHeadersSpec; header: string; value: (v: FixtureValues) => string }[] = [
  ...HEADER_INJECTIONS.map((c) => ({ name: c.name, spec: caseRequest(c), header: c.header, value: c.value })),
  {
    name: 'identity from the route metadata text only',
    spec: bot(HOSTS.github, { identity: 'text' }),
    header: 'authorization',
    value: (v) => `Bearer ${v.github}`,
  },
];

for (const row of injections) {
  test(`inject: ${row.name}`, async (t) => {
    const res = await processHeaders(t.context.client, row.spec);
    const value = row.value(t.context.fx.values);
    t.deepEqual(res, injected(row.header, value));
  });
}

const OWN: Header[] = [
  ['authorization', 'Bearer agent-own'],
  ['x-api-key', 'agent-own'],
  ['api-key', 'agent-own'],
  ['proxy-authorization', 'Basic agent-own'],
  ['accept', 'application/json'],
];

test('agent credentials are replaced: the forwarded request holds only the injected one, last', async (t) => {
  const spec = bot(HOSTS.anthropic, { headers: OWN });
  const res = await processHeaders(t.context.client, spec);
  const headers = headerPairsOf(spec);
  applyExtProcMutation(headers, res.request_headers?.response?.header_mutation);
  const credentials = headers.filter(([n]) => CREDENTIAL_HEADERS.includes(n));
  t.deepEqual(credentials, [['x-api-key', t.context.fx.values.anthropic]]);
  t.deepEqual(headers.at(-1), ['x-api-key', t.context.fx.values.anthropic]);
  t.true(headers.some(([n]) => n === 'accept'));
});
