/**
 * Gateway-mode conformance (issue 8): CheckRequests as the shared gateway's Envoy sends them
 * (context_extensions pai.mode: gateway and pai.modelprovider, attributes.source.principal for an
 * mTLS client), over the injector's unix socket of an in-process `pai serve`, one row per case,
 * failure cases first. Identity: certificate (SPIFFE principal in PAI_SPIFFE_TRUST_DOMAIN) beats
 * agent token; tokens in each SDK's key header; every other token (wrong, expired, revoked, admin)
 * is 401; an agent without the ModelProvider is 403.
 */
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { TokenService } from '../src/auth/tokens.js';
import { ChangeFeed } from '../src/changes.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { InjectorServer } from '../src/injector/server.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import type { CheckRequest } from '../src/generated/envoy/service/auth/v3/CheckRequest.js';
import type { CheckResponse__Output } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { applyOkResponse } from './helpers/ext-authz-filter.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import {
  type ApiKeyProvider,
  type GatewayFixture,
  MODEL_PROVIDERS,
  createToken,
  seedGateway,
} from './helpers/gateway-fixture.js';
import { type Stack, authClient, check, checkRequest, denialBody, resource, startStack } from './helpers/injector.js';

interface Context {
  stack: Stack;
  fx: GatewayFixture;
  /** Agent tokens by label, made in before(). */
  tokens: Record<string, { token: string; id: string }>;
}
const test = anyTest as TestFn<Context>;

const GATEWAY_AUTHORITY = 'pai-gateway.pai.svc:8080';
const CREDENTIAL_HEADERS = ['api-key', 'authorization', 'proxy-authorization', 'x-api-key', 'x-goog-api-key'];

test.before(async (t) => {
  const stack = await startStack();
  const fx = await seedGateway(stack, makeCanary);
  const a = stack.admin;
  // ghost-bot's token outlives its agent.
  await a.apply(resource('Agent', 'ghost-bot', { modelProviders: ['openai'] }));
  const ghost = await createToken(a, { role: 'agent', agent: 'ghost-bot' });
  await a.expect(200, 'DELETE', '/v1/agents/ghost-bot');
  const tokens: Context['tokens'] = {
    bot: await createToken(a, { role: 'agent', agent: 'bot', ttl: '30d' }),
    openaiBot: await createToken(a, { role: 'agent', agent: 'openai-bot' }),
    lonely: await createToken(a, { role: 'agent', agent: 'lonely-bot' }),
    ghost,
    bedrock: await createToken(a, { role: 'agent', agent: 'bedrock-bot' }),
    viewer: await createToken(a, { role: 'viewer' }),
    renderer: await createToken(a, { role: 'renderer' }),
    revoked: await createToken(a, { role: 'agent', agent: 'bot' }),
  };
  // Created an hour in the past with a one-minute lifetime: expired, straight in the shared store.
  const past = new TokenService({ store: stack.running.store, now: () => new Date(Date.now() - 3_600_000) });
  const expired = await past.create({ role: 'agent', agent: 'bot', ttlMs: 60_000 });
  tokens['expired'] = { token: expired.token, id: expired.info.id };
  t.context = { stack, fx, tokens };
});
test.after.always(async (t) => {
  await t.context.stack?.close();
});

interface GatewayRequest {
  readonly modelProvider?: string;
  readonly principal?: string;
  readonly headers?: readonly (readonly [string, string])[];
  readonly method?: string;
  readonly path?: string;
  /** Override the context extensions entirely. */
  readonly extensions?: Readonly<Record<string, string>>;
}

/** The CheckRequest the gateway's Envoy sends for `r` (the Check sees the gateway's own authority). */
function gatewayCheck(r: GatewayRequest): CheckRequest {
  const base = checkRequest({
    method: r.method ?? 'POST',
    path: r.path ?? `/${r.modelProvider ?? 'x'}/v1/chat/completions`,
    authority: GATEWAY_AUTHORITY,
    scheme: 'https',
    headers: [['content-type', 'application/json'], ...(r.headers ?? [])],
    contextExtensions: r.extensions ?? {
      'pai.mode': 'gateway',
      ...(r.modelProvider === undefined ? {} : { 'pai.modelprovider': r.modelProvider }),
    },
  });
  return r.principal === undefined ? base : { attributes: { ...base.attributes, source: { principal: r.principal } } };
}

const send = (t: ExecutionContext<Context>, r: GatewayRequest): Promise<CheckResponse__Output> =>
  check(t.context.stack.client, gatewayCheck(r));

