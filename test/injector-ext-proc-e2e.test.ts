/**
 * End to end through the simulated sidecar in ext_proc mode: the "agent" speaks plain HTTP to the
 * sidecar simulator, whose ext_proc filter (helpers/ext-proc-filter.ts) opens one Process stream per
 * request to the real injector and applies the answers as Envoy does; allowed requests land on one
 * upstream recorder. The upstream checks what a real API would: Telegram's path holds the token, a
 * SigV4 request verifies with an independent verifier, Azure and GCP requests carry a token their
 * (local) token endpoint issued and that had not expired. Token endpoints are called once per token
 * lifetime under 100 concurrent requests, and short-lived tokens are refreshed without a failure.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import type { ExternalProcessorClient } from '../src/generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { makeCanary } from './helpers/canary.js';
import { ExtProcFilter, extProcClient } from './helpers/ext-proc-filter.js';
import { type Stack, resource, startStack } from './helpers/injector.js';
import { type Fixture, HOSTS, seedFixture } from './helpers/injector-fixture.js';
import {
  type AgentResponse,
  type RecordedRequest,
  type Sidecar,
  type UpstreamRecorder,
  agentRequest,
  headerValues,
  startSidecar,
  startUpstream,
} from './helpers/sidecar-sim.js';
import { verifySigV4 } from './helpers/sigv4-verify.js';
import {
  AZURE_SCOPE,
  CLOUD_HOSTS,
  type CloudFixture,
  GCS_SCOPE,
  type TokenServer,
  startAzureTokenServer,
  startCloudServers,
  startGcpTokenServer,
} from './helpers/token-servers.js';

interface Context {
  stack: Stack;
  fx: Fixture;
  cloud: CloudFixture;
  client: ExternalProcessorClient;
  upstream: UpstreamRecorder;
  sidecars: Map<string, Sidecar>;
  /** Token servers owned by one test each: burst (100 concurrent) and short-lived tokens. */
  burst: { azure: TokenServer; gcp: TokenServer };
  short: { azure: TokenServer; gcp: TokenServer };
  closers: (() => Promise<void>)[];
}
const test = anyTest as TestFn<Context>;

const EXTRA_HOSTS = {
  azureBurst: 'arm-burst.example.com',
  gcpBurst: 'gcp-burst.example.com',
  azureShort: 'arm-short.example.com',
  gcpShort: 'gcp-short.example.com',
} as const;

