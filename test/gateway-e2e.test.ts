/**
 * The shared LLM gateway end to end (issue 8, acceptance 1 and 2): an "agent" sends its SDK's
 * request to the gateway simulator (test/helpers/gateway-filter.ts: route by /<modelprovider>/,
 * ext_authz Check in gateway mode against the real injector, prefix stripped and Host rewritten),
 * and a local upstream records what the provider would receive: the ModelProvider's key, never the
 * agent's token. Wrong, expired, revoked, foreign and unbound tokens never reach it. The canary scan
 * covers tokens: none in logs (debug), metrics, denial bodies, the audit log or the upstream.
 * Revocation across processes takes effect within the injector's cache TTL.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { TokenService } from '../src/auth/tokens.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import { GatewayFilter, type GatewayRoute } from './helpers/gateway-filter.js';
import {
  type ApiKeyProvider,
  type GatewayFixture,
  MODEL_PROVIDERS,
  createToken,
  seedGateway,
} from './helpers/gateway-fixture.js';
import { Admin, type Stack, authClient, resource, startStack } from './helpers/injector.js';
import { adminToken, startServe } from './helpers/process.js';
import {
  type RecordedRequest,
  type Sidecar,
  type UpstreamRecorder,
  agentRequest,
  headerValues,
  startSidecar,
  startUpstream,
} from './helpers/sidecar-sim.js';

/** The secret part of a `pai_<16 hex id>_<43 base64url>` token (which may itself contain `_`). */
function secretPartOf(token: string): string {
  return /^pai_(?:tok_|agt_)?[0-9a-f]{16}_(.+)$/.exec(token)?.[1] ?? '';
}

interface Context {
  stack: Stack;
  fx: GatewayFixture;
  upstream: UpstreamRecorder;
  /** Token-only clients, and a client whose certificate says spiffe://pai/agent/bot. */
  gateway: Sidecar;
  certGateway: Sidecar;
  /** Every token made in this file (the canary scan looks for all of them). */
  tokens: string[];
  closers: (() => Promise<void>)[];
}
const test = anyTest as TestFn<Context>;

const GATEWAY_HOST = 'pai-gateway.pai.svc:8080';
const ROUTES: GatewayRoute[] = Object.entries(MODEL_PROVIDERS).map(([name, mp]) => ({
  modelProvider: name,
  host: mp.host,
  pathPrefix: mp.pathPrefix,
}));

test.before(async (t) => {
  const stack = await startStack({ logLevel: 'debug' });
  const fx = await seedGateway(stack, makeCanary);
  const upstream = await startUpstream();
  const closers: (() => Promise<void>)[] = [() => upstream.close(), () => stack.close()];
  const gateway = await startSidecar({
    filter: new GatewayFilter({ client: stack.client, routes: ROUTES }),
    upstreamPort: upstream.port,
  });
  closers.unshift(() => gateway.close());
  const certGateway = await startSidecar({
    filter: new GatewayFilter({ client: stack.client, routes: ROUTES, principal: 'spiffe://pai/agent/bot' }),
    upstreamPort: upstream.port,
  });
  closers.unshift(() => certGateway.close());
  t.context = { stack, fx, upstream, gateway, certGateway, tokens: [], closers };
});
test.after.always(async (t) => {
  for (const close of t.context.closers ?? []) await close();
});

async function agentToken(t: ExecutionContext<Context>, agent: string, ttl?: string): Promise<{ token: string; id: string }> {
  const made = await createToken(t.context.stack.admin, { role: 'agent', agent, ...(ttl ? { ttl } : {}) });
  t.context.tokens.push(made.token);
  return made;
}

interface Sent {
  readonly status: number;
  readonly body: Buffer;
  readonly recorded: RecordedRequest | undefined;
}

/** One request through `via` (the token gateway by default); finds what the upstream got, by a unique tag. */
async function send(
  t: ExecutionContext<Context>,
  r: { method?: string; path: string; headers?: readonly [string, string][]; body?: string },
  via: Sidecar = t.context.gateway,
): Promise<Sent> {
  const tag = randomUUID();
  const res = await agentRequest(via.port, {
    method: r.method ?? 'POST',
    path: r.path,
    host: GATEWAY_HOST,
    headers: [...(r.headers ?? []), ['x-test-id', tag]],
    ...(r.body === undefined ? {} : { body: r.body }),
  });
  const recorded = t.context.upstream.requests.find((q) => headerValues(q.headers, 'x-test-id')[0] === tag);
  return { status: res.status, body: res.body, recorded };
}

