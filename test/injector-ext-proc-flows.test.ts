/**
 * ext_proc conformance, part 2: path credentials (query, telegram), SigV4 over the buffered body
 * after the mode override, OAuth (azure, gcp) through Process and Check, and the stream's
 * semantics (unexpected messages, protocol errors, streams ending early, slow decisions), with a
 * grpc-js client playing Envoy over the injector's unix socket. Part 1 (identity, host spoofing,
 * denials, header credentials) is test/injector-ext-proc.test.ts.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import type { ProcessingRequest } from '../src/generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { BUFFER_BODY_MODE } from '../src/injector/ext-proc-messages.js';
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
  ScriptedStream,
  applyExtProcMutation,
  headerPairsOf,
  headersMessage,
  processHeaders,
} from './helpers/ext-proc-filter.js';
import { HOSTS } from './helpers/injector-fixture.js';
import { verifySigV4 } from './helpers/sigv4-verify.js';
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

const assertDenied = assertImmediateDenial;

function assertNoValue(t: ExecutionContext<Context>, res: unknown, except: readonly string[] = []): void {
  assertNoValueIn(t, res, [...t.context.fx.all, ...t.context.cloud.all], except);
}

const overwrite = (key: string, value: string): unknown => ({
  header: { key, raw_value: Buffer.from(value, 'latin1') },
  append: { value: false },
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
});

function injected(key: string, value: string, path?: string): ProcessingResponse__Output {
  const remove = CREDENTIAL_HEADERS.includes(key) || key === ':path' ? CREDENTIAL_HEADERS : [...CREDENTIAL_HEADERS, key];
  const set = path === undefined ? [overwrite(key, value)] : [overwrite(':path', path)];
  return {
    request_headers: { response: { status: 'CONTINUE', header_mutation: { remove_headers: remove, set_headers: set as never } } },
    response: 'request_headers',
  };
}

// ---------------------------------------------------------------------------------------------
// Path credentials: :path set through set_headers.

test('query parameter: :path rewritten with the encoded value, agent copies dropped', async (t) => {
  const v = t.context.fx.values;
  const res = await processHeaders(t.context.client, bot(HOSTS.query, { path: '/v1/items?q=1&KEY=own1&k%65y=own2' }));
  t.deepEqual(res, injected(':path', '', `/v1/items?q=1&key=${encodeURIComponent(v.query)}`));
});

const telegramRows: { name: string; path: string; expect: (token: string) => string }[] = [
  { name: 'method', path: '/bot/getMe', expect: (tk) => `/bot${tk}/getMe` },
  {
    name: 'method with a query',
    path: '/bot/sendMessage?chat_id=1&text=hi',
    expect: (tk) => `/bot${tk}/sendMessage?chat_id=1&text=hi`,
  },
  { name: 'file download', path: '/file/bot/documents/file_1.pdf', expect: (tk) => `/file/bot${tk}/documents/file_1.pdf` },
];

for (const row of telegramRows) {
  test(`telegram: ${row.name} → token in :path`, async (t) => {
    const token = t.context.fx.values.telegram;
    const res = await processHeaders(t.context.client, bot(HOSTS.telegram, { path: row.path }));
    t.deepEqual(res, injected(':path', '', row.expect(token)));
  });
}

// ---------------------------------------------------------------------------------------------
// SigV4: signed over the buffered body after the mode override; verified independently.

interface SignedCase {
  readonly name: string;
  readonly agent: string;
  readonly authority: string;
  readonly method: string;
  readonly path: string;
  readonly body: Buffer;
  readonly headers?: Header[];
  readonly service: string;
  readonly region: string;
  readonly secret: (t: ExecutionContext<Context>) => { id: string; secret: string; session?: string };
}

const fixtureKeys = (t: ExecutionContext<Context>): { id: string; secret: string } => ({
  id: t.context.fx.values.awsKeyId,
  secret: t.context.fx.values.awsSecret,
});

const signed: SignedCase[] = [
  {
    name: 's3 PUT with a body',
    agent: 'bot',
    authority: HOSTS.s3,
    method: 'PUT',
    path: '/bucket/key.txt',
    body: Buffer.from('hello s3'),
    headers: [['content-type', 'text/plain']],
    service: 's3',
    region: 'us-east-1',
    secret: fixtureKeys,
  },
  {
    name: 'bedrock invoke',
    agent: 'bedrock-bot',
    authority: HOSTS.bedrock,
    method: 'POST',
    path: '/model/anthropic.claude-v2/invoke',
    body: Buffer.from('{"prompt":"hi"}'),
    headers: [['content-type', 'application/json']],
    service: 'bedrock',
    region: 'us-east-1',
    secret: fixtureKeys,
  },
  {
    name: 'sqs with a query, derived scope',
    agent: 'bot',
    authority: 'sqs.eu-west-1.amazonaws.com',
    method: 'POST',
    path: '/?Action=ListQueues&Version=2012-11-05',
    body: Buffer.from('x=1'),
    service: 'sqs',
    region: 'eu-west-1',
    secret: fixtureKeys,
  },
  {
    name: 'raw authority with case and port is signed as sent',
    agent: 'bot',
    authority: 'S3.US-EAST-1.amazonaws.com:443',
    method: 'PUT',
    path: '/bucket/k',
    body: Buffer.from('x'),
    service: 's3',
    region: 'us-east-1',
    secret: fixtureKeys,
  },
  {
    name: 'session token → x-amz-security-token, signed',
    agent: 'sts-bot',
    authority: 'dynamodb.us-west-2.amazonaws.com',
    method: 'POST',
    path: '/',
    body: Buffer.from('{}'),
    headers: [['x-amz-target', 'DynamoDB_20120810.ListTables']],
    service: 'dynamodb',
    region: 'us-west-2',
    secret: (t) => ({
      id: t.context.cloud.values.stsKeyId,
      secret: t.context.cloud.values.stsSecret,
      session: t.context.cloud.values.sessionToken,
    }),
  },
];

function upstreamOf(headers: readonly Header[]): Header[] {
  const authority = headers.find(([n]) => n === ':authority')?.[1] ?? '';
  return [['host', authority], ...headers.filter(([n]) => !n.startsWith(':'))];
}

for (const row of signed) {
  test(`sigv4: ${row.name}`, async (t) => {
    const keys = row.secret(t);
    const agentHeaders: Header[] = [
      ...(row.headers ?? []),
      ['content-length', String(row.body.length)],
      ['authorization', 'AWS4-HMAC-SHA256 agent-own'],
      ['x-amz-date', '20000101T000000Z'],
    ];
    const spec: ExtProcHeadersSpec = {
      agent: row.agent,
      authority: row.authority,
      method: row.method,
      path: row.path,
      headers: agentHeaders,
      endOfStream: false,
    };
    const stream = new ScriptedStream(t.context.client);
    t.teardown(() => stream.end());
    const first = await stream.send(headersMessage(spec));
    t.deepEqual(
      first,
      { request_headers: { response: { status: 'CONTINUE' } }, mode_override: BUFFER_BODY_MODE, response: 'request_headers' },
      'asks for the buffered body',
    );
    const second = await stream.send({ request_body: { body: row.body, end_of_stream: true } });
    t.is(second.response, 'request_body');
    const mutation = second.request_body?.response?.header_mutation;
    t.is(second.request_body?.response?.body_mutation, undefined, 'the body is never changed');
    t.false((mutation?.remove_headers ?? []).includes('content-length'), 'content-length is kept (the body is unchanged)');
    t.false((mutation?.set_headers ?? []).some((h) => h.header?.key === 'content-length'));
    const headers = headerPairsOf(spec);
    applyExtProcMutation(headers, mutation);
    t.deepEqual(headers.filter(([n]) => n === 'authorization').length, 1, 'one authorization: the agent’s is gone');
    t.is(headers.at(-1)?.[0], 'authorization', 'the signature is written last');
    t.deepEqual(
      headers.filter(([n]) => n === 'content-length'),
      [['content-length', String(row.body.length)]],
    );
    const verdict = verifySigV4({
      method: row.method,
      path: row.path,
      headers: upstreamOf(headers),
      body: row.body,
      secretFor: (id) => (id === keys.id ? keys.secret : undefined),
      now: new Date(),
      expectService: row.service,
      expectRegion: row.region,
      ...(keys.session ? { expectSessionToken: keys.session } : {}),
    });
    t.true(verdict.ok, verdict.reason);
    assertNoValue(t, second, [keys.id, ...(keys.session ? [keys.session] : [])]);
  });
}

test('sigv4: a request without a body is signed in the headers answer (Envoy sends no body message)', async (t) => {
  const spec = bot(HOSTS.s3, { method: 'GET', path: '/bucket?list-type=2', endOfStream: true });
  const res = await processHeaders(t.context.client, spec);
  t.is(res.response, 'request_headers');
  t.is(res.mode_override, undefined);
  const headers = headerPairsOf(spec);
  applyExtProcMutation(headers, res.request_headers?.response?.header_mutation);
  const keys = fixtureKeys(t);
  const verdict = verifySigV4({
    method: 'GET',
    path: '/bucket?list-type=2',
    headers: upstreamOf(headers),
    body: Buffer.alloc(0),
    secretFor: (id) => (id === keys.id ? keys.secret : undefined),
    expectService: 's3',
  });
  t.true(verdict.ok, verdict.reason);
});

test('sigv4: a body over PAI_MAX_SIGNED_BODY is denied 413 after buffering', async (t) => {
  const stream = new ScriptedStream(t.context.client);
  t.teardown(() => stream.end());
  const first = await stream.send(headersMessage(bot(HOSTS.s3, { method: 'PUT', path: '/b/k', endOfStream: false })));
  t.deepEqual(first.mode_override, BUFFER_BODY_MODE);
  const res = await stream.send({ request_body: { body: Buffer.alloc(MAX_BODY + 1, 0x61), end_of_stream: true } });
  assertDenied(t, res, { http: 'PayloadTooLarge', code: 'body_too_large', message: /65537 bytes/ });
});

// ---------------------------------------------------------------------------------------------
// OAuth through ext_proc and ext_authz.

test('azure: Bearer token from the client-credentials grant, through ext_proc and Check', async (t) => {
  const { azure } = t.context.cloud;
  const res = await processHeaders(t.context.client, { agent: 'cloud-bot', authority: CLOUD_HOSTS.arm });
  const set = res.request_headers?.response?.header_mutation?.set_headers ?? [];
  const value = Buffer.from(set[0]?.header?.raw_value ?? '').toString('latin1');
  t.regex(value, /^Bearer tok-[0-9a-f]{32}$/);
  t.true(azure.valid(value.slice('Bearer '.length)), 'a token the endpoint issued');
  t.deepEqual(res.request_headers?.response?.header_mutation?.remove_headers, CREDENTIAL_HEADERS);
  const checked = await t.context.stack.check({ agent: 'cloud-bot', authority: CLOUD_HOSTS.arm });
  t.deepEqual(
    checked.ok_response?.headers,
    [{ header: { key: 'authorization', value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    'Check gets the same cached token',
  );
  t.deepEqual(azure.rejected, []);
});

test('gcp: Bearer token from a signed JWT at the key’s token_uri, and at spec.auth.tokenUrl when set', async (t) => {
  const { gcp, gcpOverride } = t.context.cloud;
  for (const [host, server] of [
    [CLOUD_HOSTS.gcs, gcp],
    [CLOUD_HOSTS.bq, gcpOverride],
  ] as const) {
    const res = await processHeaders(t.context.client, { agent: 'cloud-bot', authority: host });
    const value = Buffer.from(res.request_headers?.response?.header_mutation?.set_headers?.[0]?.header?.raw_value ?? '').toString(
      'latin1',
    );
    t.true(server.valid(value.replace(/^Bearer /, '')), `${host}: a token its endpoint issued`);
    t.deepEqual(server.rejected, [], `${host}: the assertion verified`);
    const checked = await t.context.stack.check({ agent: 'cloud-bot', authority: host });
    t.is(checked.ok_response?.headers?.[0]?.header?.value, value);
  }
});

test('slow decision: the injector asks Envoy to wait (override_message_timeout), then answers', async (t) => {
  const stream = new ScriptedStream(t.context.client);
  t.teardown(() => stream.end());
  const first = await stream.send(headersMessage({ agent: 'cloud-bot', authority: CLOUD_HOSTS.slow }));
  t.deepEqual(first, { override_message_timeout: { seconds: '5', nanos: 0 } });
  const second = await stream.next();
  t.is(second.response, 'request_headers', Buffer.from(second.immediate_response?.body ?? '').toString());
  t.regex(
    Buffer.from(second.request_headers?.response?.header_mutation?.set_headers?.[0]?.header?.raw_value ?? '').toString('latin1'),
    /^Bearer tok-/,
  );
});

// ---------------------------------------------------------------------------------------------
// Stream semantics.

test('unexpected messages get an empty answer of the matching type', async (t) => {
  const stream = new ScriptedStream(t.context.client);
  t.teardown(() => stream.end());
  t.deepEqual(
    await stream.send(headersMessage(bot(HOSTS.github))),
    injected('authorization', `Bearer ${t.context.fx.values.github}`),
  );
  const cases: [ProcessingRequest, ProcessingResponse__Output][] = [
    [
      { request_body: { body: Buffer.from('x'), end_of_stream: true } },
      { request_body: { response: { status: 'CONTINUE' } }, response: 'request_body' },
    ],
    [{ request_trailers: { trailers: {} } }, { request_trailers: {}, response: 'request_trailers' }],
    [
      { response_headers: { headers: { headers: [{ key: ':status', raw_value: Buffer.from('200') }] } } },
      { response_headers: {}, response: 'response_headers' },
    ],
    [{ response_body: { body: Buffer.from('y'), end_of_stream: true } }, { response_body: {}, response: 'response_body' }],
    [{ response_trailers: { trailers: {} } }, { response_trailers: {}, response: 'response_trailers' }],
  ];
  for (const [msg, expected] of cases) t.deepEqual(await stream.send(msg), expected);
});

test('a second request_headers on one stream is denied', async (t) => {
  const stream = new ScriptedStream(t.context.client);
  t.teardown(() => stream.end());
  t.is((await stream.send(headersMessage(bot(HOSTS.unmatched)))).response, 'request_headers');
  assertDenied(t, await stream.send(headersMessage(bot(HOSTS.github))), {
    http: 'BadRequest',
    code: 'bad_request',
    message: /twice/,
  });
});

test('a message with no content is denied as malformed', async (t) => {
  const stream = new ScriptedStream(t.context.client);
  t.teardown(() => stream.end());
  assertDenied(t, await stream.send({ attributes: {} }), { http: 'BadRequest', code: 'bad_request' });
});

test('a stream that ends before the body: closed cleanly, and the server keeps serving', async (t) => {
  const stream = new ScriptedStream(t.context.client);
  const first = await stream.send(headersMessage(bot(HOSTS.s3, { method: 'PUT', path: '/b/k', endOfStream: false })));
  t.deepEqual(first.mode_override, BUFFER_BODY_MODE);
  stream.end();
  t.is((await stream.status).code, 0, 'the injector ends its side with OK');
  const cancelled = new ScriptedStream(t.context.client);
  cancelled.write(headersMessage({ agent: 'cloud-bot', authority: CLOUD_HOSTS.hang }));
  cancelled.cancel();
  t.deepEqual(await processHeaders(t.context.client, bot(HOSTS.unmatched)), PASS, 'the next stream is served');
});

test('metrics count ext_proc decisions and token requests by closed labels', async (t) => {
  const { client } = t.context;
  await processHeaders(client, bot(HOSTS.telegram, { path: '/bot/getMe' }));
  await processHeaders(client, bot(HOSTS.s3, { path: '/bucket' }));
  await processHeaders(client, { authority: HOSTS.github, attributes: {} });
  await processHeaders(client, { agent: 'cloud-bot', authority: CLOUD_HOSTS.down });
  await processHeaders(client, { agent: 'cloud-bot', authority: CLOUD_HOSTS.gcs });
  const text = (await t.context.stack.running.metrics.registry?.metrics()) ?? 'no registry';
  t.regex(text, /pai_injector_requests_total\{api="process",outcome="inject",type="telegram"\} [1-9]/);
  t.regex(text, /pai_injector_requests_total\{api="process",outcome="inject",type="aws"\} [1-9]/);
  t.regex(text, /pai_injector_requests_total\{api="process",outcome="no_identity",type="none"\} [1-9]/);
  t.regex(text, /pai_oauth_token_requests_total\{endpoint="azure",result="http_error"\} [1-9]/);
  t.regex(text, /pai_oauth_token_requests_total\{endpoint="gcp",result="ok"\} [1-9]/);
});