test.before(async (t) => {
  const servers = await startCloudServers(makeCanary);
  const { values, gcpAccount } = servers;
  const azureExpect = { tenant: values.tenant, clientId: values.clientId, clientSecret: values.clientSecret, scope: AZURE_SCOPE };
  const gcpExpect = { account: gcpAccount, scope: GCS_SCOPE };
  const burst = { azure: await startAzureTokenServer(azureExpect), gcp: await startGcpTokenServer(gcpExpect) };
  const short = { azure: await startAzureTokenServer(azureExpect), gcp: await startGcpTokenServer(gcpExpect) };
  const allowed = [servers.allowedTokenUrls, burst.azure.url, burst.gcp.url, short.azure.url, short.gcp.url].join(',');
  const stack = await startStack({ logLevel: 'info', env: { PAI_ALLOWED_TOKEN_URLS: allowed } });
  const closers: (() => Promise<void>)[] = [() => stack.close()];
  const fx = await seedFixture(stack, makeCanary);
  const cloud = await servers.seed(stack.admin);
  closers.unshift(() => cloud.close());
  // The burst endpoints answer slowly, so that all 100 requests are waiting on the first exchange.
  burst.azure.behaviour = { kind: 'delay', ms: 200 };
  burst.gcp.behaviour = { kind: 'delay', ms: 200 };
  short.azure.expiresIn = 2;
  short.gcp.expiresIn = 2;
  short.gcp.stringExpiry = true;
  for (const s of [burst.azure, burst.gcp, short.azure, short.gcp]) closers.unshift(() => s.close());
  const azure = (name: string, host: string, server: TokenServer): Record<string, unknown> =>
    resource('Provider', name, { type: 'azure', hosts: [host], auth: { secretRef: 'azure-sp', tokenUrl: server.url } });
  const gcp = (name: string, host: string, server: TokenServer): Record<string, unknown> =>
    resource('Provider', name, {
      type: 'gcp',
      hosts: [host],
      auth: { secretRef: 'gcp-sa', scope: GCS_SCOPE, tokenUrl: server.url },
    });
  await stack.admin.apply(
    azure('arm-burst', EXTRA_HOSTS.azureBurst, burst.azure),
    gcp('gcp-burst', EXTRA_HOSTS.gcpBurst, burst.gcp),
    azure('arm-short', EXTRA_HOSTS.azureShort, short.azure),
    gcp('gcp-short', EXTRA_HOSTS.gcpShort, short.gcp),
  );
  await stack.admin.apply(
    resource('Agent', 'oauth-bot', { providers: ['arm', 'gcs', 'arm-down', 'arm-burst', 'gcp-burst', 'arm-short', 'gcp-short'] }),
  );
  const upstream = await startUpstream();
  closers.unshift(() => upstream.close());
  const client = extProcClient(stack.injector);
  closers.unshift(() => Promise.resolve(client.close()));
  const sidecars = new Map<string, Sidecar>();
  for (const agent of ['bot', 'bedrock-bot', 'sts-bot', 'oauth-bot', '']) {
    const filter = new ExtProcFilter({ client, agent: agent === '' ? undefined : agent });
    const sidecar = await startSidecar({ filter, upstreamPort: upstream.port });
    sidecars.set(agent, sidecar);
    closers.unshift(() => sidecar.close());
  }
  t.context = { stack, fx, cloud, client, upstream, sidecars, burst, short, closers };
});

test.after.always(async (t) => {
  for (const close of t.context.closers ?? []) await close();
});

interface Sent {
  readonly res: AgentResponse;
  /** What the upstream received for this request, if anything. */
  readonly seen: RecordedRequest | undefined;
}

/** Sends one request as `agent` through its sidecar; finds the upstream's record by a per-request id. */
async function send(
  t: ExecutionContext<Context>,
  agent: string,
  r: { method?: string; path?: string; host: string; headers?: [string, string][]; body?: Buffer | string },
): Promise<Sent> {
  const sidecar = t.context.sidecars.get(agent);
  if (!sidecar) throw new Error(`no sidecar for ${agent}`);
  const id = randomUUID();
  const res = await agentRequest(sidecar.port, { ...r, headers: [...(r.headers ?? []), ['x-test-id', id]] });
  const seen = t.context.upstream.requests.find((q) => headerValues(q.headers, 'x-test-id')[0] === id);
  return { res, seen };
}

const bearerOf = (seen: RecordedRequest | undefined): string | undefined => {
  const values = headerValues(seen?.headers ?? [], 'authorization');
  return values.length === 1 ? values[0]?.replace(/^Bearer /, '') : undefined;
};

// ---------------------------------------------------------------------------------------------