const recordedText = (r: RecordedRequest): string =>
  `${r.method} ${r.path}\n${r.headers.map(([n, v]) => `${n}: ${v}`).join('\n')}\n${r.body.toString('latin1')}`;

/** Asserts that the upstream got `mp`'s key in `mp`'s header, once, and none of the tokens. */
function assertKeyed(t: ExecutionContext<Context>, sent: Sent, mp: ApiKeyProvider, upstreamPath: string): void {
  t.is(sent.status, 200, sent.body.toString());
  const rec = sent.recorded;
  if (!rec) return void t.fail('the request did not reach the upstream');
  const { host, header, prefix } = MODEL_PROVIDERS[mp];
  t.is(rec.path, upstreamPath, 'prefix stripped');
  t.deepEqual(headerValues(rec.headers, 'host'), [host], 'Host rewritten to the provider');
  t.deepEqual(headerValues(rec.headers, header), [`${prefix}${t.context.fx.keys[mp]}`], 'the real key, once');
  for (const name of ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key', 'proxy-authorization']) {
    if (name !== header) t.deepEqual(headerValues(rec.headers, name), [], `no ${name}`);
  }
  for (const token of t.context.tokens) t.deepEqual(findCanary(recordedText(rec), token), [], 'no agent token upstream');
}

// ---------------------------------------------------------------------------------------------
// Acceptance 2: denied, and nothing reaches the upstream.

function assertDenied(t: ExecutionContext<Context>, sent: Sent, status: number, code: string): void {
  t.is(sent.status, status, sent.body.toString());
  t.is(sent.recorded, undefined, 'never reached the upstream');
  t.is((JSON.parse(sent.body.toString()) as { error: { code: string } }).error.code, code);
  for (const token of t.context.tokens) t.deepEqual(findCanary(sent.body, token), [], 'no token in the denial');
  for (const key of t.context.fx.allKeys) t.deepEqual(findCanary(sent.body, key), [], 'no key in the denial');
}

const CHAT = { path: '/openai/v1/chat/completions', body: '{"model":"gpt-4o","messages":[]}' };

/** CHAT with `token` where the OpenAI SDK sends its API key. */
const chatWith = (token: string): typeof CHAT & { headers: [string, string][] } => ({
  ...CHAT,
  headers: [['authorization', `Bearer ${token}`]],
});

test('denied: no token', async (t) => {
  assertDenied(t, await send(t, CHAT), 401, 'unauthenticated');
});

test('denied: a wrong token (right id, wrong secret)', async (t) => {
  const { token } = await agentToken(t, 'bot');
  const wrong = `${token.slice(0, -6)}AAAAAA`;
  t.context.tokens.push(wrong);
  assertDenied(t, await send(t, chatWith(wrong)), 401, 'unauthenticated');
});

test('denied: an expired token', async (t) => {
  const past = new TokenService({ store: t.context.stack.running.store, now: () => new Date(Date.now() - 7_200_000) });
  const { token } = await past.create({ role: 'agent', agent: 'bot', ttlMs: 3_600_000 });
  t.context.tokens.push(token);
  assertDenied(t, await send(t, chatWith(token)), 401, 'unauthenticated');
});

test('denied: a revoked token, at once (it reached the upstream just before)', async (t) => {
  const { token, id } = await agentToken(t, 'bot');
  assertKeyed(t, await send(t, chatWith(token)), 'openai', '/v1/chat/completions');
  await t.context.stack.admin.expect(200, 'DELETE', `/v1/tokens/${id}`);
  assertDenied(t, await send(t, chatWith(token)), 401, 'unauthenticated');
});

test('denied: the admin token presented as an agent token', async (t) => {
  assertDenied(t, await send(t, chatWith(t.context.stack.admin.token)), 401, 'unauthenticated');
});

test('denied: agents not bound to the model provider', async (t) => {
  const { token } = await agentToken(t, 'openai-bot');
  const anthropic = { path: '/anthropic/v1/messages', body: '{}' };
  assertDenied(t, await send(t, { ...anthropic, headers: [['x-api-key', token]] }), 403, 'not_bound');
  const lonely = await agentToken(t, 'lonely-bot');
  assertDenied(t, await send(t, chatWith(lonely.token)), 403, 'not_bound');
});

