/**
 * Pai's documented manifests (docs/examples/pai/, copies of the shapes on Pai's Provider,
 * ModelProvider and Agent pages) applied as written into a namespace, and what the injector puts
 * on a matching request through Check and Process: the documented credential placement of every
 * type. The only addition to Pai's text is the azure Provider's auth.tokenUrl (and the gcp key's
 * token_uri), which point the token exchange at local servers the injector's operator allows.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parseManifests } from '../src/resources/manifest.js';
import type { CheckResponse__Output } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { makeCanary } from './helpers/canary.js';
import { applyExtProcMutation, extProcClient, headerPairsOf, processHeaders } from './helpers/ext-proc-filter.js';
import { denialBody, startStack, type Stack } from './helpers/injector.js';
import { AWS_SUITE, suiteSecretFor, verifySigV4 } from './helpers/sigv4-verify.js';
import { makeServiceAccount, startAzureTokenServer, startGcpTokenServer, type TokenServer } from './helpers/token-servers.js';
import { caBundleEnv } from '../src/resources/agent-trust.js';

const NS = 'team-a';
const EXAMPLES = path.join(import.meta.dirname, '..', 'docs', 'examples', 'pai');
const AZURE_TENANT = '00000000-0000-0000-0000-000000000000';

interface World {
  stack: Stack;
  values: Record<string, string>;
  gcp: TokenServer;
  azure: TokenServer;
  telegramPlaceholder: string;
}

let world: World;

/** Every document of the Pai examples, the azure one pointed at the local token server. */
function exampleDocs(azureUrl: string): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  for (const file of fs.readdirSync(EXAMPLES).sort()) {
    for (const doc of parseManifests(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'), file) as Record<string, unknown>[]) {
      const spec = doc['spec'] as Record<string, unknown>;
      if (spec['type'] === 'azure') (spec['auth'] as Record<string, unknown>)['tokenUrl'] = azureUrl;
      docs.push(doc);
    }
  }
  return docs;
}

const RANK: Record<string, number> = { ModelProvider: 0, Provider: 1, Agent: 2 };
const PLURAL: Record<string, string> = { ModelProvider: 'modelproviders', Provider: 'providers', Agent: 'agents' };

test.before(async () => {
  const values: Record<string, string> = {};
  for (const name of [
    'github',
    'serper',
    'serpapi',
    'stripe',
    'notion',
    'slack',
    'linear',
    'google',
    'openrouter',
    'nvidia',
    'azureOpenai',
    'webhook',
    'azureSecret',
  ]) {
    values[name] = makeCanary(name);
  }
  values['telegram'] = `7123456789:${makeCanary('tg').replace(/[^A-Za-z0-9_-]/g, '')}`;
  const account = makeServiceAccount('pai@pai-test.iam.gserviceaccount.com', 'http://127.0.0.1:1/token');
  const gcp = await startGcpTokenServer({ account, scope: 'https://www.googleapis.com/auth/cloud-platform' });
  const azure = await startAzureTokenServer({
    tenant: AZURE_TENANT,
    clientId: 'app-1',
    clientSecret: values['azureSecret'] ?? '',
    scope: 'https://storage.azure.com/.default',
  });
  const stack = await startStack({ env: { PAI_ALLOWED_TOKEN_URLS: `${gcp.url},${azure.url}` }, logLevel: 'warn' });
  const secret = async (name: string, data: Record<string, string>) =>
    stack.admin.expect(201, 'POST', `/v1/namespaces/${NS}/secrets`, { name, data });
  await secret('github-pat', { token: values['github'] ?? '' });
  await secret('serper-key', { token: values['serper'] ?? '' });
  await secret('serpapi-key', { token: values['serpapi'] ?? '' });
  await secret('stripe-key', { token: values['stripe'] ?? '' });
  await secret('notion-key', { token: values['notion'] ?? '' });
  await secret('telegram-token', { token: values['telegram'] ?? '' });
  await secret('slack-bot', { token: values['slack'] ?? '' });
  await secret('aws-creds', { access_key_id: AWS_SUITE.accessKeyId, secret_access_key: AWS_SUITE.secretAccessKey });
  await secret('gcp-sa-key', { 'key.json': JSON.stringify({ ...account.json, token_uri: gcp.url }) });
  await secret('azure-sp', { client_id: 'app-1', client_secret: values['azureSecret'] ?? '' });
  await secret('linear-mcp-token', { token: values['linear'] ?? '' });
  await secret('google-key', { 'api-key': values['google'] ?? '' });
  await secret('openrouter-key', { 'api-key': values['openrouter'] ?? '' });
  await secret('nvidia-api-key', { 'api-key': values['nvidia'] ?? '' });
  await secret('azure-openai-key', { 'api-key': values['azureOpenai'] ?? '' });
  await secret('slack-credentials', { 'webhook-url': values['webhook'] ?? '' });
  const docs = exampleDocs(azure.url).sort((a, b) => (RANK[String(a['kind'])] ?? 3) - (RANK[String(b['kind'])] ?? 3));
  for (const doc of docs) {
    const name = (doc['metadata'] as { name: string }).name;
    await stack.admin.expect(201, 'PUT', `/v1/namespaces/${NS}/${PLURAL[String(doc['kind'])] ?? ''}/${name}`, doc);
  }
  const providers = docs.filter((d) => d['kind'] === 'Provider').map((d) => (d['metadata'] as { name: string }).name);
  await stack.admin.expect(201, 'PUT', `/v1/namespaces/${NS}/agents/every-type`, {
    apiVersion: 'pai.io/v1',
    kind: 'Agent',
    metadata: { name: 'every-type', namespace: NS },
    spec: {
      models: [
        'google/gemini-2.5-flash',
        'openrouter/meta-llama/llama-3.1-70b-instruct',
        'nvidia/meta/llama-3.1-70b-instruct',
        'azure-gpt/gpt-4o',
      ],
      providers,
    },
  });
  const env = await stack.admin.expect(200, 'GET', `/v1/namespaces/${NS}/agents/dev-assistant/env?format=json`);
  const items = (env.json as { items: { name: string; value: string }[] }).items;
  world = { stack, values, gcp, azure, telegramPlaceholder: items.find((i) => i.name === 'TELEGRAM_BOT_TOKEN')?.value ?? '' };
});