test('no identity on the route: 403 JSON from the injector, nothing reaches the upstream', async (t) => {
  const { res, seen } = await send(t, '', { host: HOSTS.github, path: '/user', headers: [['x-pai-agent', 'bot']] });
  t.is(res.status, 403);
  t.is(res.headers['content-type'], 'application/json');
  t.is(res.headers['x-pai-deny-reason'], 'no_identity');
  t.is((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code, 'no_identity');
  t.is(seen, undefined);
});

test('header credentials work through ext_proc too (github)', async (t) => {
  const { res, seen } = await send(t, 'bot', {
    host: HOSTS.github,
    path: '/user',
    headers: [['authorization', 'Bearer agent-own']],
  });
  t.is(res.status, 200);
  t.deepEqual(headerValues(seen?.headers ?? [], 'authorization'), [`Bearer ${t.context.fx.values.github}`]);
});

test('telegram: the upstream path holds the bot token; the agent never sent it', async (t) => {
  const token = t.context.fx.values.telegram;
  const method = await send(t, 'bot', {
    method: 'POST',
    host: HOSTS.telegram,
    path: '/bot/sendMessage?chat_id=42',
    body: '{"text":"hi"}',
    headers: [['content-type', 'application/json']],
  });
  t.is(method.res.status, 200);
  t.is(method.seen?.path, `/bot${token}/sendMessage?chat_id=42`);
  t.is(method.seen?.body.toString(), '{"text":"hi"}');
  const file = await send(t, 'bot', { host: HOSTS.telegram, path: '/file/bot/photos/file_7.jpg' });
  t.is(file.seen?.path, `/file/bot${token}/photos/file_7.jpg`);
  const spoofed = await send(t, 'bot', { host: HOSTS.telegram, path: '/bot999:other/getMe' });
  t.is(spoofed.res.status, 400);
  t.is(spoofed.seen, undefined);
});

const signedCases: {
  name: string;
  agent: string;
  host: string;
  method: string;
  path: string;
  body: Buffer;
  service: string;
  region: string;
  sts?: boolean;
}[] = [
  {
    name: 's3 PUT, 1 KiB',
    agent: 'bot',
    host: HOSTS.s3,
    method: 'PUT',
    path: '/bucket/obj%20name.bin',
    body: randomBytes(1024),
    service: 's3',
    region: 'us-east-1',
  },
  {
    name: 's3 PUT, 1 MiB',
    agent: 'bot',
    host: HOSTS.s3,
    method: 'PUT',
    path: '/bucket/big.bin',
    body: randomBytes(1024 * 1024),
    service: 's3',
    region: 'us-east-1',
  },
  {
    name: 'bedrock invoke',
    agent: 'bedrock-bot',
    host: HOSTS.bedrock,
    method: 'POST',
    path: '/model/anthropic.claude-3-haiku/invoke',
    body: Buffer.from('{"messages":[]}'),
    service: 'bedrock',
    region: 'us-east-1',
  },
  {
    name: 'session token (sts keys)',
    agent: 'sts-bot',
    host: 'sqs.eu-central-1.amazonaws.com',
    method: 'POST',
    path: '/',
    body: Buffer.from('Action=ListQueues'),
    service: 'sqs',
    region: 'eu-central-1',
    sts: true,
  },
  {
    name: 'GET without a body',
    agent: 'bot',
    host: HOSTS.s3,
    method: 'GET',
    path: '/bucket?prefix=a%2Fb&list-type=2',
    body: Buffer.alloc(0),
    service: 's3',
    region: 'us-east-1',
  },
];

for (const row of signedCases) {
  test(`sigv4: ${row.name} verifies at the upstream`, async (t) => {
    const { fx, cloud } = t.context;
    const keys = row.sts
      ? { id: cloud.values.stsKeyId, secret: cloud.values.stsSecret }
      : { id: fx.values.awsKeyId, secret: fx.values.awsSecret };
    const { res, seen } = await send(t, row.agent, {
      method: row.method,
      host: row.host,
      path: row.path,
      body: row.body,
      headers: [
        ['content-type', 'application/octet-stream'],
        ['authorization', 'AWS4-HMAC-SHA256 Credential=agent/own'],
        ['x-amz-meta-note', 'kept and signed'],
      ],
    });
    t.is(res.status, 200, res.body.toString());
    t.truthy(seen);
    t.true(seen?.body.equals(row.body), 'the body arrives byte for byte');
    t.deepEqual(headerValues(seen?.headers ?? [], 'content-length'), [String(row.body.length)]);
    const verdict = verifySigV4({
      method: row.method,
      path: seen?.path ?? '',
      headers: seen?.headers ?? [],
      body: seen?.body ?? Buffer.alloc(0),
      secretFor: (id) => (id === keys.id ? keys.secret : undefined),
      now: new Date(),
      expectService: row.service,
      expectRegion: row.region,
      ...(row.sts ? { expectSessionToken: cloud.values.sessionToken } : {}),
    });
    t.true(verdict.ok, verdict.reason);
    t.true(verdict.signedHeaders?.includes('x-amz-meta-note'), 'the agent’s x-amz-* headers are signed');
  });
}

test('azure and gcp: the upstream gets a token its endpoint issued', async (t) => {
  const { azure, gcp } = t.context.cloud;
  for (const [host, server] of [
    [CLOUD_HOSTS.arm, azure],
    [CLOUD_HOSTS.gcs, gcp],
  ] as const) {
    const { res, seen } = await send(t, 'oauth-bot', {
      host,
      path: '/subscriptions',
      headers: [['authorization', 'Bearer agent-own']],
    });
    t.is(res.status, 200);
    const token = bearerOf(seen);
    t.true(token !== undefined && server.valid(token), `${host}: a valid token issued by its endpoint`);
    t.deepEqual(server.rejected, []);
  }
});

test('a failing token endpoint: 503 with a reason, and the request never leaves without its credential', async (t) => {
  const { res, seen } = await send(t, 'oauth-bot', { host: CLOUD_HOSTS.down, path: '/' });
  t.is(res.status, 503);
  t.is(res.headers['x-pai-deny-reason'], 'token_endpoint_failed');
  t.regex(
    (JSON.parse(res.body.toString()) as { error: { message: string } }).error.message,
    /token endpoint .* answered HTTP 500/,
  );
  t.is(seen, undefined);
});

test('100 concurrent requests: one token request per endpoint', async (t) => {
  const { burst } = t.context;
  t.is(burst.azure.calls + burst.gcp.calls, 0, 'nothing fetched before');
  const hosts = [EXTRA_HOSTS.azureBurst, EXTRA_HOSTS.gcpBurst];
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) => send(t, 'oauth-bot', { host: hosts[i % 2] ?? '', path: `/r/${i}` })),
  );
  t.deepEqual(
    results.map((r) => r.res.status).filter((s) => s !== 200),
    [],
    'every request succeeded',
  );
  t.is(burst.azure.calls, 1, 'azure endpoint called once');
  t.is(burst.gcp.calls, 1, 'gcp endpoint called once');
  const tokens = new Set(results.map((r) => bearerOf(r.seen)));
  t.is(tokens.size, 2, 'every request carried its endpoint’s one token');
});