test('a token dies with its agent: denied once the agent is deleted, and still denied when one of that name is re-created', async (t) => {
  const { admin } = t.context.stack;
  const phoenix = resource('Agent', 'phoenix-bot', { modelProviders: ['openai'] });
  await admin.apply(phoenix);
  const old = await agentToken(t, 'phoenix-bot');
  assertKeyed(t, await send(t, chatWith(old.token)), 'openai', '/v1/chat/completions');
  await admin.expect(200, 'DELETE', '/v1/agents/phoenix-bot');
  assertDenied(t, await send(t, chatWith(old.token)), 403, 'unknown_agent');
  // The agent's creation time is what a token is bound to (ms): let the clock move past it.
  const deletedAt = Date.now();
  await new Promise<void>((resolve) => {
    const tick = (): void => void (Date.now() > deletedAt ? resolve() : setImmediate(tick));
    tick();
  });
  await admin.apply(phoenix);
  assertDenied(t, await send(t, chatWith(old.token)), 401, 'unauthenticated');
  const fresh = await agentToken(t, 'phoenix-bot');
  assertKeyed(t, await send(t, chatWith(fresh.token)), 'openai', '/v1/chat/completions');
  // And a token for an agent that does not exist is not made at all.
  const refused = await admin.call('POST', '/v1/tokens', { role: 'agent', agent: 'unborn-bot' });
  t.is(refused.status, 422);
  t.is((refused.json as { error: { code: string } }).error.code, 'broken_reference');
});

test('a path outside every ModelProvider route: 404 from the gateway, the injector is not asked', async (t) => {
  const sent = await send(t, { path: '/v1/chat/completions', body: '{}' });
  t.is(sent.status, 404);
  t.is(sent.recorded, undefined);
  t.is((JSON.parse(sent.body.toString()) as { error: { code: string } }).error.code, 'not_found');
});

// ---------------------------------------------------------------------------------------------
// Acceptance 1: the three SDK styles (and the other two API-key types) reach the upstream keyed.

const SDK_CALLS: {
  name: string;
  mp: ApiKeyProvider;
  path: string;
  upstream: string;
  headers: (token: string) => [string, string][];
}[] = [
  {
    name: 'OpenAI style (Authorization: Bearer)',
    mp: 'openai',
    path: '/openai/v1/chat/completions',
    upstream: '/v1/chat/completions',
    headers: (x) => [
      ['authorization', `Bearer ${x}`],
      ['openai-beta', 'assistants=v2'],
    ],
  },
  {
    name: 'Anthropic style (x-api-key)',
    mp: 'anthropic',
    path: '/anthropic/v1/messages',
    upstream: '/v1/messages',
    headers: (x) => [
      ['x-api-key', x],
      ['anthropic-version', '2023-06-01'],
    ],
  },
  {
    name: 'Gemini style (x-goog-api-key)',
    mp: 'gemini',
    path: '/gemini/v1beta/models/gemini-2.0-flash:generateContent?alt=sse',
    upstream: '/v1beta/models/gemini-2.0-flash:generateContent?alt=sse',
    headers: (x) => [['x-goog-api-key', x]],
  },
  {
    name: 'Azure OpenAI style (api-key)',
    mp: 'azure',
    path: '/azure/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21',
    upstream: '/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21',
    headers: (x) => [['api-key', x]],
  },
  {
    name: 'openai-compatible with a base path (/compat/… → /v1/…)',
    mp: 'compat',
    path: '/compat/chat/completions',
    upstream: '/v1/chat/completions',
    headers: (x) => [['authorization', `Bearer ${x}`]],
  },
];

for (const call of SDK_CALLS) {
  test(`reaches the upstream with the key, not the token: ${call.name}`, async (t) => {
    const { token } = await agentToken(t, 'bot', '30d');
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    const sent = await send(t, {
      path: call.path,
      headers: [...call.headers(token), ['content-type', 'application/json']],
      body,
    });
    assertKeyed(t, sent, call.mp, call.upstream);
    t.is(sent.recorded?.body.toString(), body, 'the body is untouched');
    t.deepEqual(headerValues(sent.recorded?.headers ?? [], 'content-type'), ['application/json']);
  });
}

test('certificate identity: no token needed; a key the agent made up is replaced', async (t) => {
  assertKeyed(
    t,
    await send(t, { path: '/gemini/v1beta/models', method: 'GET' }, t.context.certGateway),
    'gemini',
    '/v1beta/models',
  );
  const sent = await send(t, { ...CHAT, headers: [['authorization', 'Bearer sk-made-up']] }, t.context.certGateway);
  assertKeyed(t, sent, 'openai', '/v1/chat/completions');
  t.false(recordedText(sent.recorded ?? { method: '', path: '', headers: [], body: Buffer.alloc(0) }).includes('sk-made-up'));
});

// ---------------------------------------------------------------------------------------------
// The canary scan covers tokens.