const tok = (t: ExecutionContext<Context>, label: string): string => {
  const found = t.context.tokens[label];
  if (!found) throw new Error(`no token ${label}`);
  return found.token;
};

const bearer = (token: string): [string, string] => ['authorization', `Bearer ${token}`];

// google.rpc.Code
const RPC = { unauthenticated: 16, denied: 7 } as const;

function assertDenied(
  t: ExecutionContext<Context>,
  res: CheckResponse__Output,
  http: 'Unauthorized' | 'Forbidden' | 'MethodNotAllowed' | 'InternalServerError',
  code: string,
  message?: RegExp,
): void {
  t.deepEqual(res.status, { code: http === 'Unauthorized' ? RPC.unauthenticated : RPC.denied, message: code });
  t.is(res.ok_response, undefined, 'nothing is forwarded');
  t.deepEqual(res.denied_response?.status, { code: http });
  const body = denialBody(res);
  t.is(body?.error.code, code);
  if (message) t.regex(body?.error.message ?? '', message);
  assertNoSecrets(t, JSON.stringify(res));
}

/** No key and no token anywhere in `text`. */
function assertNoSecrets(t: ExecutionContext<Context>, text: string, allowedKey?: string): void {
  for (const key of t.context.fx.allKeys) if (key !== allowedKey) t.deepEqual(findCanary(text, key), [], 'no key');
  for (const { token } of Object.values(t.context.tokens)) t.deepEqual(findCanary(text, token), [], 'no token');
  t.deepEqual(findCanary(text, t.context.stack.admin.token), [], 'no admin token');
}