test('short-lived tokens are refreshed before they expire, without a failed request', async (t) => {
  const { short } = t.context;
  const lanes = 4;
  const until = Date.now() + 4500;
  const outcomes: { status: number; token: string | undefined; server: TokenServer; at: number }[] = [];
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = 0; Date.now() < until; i++) {
        const server = (i + lane) % 2 === 0 ? short.azure : short.gcp;
        const host = server === short.azure ? EXTRA_HOSTS.azureShort : EXTRA_HOSTS.gcpShort;
        const { res, seen } = await send(t, 'oauth-bot', { host, path: `/lane/${lane}/${i}` });
        outcomes.push({ status: res.status, token: bearerOf(seen), server, at: Date.now() });
      }
    }),
  );
  t.true(outcomes.length > 40, `enough requests crossed the expiry boundaries (${outcomes.length})`);
  t.deepEqual(outcomes.filter((o) => o.status !== 200).length, 0, 'no request failed');
  // Each token was still valid when its request had been answered (so when the upstream got it).
  t.deepEqual(
    outcomes.filter((o) => o.token === undefined || !o.server.valid(o.token, o.at)).length,
    0,
    'no expired token reached the upstream',
  );
  t.true(
    short.azure.calls >= 2 && short.gcp.calls >= 2,
    `tokens were refreshed (azure ${short.azure.calls}, gcp ${short.gcp.calls} calls)`,
  );
  t.true(short.azure.calls <= 6 && short.gcp.calls <= 6, 'about one token request per lifetime, not per request');
});