test.after.always(async () => {
  await world.stack.close();
  await world.gcp.close();
  await world.azure.close();
});

const everyType = { 'pai.agent': 'every-type', 'pai.namespace': NS };
const check = (authority: string, pathAndQuery = '/', method = 'GET') =>
  world.stack.check({ authority, path: pathAndQuery, method, contextExtensions: everyType });
const setHeaders = (res: CheckResponse__Output) => res.ok_response?.headers?.map((h) => [h.header?.key, h.header?.value]) ?? [];
const v = (name: string): string => world.values[name] ?? '';

const headerPlacements: [string, string, string, [string, string][]][] = [
  [
    'github API: Bearer (issues:read, allowed)',
    'api.github.com',
    '/repos/myorg/my-repo/issues',
    [['authorization', 'Bearer {github}']],
  ],
  [
    'github uploads: Bearer',
    'uploads.github.com',
    '/repos/myorg/my-repo/releases/1/assets',
    [['authorization', 'Bearer {github}']],
  ],
  ['Serper: X-API-KEY with prefix ""', 'google.serper.dev', '/search', [['x-api-key', '{serper}']]],
  ['Stripe: Authorization Bearer by default', 'api.stripe.com', '/v1/charges', [['authorization', 'Bearer {stripe}']]],
  ['Notion: Authorization Bearer', 'api.notion.com', '/v1/pages', [['authorization', 'Bearer {notion}']]],
  ['Slack: Bearer on the Web API', 'slack.com', '/api/chat.postMessage', [['authorization', 'Bearer {slack}']]],
  ['MCP over SSE: Bearer on the host of mcp.url', 'mcp.linear.app', '/sse', [['authorization', 'Bearer {linear}']]],
  [
    'ModelProvider google (provider gemini): x-goog-api-key',
    'generativelanguage.googleapis.com',
    '/v1beta/models',
    [['x-goog-api-key', '{google}']],
  ],
  ['ModelProvider openrouter: Bearer', 'openrouter.ai', '/api/v1/chat/completions', [['authorization', 'Bearer {openrouter}']]],
  [
    'OpenAI-compatible endpoint (nvidia): Bearer',
    'integrate.api.nvidia.com',
    '/v1/chat/completions',
    [['authorization', 'Bearer {nvidia}']],
  ],
];