test('no token (and no key) in the debug log, /metrics, the audit log or GET /v1/tokens', async (t) => {
  const { stack } = t.context;
  // Every kind of outcome once more, with fresh tokens, so that the scan has something to find.
  const ok = await agentToken(t, 'bot');
  const unbound = await agentToken(t, 'lonely-bot');
  const revoked = await agentToken(t, 'bot');
  await stack.admin.expect(200, 'DELETE', `/v1/tokens/${revoked.id}`);
  for (const token of [ok.token, unbound.token, revoked.token, `${ok.token}x`, stack.admin.token]) {
    for (const [name, value] of [
      ['authorization', `Bearer ${token}`],
      ['x-api-key', token],
      ['x-goog-api-key', token],
      ['api-key', token],
    ] as const) {
      await send(t, { path: '/anthropic/v1/messages', headers: [[name, value]], body: '{}' });
    }
  }
  const observed: [string, string][] = [
    ['debug log', stack.logs()],
    ['/metrics', (await stack.admin.expect(200, 'GET', '/metrics')).text],
    ['audit log', readFileSync(path.join(stack.dataDir, 'audit.log'), 'utf8')],
    ['GET /v1/tokens', (await stack.admin.expect(200, 'GET', '/v1/tokens')).text],
  ];
  t.regex(stack.logs(), /"outcome":"inject"/, 'the debug log did record gateway decisions');
  t.regex(stack.logs(), /"outcome":"unauthenticated"/);
  t.regex(observed[2]?.[1] ?? '', /token\.delete/, 'the audit log did record the revocation');
  for (const [where, text] of observed) {
    for (const token of [...t.context.tokens, stack.admin.token]) t.deepEqual(findCanary(text, token), [], `${where}: no token`);
    for (const token of t.context.tokens) {
      const secretPart = secretPartOf(token);
      t.deepEqual(findCanary(text, secretPart), [], `${where}: not even the secret part of a token`);
    }
    for (const key of t.context.fx.allKeys) t.deepEqual(findCanary(text, key), [], `${where}: no key`);
  }
  for (const rec of t.context.upstream.requests) {
    for (const token of [...t.context.tokens, stack.admin.token])
      t.deepEqual(findCanary(recordedText(rec), token), [], 'upstream: no token');
  }
});

// ---------------------------------------------------------------------------------------------
// Revocation across processes: within the injector's cache TTL.

test('revocation in another process takes effect within the cache TTL, and never fails open after it', async (t) => {
  const TTL_MS = 1000;
  const SLACK_MS = 300;
  const admin = await startServe({ args: ['--role', 'admin'] });
  t.teardown(() => admin.stop());
  const injector = await startServe({ dataDir: admin.dataDir, args: ['--role', 'injector'], env: { PAI_CACHE_TTL: '1s' } });
  t.teardown(() => injector.stop());
  const socket = injector.injectorAddress();
  const api = new Admin(admin.adminUrl, adminToken(admin.dataDir));
  const key = makeCanary('two');
  await api.createSecret('openai-key', { 'api-key': key });
  await api.apply(
    resource('ModelProvider', 'openai', { type: 'openai', apiKeySecretRef: { name: 'openai-key', key: 'api-key' } }),
    resource('Agent', 'bot', { modelProviders: ['openai'] }),
  );
  const { token, id } = await createToken(api, { role: 'agent', agent: 'bot' });
  const client = authClient(socket);
  t.teardown(() => client.close());
  const gateway = await startSidecar({
    filter: new GatewayFilter({ client, routes: ROUTES }),
    upstreamPort: t.context.upstream.port,
  });
  t.teardown(() => gateway.close());
  const status = async (): Promise<number> => (await send(t, chatWith(token), gateway)).status;

  t.is(await status(), 200, 'accepted, and now cached in the other process');
  const revoked = Date.now();
  await api.expect(200, 'DELETE', `/v1/tokens/${id}`);
  let firstDenied: number | undefined;
  const lateAccepted: number[] = [];
  while (Date.now() - revoked < 2 * TTL_MS + SLACK_MS) {
    const s = await status();
    const at = Date.now() - revoked;
    if (s === 401) firstDenied ??= at;
    else if (s === 200) {
      if (at > TTL_MS + SLACK_MS || firstDenied !== undefined) lateAccepted.push(at);
    } else t.fail(`unexpected status ${s}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.not(firstDenied, undefined, 'the revocation arrived');
  t.true((firstDenied ?? Infinity) <= TTL_MS + SLACK_MS, `denied after ${String(firstDenied)} ms (TTL ${TTL_MS} ms)`);
  t.deepEqual(lateAccepted, [], 'never accepted again');
  t.deepEqual(findCanary(injector.stderr() + admin.stderr(), token), []);
});