/** Asserts the OK response sets `mp`'s key and removes every other credential header, token headers included. */
function assertInjected(
  t: ExecutionContext<Context>,
  res: CheckResponse__Output,
  mp: ApiKeyProvider,
  sent: [string, string][],
): void {
  const { header, prefix } = MODEL_PROVIDERS[mp];
  const key = t.context.fx.keys[mp];
  t.is(res.status?.code, 0, JSON.stringify(res.denied_response?.body));
  t.deepEqual(res.ok_response?.headers, [
    { header: { key: header, value: `${prefix}${key}` }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ] as never);
  t.deepEqual(
    [...(res.ok_response?.headers_to_remove ?? [])].sort(),
    CREDENTIAL_HEADERS.filter((h) => h !== header),
  );
  // What Envoy forwards after applying it: the key once, no token, every other header kept.
  const forwarded = applyOkResponse(
    { method: 'POST', path: '/x', authority: GATEWAY_AUTHORITY, headers: [['x-keep', 'yes'], ...sent], body: Buffer.alloc(0) },
    res.ok_response,
    'https',
  );
  t.deepEqual(
    forwarded.headers.filter(([n]) => CREDENTIAL_HEADERS.includes(n)),
    [[header, `${prefix}${key}`]],
  );
  t.true(forwarded.headers.some(([n, v]) => n === 'x-keep' && v === 'yes'));
  assertNoSecrets(t, JSON.stringify(forwarded.headers), key);
}

// ---------------------------------------------------------------------------------------------
// Denials: no identity, bad tokens (401); wrong binding (403); gateway misconfiguration.

const SPIFFE = 'spiffe://pai/agent/';

const unauthenticated: { name: string; req: (t: ExecutionContext<Context>) => GatewayRequest; message?: RegExp }[] = [
  { name: 'no credential at all', req: () => ({ modelProvider: 'openai' }), message: /no agent identity/ },
  { name: 'a provider API key instead of a token', req: () => ({ modelProvider: 'openai', headers: [bearer('sk-proj-abc')] }) },
  {
    name: 'wrong token (well-formed, unknown secret part)',
    req: (t) => ({ modelProvider: 'openai', headers: [bearer(tok(t, 'bot').replace(/.{4}$/, 'AAAA'))] }),
    message: /invalid, expired or revoked agent token/,
  },
  { name: 'malformed token', req: () => ({ modelProvider: 'openai', headers: [bearer('pai_nothex_short')] }) },
  {
    name: 'unknown token id',
    req: () => ({ modelProvider: 'openai', headers: [bearer(`pai_0123456789abcdef_${'A'.repeat(43)}`)] }),
  },
  { name: 'expired token', req: (t) => ({ modelProvider: 'openai', headers: [bearer(tok(t, 'expired'))] }) },
  { name: 'the admin token', req: (t) => ({ modelProvider: 'openai', headers: [bearer(t.context.stack.admin.token)] }) },
  { name: 'a viewer token', req: (t) => ({ modelProvider: 'openai', headers: [['x-api-key', tok(t, 'viewer')]] }) },
  { name: 'a renderer token', req: (t) => ({ modelProvider: 'openai', headers: [['api-key', tok(t, 'renderer')]] }) },
  {
    name: 'two different agent tokens',
    req: (t) => ({ modelProvider: 'openai', headers: [bearer(tok(t, 'bot')), ['x-api-key', tok(t, 'openaiBot')]] }),
    message: /more than one agent token/,
  },
  {
    name: 'a token in a header no SDK uses for its key',
    req: (t) => ({ modelProvider: 'openai', headers: [['x-pai-token', tok(t, 'bot')]] }),
  },
  {
    name: 'principal of another trust domain, no token',
    req: () => ({ modelProvider: 'openai', principal: 'spiffe://other/agent/bot' }),
  },
  {
    name: 'principal of a look-alike trust domain',
    req: () => ({ modelProvider: 'openai', principal: 'spiffe://pai.evil/agent/bot' }),
  },
  { name: 'principal with a path after the name', req: () => ({ modelProvider: 'openai', principal: `${SPIFFE}bot/admin` }) },
  {
    name: 'principal not naming an agent',
    req: () => ({ modelProvider: 'openai', principal: 'spiffe://pai/ns/default/sa/bot' }),
  },
  { name: 'principal with an upper-case name', req: () => ({ modelProvider: 'openai', principal: `${SPIFFE}Bot` }) },
  { name: 'principal that is a certificate subject', req: () => ({ modelProvider: 'openai', principal: 'CN=bot,O=pai' }) },
];

for (const row of unauthenticated) {
  test(`401: ${row.name}`, async (t) => {
    assertDenied(t, await send(t, row.req(t)), 'Unauthorized', 'unauthenticated', row.message);
  });
}

test('401: a revoked token, at once in the same process (it worked just before)', async (t) => {
  const { token, id } = t.context.tokens['revoked'] ?? { token: '', id: '' };
  assertInjected(t, await send(t, { modelProvider: 'openai', headers: [bearer(token)] }), 'openai', [bearer(token)]);
  await t.context.stack.admin.expect(200, 'DELETE', `/v1/tokens/${id}`);
  assertDenied(t, await send(t, { modelProvider: 'openai', headers: [bearer(token)] }), 'Unauthorized', 'unauthenticated');
});

const forbidden: { name: string; req: (t: ExecutionContext<Context>) => GatewayRequest; code: string; message: RegExp }[] = [
  {
    name: 'agent token, agent not bound to the model provider',
    req: (t) => ({ modelProvider: 'anthropic', headers: [['x-api-key', tok(t, 'openaiBot')]] }),
    code: 'not_bound',
    message: /agent "openai-bot" may not use model provider "anthropic"/,
  },
  {
    name: 'agent token, agent bound to nothing',
    req: (t) => ({ modelProvider: 'openai', headers: [bearer(tok(t, 'lonely'))] }),
    code: 'not_bound',
    message: /lonely-bot/,
  },
  {
    name: 'principal, agent not bound',
    req: () => ({ modelProvider: 'gemini', principal: `${SPIFFE}openai-bot` }),
    code: 'not_bound',
    message: /openai-bot.*gemini/,
  },
  {
    name: 'principal of an agent pai does not know',
    req: () => ({ modelProvider: 'openai', principal: `${SPIFFE}ghost-bot` }),
    code: 'unknown_agent',
    message: /ghost-bot/,
  },
  {
    name: 'token of an agent that does not exist (any more)',
    req: (t) => ({ modelProvider: 'openai', headers: [bearer(tok(t, 'ghost'))] }),
    code: 'unknown_agent',
    message: /ghost-bot/,
  },
  {
    name: 'route names a model provider that does not exist',
    req: (t) => ({ modelProvider: 'nope', headers: [bearer(tok(t, 'bot'))] }),
    code: 'not_bound',
    message: /model provider "nope"/,
  },
  {
    name: 'gateway route without pai.modelprovider',
    req: (t) => ({ headers: [bearer(tok(t, 'bot'))] }),
    code: 'no_identity',
    message: /names no model provider/,
  },
  {
    name: 'a pai.mode this injector does not serve',
    req: (t) => ({ extensions: { 'pai.mode': 'gatway', 'pai.modelprovider': 'openai' }, headers: [bearer(tok(t, 'bot'))] }),
    code: 'no_identity',
    message: /pai\.mode/,
  },
];

for (const row of forbidden) {
  test(`403: ${row.name}`, async (t) => {
    assertDenied(t, await send(t, row.req(t)), 'Forbidden', row.code, row.message);
  });
}

test('500: bedrock through the gateway needs ext_proc (SigV4), and says so', async (t) => {
  const res = await send(t, { modelProvider: 'bedrock', headers: [bearer(tok(t, 'bedrock'))] });
  assertDenied(t, res, 'InternalServerError', 'needs_ext_proc', /ModelProvider "bedrock".*ext_proc/);
});

for (const method of ['TRACE', 'CONNECT']) {
  test(`405: ${method} gets no key through the gateway either (issue 16, item 7)`, async (t) => {
    const res = await send(t, { method, modelProvider: 'openai', headers: [bearer(tok(t, 'bot'))] });
    assertDenied(t, res, 'MethodNotAllowed', 'method_not_allowed', new RegExp(`^${method} requests get no credential`));
  });
}

// ---------------------------------------------------------------------------------------------
// Injection: the real key set, the token removed.

const sdkHeaders: { name: string; mp: ApiKeyProvider; header: (token: string) => [string, string] }[] = [
  { name: 'OpenAI SDK: Authorization: Bearer', mp: 'openai', header: bearer },
  { name: 'Anthropic SDK: x-api-key', mp: 'anthropic', header: (x) => ['x-api-key', x] },
  { name: 'Gemini SDK: x-goog-api-key', mp: 'gemini', header: (x) => ['x-goog-api-key', x] },
  { name: 'Azure OpenAI SDK: api-key', mp: 'azure', header: (x) => ['api-key', x] },
  { name: 'openai-compatible, lower-case bearer scheme', mp: 'compat', header: (x) => ['authorization', `bearer ${x}`] },
  { name: 'a token in another SDK header than the provider uses', mp: 'openai', header: (x) => ['x-goog-api-key', x] },
];

for (const row of sdkHeaders) {
  test(`inject: token in ${row.name}`, async (t) => {
    const sent = [row.header(tok(t, 'bot'))];
    assertInjected(t, await send(t, { modelProvider: row.mp, headers: sent }), row.mp, sent);
  });
}

test('inject: the same token in two headers counts once', async (t) => {
  const sent: [string, string][] = [bearer(tok(t, 'bot')), ['x-api-key', tok(t, 'bot')]];
  assertInjected(t, await send(t, { modelProvider: 'anthropic', headers: sent }), 'anthropic', sent);
});

test('inject: principal in the trust domain, no token', async (t) => {
  assertInjected(t, await send(t, { modelProvider: 'gemini', principal: `${SPIFFE}bot` }), 'gemini', []);
});

test('inject: principal wins over a token (of an agent that may not use the provider); the token is still removed', async (t) => {
  const sent = [bearer(tok(t, 'lonely'))];
  assertInjected(t, await send(t, { modelProvider: 'openai', principal: `${SPIFFE}openai-bot`, headers: sent }), 'openai', sent);
});

test('inject: a principal of another trust domain is ignored and the token decides', async (t) => {
  const sent: [string, string][] = [['x-api-key', tok(t, 'bot')]];
  const res = await send(t, { modelProvider: 'anthropic', principal: 'spiffe://other/agent/lonely-bot', headers: sent });
  assertInjected(t, res, 'anthropic', sent);
});

test('sidecar mode is unchanged beside gateway mode (no pai.mode: the route names the agent)', async (t) => {
  const res = await t.context.stack.check({
    agent: 'bot',
    authority: MODEL_PROVIDERS.openai.host,
    headers: [bearer(tok(t, 'bot'))],
  });
  assertInjected(t, res, 'openai', [bearer(tok(t, 'bot'))]);
});

// ---------------------------------------------------------------------------------------------
// Metrics and last-used times.

// Serial: ava runs serial tests before the concurrent ones, so no other row moves these counters meanwhile.
test.serial('pai_gateway_requests_total counts by model provider and outcome; no token in /metrics', async (t) => {
  const metric = async (labels: string): Promise<number> => {
    const text = (await t.context.stack.admin.expect(200, 'GET', '/metrics')).text;
    assertNoSecrets(t, text);
    const m = new RegExp(`^pai_gateway_requests_total\\{${labels}\\} (\\d+)$`, 'm').exec(text);
    return Number(m?.[1] ?? 0);
  };
  const ok = 'modelprovider="azure",outcome="inject"';
  const denied = 'modelprovider="azure",outcome="unauthenticated"';
  const unbound = 'modelprovider="azure",outcome="not_bound"';
  const before = { ok: await metric(ok), denied: await metric(denied), unbound: await metric(unbound) };
  await send(t, { modelProvider: 'azure', headers: [['api-key', tok(t, 'bot')]] });
  await send(t, { modelProvider: 'azure', headers: [['api-key', tok(t, 'bot')]] });
  await send(t, { modelProvider: 'azure', headers: [['api-key', 'wrong']] });
  await send(t, { modelProvider: 'azure', headers: [['api-key', tok(t, 'openaiBot')]] });
  t.deepEqual(
    { ok: await metric(ok), denied: await metric(denied), unbound: await metric(unbound) },
    { ok: before.ok + 2, denied: before.denied + 1, unbound: before.unbound + 1 },
  );
});

test('pai get tokens data: last used is recorded for an accepted agent token, never for a refused one', async (t) => {
  const a = t.context.stack.admin;
  const used = await createToken(a, { role: 'agent', agent: 'bot' });
  const refused = await createToken(a, { role: 'agent', agent: 'lonely-bot' });
  await send(t, { modelProvider: 'openai', headers: [bearer(used.token)] });
  await send(t, { modelProvider: 'openai', headers: [bearer(refused.token)] });
  // The injector counts a token's use with its usage (flushed every few seconds): flush now.
  await t.context.stack.running.injectorServer?.usage.flush();
  const items = (await a.expect(200, 'GET', '/v1/tokens')).json.items as { id: string; lastUsedAt?: string }[];
  const lastUsed = (id: string): string | undefined => items.find((i) => i.id === id)?.lastUsedAt;
  t.truthy(lastUsed(used.id), 'the accepted token has a last-used time');
  // Authenticated but not authorized (403): the token did prove who the caller is, so it counts.
  t.truthy(lastUsed(refused.id));
  const unused = await createToken(a, { role: 'agent', agent: 'bot' });
  const again = (await a.expect(200, 'GET', '/v1/tokens')).json.items as { id: string; lastUsedAt?: string }[];
  t.is(again.find((i) => i.id === unused.id)?.lastUsedAt, undefined);
  assertNoSecrets(t, JSON.stringify(again));
});

// ---------------------------------------------------------------------------------------------
// The trust domain is configuration (PAI_SPIFFE_TRUST_DOMAIN).

test('PAI_SPIFFE_TRUST_DOMAIN: default pai, validated, and the injector accepts only its own domain', async (t) => {
  const base = { HOME: t.context.stack.dataDir, PAI_DATA_DIR: t.context.stack.dataDir };
  t.is(loadConfig(base).spiffeTrustDomain, 'pai');
  t.is(loadConfig({ ...base, PAI_SPIFFE_TRUST_DOMAIN: 'prod.example.org' }).spiffeTrustDomain, 'prod.example.org');
  for (const bad of ['Prod', 'spiffe://pai', 'pai/agent', 'a b']) {
    const err = t.throws(() => loadConfig({ ...base, PAI_SPIFFE_TRUST_DOMAIN: bad }));
    t.true(err instanceof ConfigError && err.variable === 'PAI_SPIFFE_TRUST_DOMAIN', bad);
  }
  const socket = path.join(t.context.stack.dataDir, 'trust-domain.sock');
  const server = new InjectorServer({
    config: loadConfig({ ...base, PAI_INJECTOR_LISTEN: `unix:${socket}`, PAI_SPIFFE_TRUST_DOMAIN: 'prod.example.org' }),
    store: t.context.stack.running.store,
    changes: new ChangeFeed(),
    metrics: createMetrics(),
    logger: silentLogger(),
  });
  const client = authClient(await server.listen());
  t.teardown(async () => {
    client.close();
    await server.close();
  });
  const ok = await check(client, gatewayCheck({ modelProvider: 'openai', principal: 'spiffe://prod.example.org/agent/bot' }));
  assertInjected(t, ok, 'openai', []);
  const other = await check(client, gatewayCheck({ modelProvider: 'openai', principal: `${SPIFFE}bot` }));
  assertDenied(t, other, 'Unauthorized', 'unauthenticated');
});