for (const [what, authority, p, expected] of headerPlacements) {
  test(`Check: ${what}`, async (t) => {
    const res = await check(authority, p);
    t.is(res.status?.code, 0, JSON.stringify(denialBody(res)));
    t.deepEqual(
      setHeaders(res),
      expected.map(([n, val]) => [n, val.replace(/\{(\w+)\}/g, (_m, k: string) => v(k))]),
    );
  });
}

test('Check: git smart-HTTP on github.com gets Basic x-access-token:<token> where the policy allows it; its web pages get none', async (t) => {
  const basic = `Basic ${Buffer.from(`x-access-token:${v('github')}`).toString('base64')}`;
  // Clone and fetch (contents:read) are allowed by the example's policy; a push (contents:write) is not.
  for (const p of ['/myorg/my-repo.git/info/refs?service=git-upload-pack', '/myorg/my-repo/git-upload-pack']) {
    t.deepEqual(setHeaders(await check('github.com', p, p.endsWith('pack') ? 'POST' : 'GET')), [['authorization', basic]], p);
  }
  const push = await check('github.com', '/myorg/my-repo.git/git-receive-pack', 'POST');
  t.is(denialBody(push)?.error.code, 'policy_denied');
  t.regex(denialBody(push)?.error.message ?? '', /policy denies action contents:write on "myorg\/my-repo"/);
  t.false(JSON.stringify(push).includes(v('github')));
  const otherRepo = await check('github.com', '/myorg/other.git/info/refs?service=git-upload-pack');
  t.is(denialBody(otherRepo)?.error.code, 'policy_denied', 'scope.repositories names my-repo only');
  const page = await check('github.com', '/myorg/my-repo/pulls');
  t.is(page.status?.code, 0);
  t.deepEqual(setHeaders(page), []);
  t.true((page.ok_response?.headers_to_remove ?? []).includes('authorization'), "the agent's own credential header still goes");
});

test('Check: SerpApi gets its key as the api_key query parameter', async (t) => {
  const res = await check('serpapi.com', '/search?engine=google&q=coffee');
  t.deepEqual(
    res.ok_response?.query_parameters_to_set?.map((q) => [q.key, q.value]),
    [['api_key', encodeURIComponent(v('serpapi'))]],
  );
});

test('Check: azure-openai gets api-key and the ModelProvider apiVersion as api-version, unless the agent set one', async (t) => {
  const plain = await check('my-resource.openai.azure.com', '/openai/deployments/gpt/chat/completions');
  t.deepEqual(setHeaders(plain), [['api-key', v('azureOpenai')]]);
  t.deepEqual(
    plain.ok_response?.query_parameters_to_set?.map((q) => [q.key, q.value]),
    [['api-version', '2024-10-21']],
  );
  const own = await check(
    'my-resource.openai.azure.com',
    '/openai/deployments/gpt/chat/completions?api-version=2025-01-01-preview',
  );
  t.deepEqual(own.ok_response?.query_parameters_to_set ?? [], []);
});

test('Check: GCP service account (key.json) exchanged for a token, Bearer on the APIs of config.services only', async (t) => {
  const storage = await check('storage.googleapis.com', '/storage/v1/b/bucket/o');
  const issued = [...world.gcp.issued.keys()].at(-1);
  t.truthy(issued);
  t.deepEqual(setHeaders(storage), [['authorization', `Bearer ${issued ?? ''}`]]);
  const bigquery = await check('bigquery.googleapis.com', '/bigquery/v2/projects');
  t.like(
    denialBody(bigquery)?.error,
    { code: 'credential_withheld', reason: 'service_not_allowed' },
    'bigquery is not in config.services',
  );
  const minting = await check('iamcredentials.googleapis.com', '/v1/projects/-/serviceAccounts/x:generateAccessToken', 'POST');
  t.is(denialBody(minting)?.error.code, 'credential_withheld');
});

test('Check: Azure client credentials with config.tenantId (no tenant_id in the secret), Bearer on storage hosts', async (t) => {
  const res = await check('myaccount.blob.core.windows.net', '/container/blob');
  t.is(res.status?.code, 0, JSON.stringify(denialBody(res)));
  t.deepEqual(setHeaders(res), [['authorization', `Bearer ${[...world.azure.issued.keys()].at(-1) ?? ''}`]]);
});

test('Process: Telegram replaces the agentEnvVar placeholder in /bot<placeholder>/<method> by the token', async (t) => {
  t.regex(world.telegramPlaceholder, /^\d+:pai-placeholder-[0-9a-f]{16}$/);
  t.false(world.telegramPlaceholder.includes(v('telegram')));
  const client = extProcClient(world.stack.injector);
  t.teardown(() => client.close());
  for (const sent of [`/bot${world.telegramPlaceholder}/sendMessage?chat_id=1`, '/bot/getUpdates']) {
    const spec = { authority: 'api.telegram.org', path: sent, agent: 'every-type', namespace: NS };
    const res = await processHeaders(client, spec);
    const headers = headerPairsOf(spec);
    applyExtProcMutation(headers, res.request_headers?.response?.header_mutation);
    const method = sent.split('/')[2]?.split('?')[0] ?? '';
    t.is(headers.find(([n]) => n === ':path')?.[1], `/bot${v('telegram')}/${method}${sent.includes('?') ? '?chat_id=1' : ''}`);
  }
});

test('Process: AWS SigV4 for config.services in config.region; other services, STS and other regions get none', async (t) => {
  const client = extProcClient(world.stack.injector);
  t.teardown(() => client.close());
  const spec = { authority: 's3.us-east-1.amazonaws.com', path: '/my-bucket/report.csv', agent: 'every-type', namespace: NS };
  const res = await processHeaders(client, spec);
  const headers = headerPairsOf(spec);
  applyExtProcMutation(headers, res.request_headers?.response?.header_mutation);
  const verdict = verifySigV4({
    method: 'GET',
    path: spec.path,
    headers: headers.filter(([n]) => !n.startsWith(':')).concat([['host', spec.authority]]),
    body: Buffer.alloc(0),
    secretFor: suiteSecretFor,
    expectService: 's3',
    expectRegion: 'us-east-1',
  });
  t.true(verdict.ok, verdict.reason);
  for (const authority of ['sqs.us-east-1.amazonaws.com', 'sts.amazonaws.com', 's3.eu-west-1.amazonaws.com']) {
    const denied = await processHeaders(client, { authority, path: '/', agent: 'every-type', namespace: NS });
    const status = denied.immediate_response?.status?.code;
    t.true(status === 'Forbidden' || (status as unknown) === 403 || denied.immediate_response !== undefined, authority);
    t.falsy(denied.request_headers, `${authority}: no signature`);
  }
});

test('render env: literal values, secret values and the agentEnvVar placeholder (never the token)', async (t) => {
  const env = await world.stack.admin.expect(200, 'GET', `/v1/namespaces/${NS}/agents/dev-assistant/env?format=json`);
  t.deepEqual((env.json as { items: { name: string; value: string }[] }).items, [
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'SLACK_WEBHOOK', value: v('webhook') },
    { name: 'TELEGRAM_BOT_TOKEN', value: world.telegramPlaceholder },
    ...caBundleEnv(),
  ]);
});

test("the Agent comes back with the other Pai components' fields as written", async (t) => {
  const res = await world.stack.admin.expect(200, 'GET', `/v1/namespaces/${NS}/agents/dev-assistant`);
  const spec = (res.json as { resource: { spec: Record<string, unknown>; apiVersion: string } }).resource;
  t.is(spec.apiVersion, 'pai.io/v1');
  t.like(spec.spec, {
    type: 'service',
    image: 'ghcr.io/pai-platform/openclaw:latest',
    runAsUser: 1000,
    guards: [{ binding: 'prompt-guard-default', scan: { prompts: true, responses: false }, enforcement: 'enforce' }],
    tokens: { maxPerDay: 1000000, maxPerRequest: 16000 },
    models: ['google/gemini-2.5-flash'],
  });
});

test('nothing of this namespace reaches an agent of the same name in another namespace', async (t) => {
  const res = await world.stack.check({
    authority: 'api.github.com',
    contextExtensions: { 'pai.agent': 'every-type', 'pai.namespace': 'team-b' },
  });
  t.is(denialBody(res)?.error.code, 'unknown_agent');
  const dflt = await world.stack.check({ authority: 'api.github.com', contextExtensions: { 'pai.agent': 'every-type' } });
  t.is(denialBody(dflt)?.error.code, 'unknown_agent', 'no namespace on the route is default, not team-a');
});
