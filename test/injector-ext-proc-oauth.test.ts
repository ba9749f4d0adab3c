/**
 * The OAuth token source on its own (src/injector/oauth*.ts), against local token endpoints with
 * a controlled clock: single flight, caching until shortly before expiry, background refresh, hard
 * expiry, rotation, and every way an endpoint can fail; no error ever carries a client secret,
 * private key, assertion, token or the endpoint's answer. Failure cases first.
 */
import { Writable } from 'node:stream';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { type PaiError, isPaiError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { azureTokenUrl } from '../src/injector/oauth-azure.js';
import { OAuthTokenSource, tokenSchedule } from '../src/injector/oauth.js';
import type { InjectionTarget } from '../src/resources/types.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import {
  type ServiceAccountKey,
  type TokenServer,
  makeServiceAccount,
  startAzureTokenServer,
  startGcpTokenServer,
} from './helpers/token-servers.js';

const SCOPE = 'https://management.azure.com/.default';
const GCP_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

interface Context {
  account: ServiceAccountKey;
  secret: string;
  servers: TokenServer[];
}
const test = anyTest as TestFn<Context>;

test.before((t) => {
  t.context = {
    account: makeServiceAccount('sa@pai-test.iam.gserviceaccount.com'),
    secret: `${makeCanary('oauth-secret')}/+=`,
    servers: [],
  };
});
test.after.always(async (t) => {
  await Promise.all((t.context.servers ?? []).map((s) => s.close()));
});

/**
 * The token endpoints the sources of this suite may call (the operator's PAI_ALLOWED_TOKEN_URLS):
 * every local server as it starts, and the unreachable ones the failure cases name.
 */
const ALLOWED: string[] = ['http://127.0.0.1:1/token', 'http://127.0.0.1:1/never'];

async function azureServer(t: ExecutionContext<Context>): Promise<TokenServer> {
  const server = await startAzureTokenServer({
    tenant: 'tenant-1',
    clientId: 'client-1',
    clientSecret: t.context.secret,
    scope: SCOPE,
  });
  t.context.servers.push(server);
  ALLOWED.push(server.url);
  return server;
}

async function gcpServer(t: ExecutionContext<Context>): Promise<TokenServer> {
  const server = await startGcpTokenServer({ account: t.context.account, scope: GCP_SCOPE });
  t.context.servers.push(server);
  ALLOWED.push(server.url);
  return server;
}

function azureTarget(tokenUrl: string, scope = SCOPE): InjectionTarget {
  return {
    kind: 'Provider',
    name: 'arm',
    type: 'azure',
    hosts: ['management.azure.com'],
    secret: 'azure-sp',
    requiredKeys: ['client_id', 'client_secret', 'tenant_id'],
    optionalKeys: [],
    auth: { strategy: 'azure', scope, tokenUrl },
  };
}

function gcpTarget(tokenUrl?: string): InjectionTarget {
  return {
    kind: 'Provider',
    name: 'gcs',
    type: 'gcp',
    hosts: ['*.googleapis.com'],
    secret: 'gcp-sa',
    requiredKeys: ['key.json'],
    optionalKeys: [],
    auth: { strategy: 'gcp', scope: GCP_SCOPE, ...(tokenUrl === undefined ? {} : { tokenUrl }) },
  };
}

const azureValues = (secret: string, extra: Record<string, string> = {}): Map<string, Buffer> =>
  new Map(
    Object.entries({ client_id: 'client-1', client_secret: secret, tenant_id: 'tenant-1', ...extra }).map(([k, v]) => [
      k,
      Buffer.from(v),
    ]),
  );

interface Clock {
  now: number;
}

function source(
  clock: Clock,
  timeoutMs = 2000,
): { tokens: OAuthTokenSource; metrics: ReturnType<typeof createMetrics>; warned: Promise<void> } {
  const metrics = createMetrics();
  let resolveWarned: () => void = () => undefined;
  const warned = new Promise<void>((r) => (resolveWarned = r));
  const sink = new Writable({
    write(_chunk, _enc, done) {
      resolveWarned();
      done();
    },
  });
  const tokens = new OAuthTokenSource({
    timeoutMs,
    metrics,
    logger: createLogger('warn', sink),
    now: () => clock.now,
    allowedTokenUrls: ALLOWED,
  });
  return { tokens, metrics, warned };
}

async function failure(t: ExecutionContext<Context>, p: Promise<unknown>): Promise<PaiError> {
  const err = await t.throwsAsync(p);
  if (!isPaiError(err)) throw new Error('expected a PaiError');
  // Nothing secret in the message, the details or anything the error holds on to.
  const everything = `${err.message} ${JSON.stringify(err.details ?? {})} ${String(err.cause)} ${JSON.stringify(err)}`;
  t.deepEqual(findCanary(everything, t.context.secret), [], 'no client secret in the error');
  t.false(everything.includes('BEGIN PRIVATE KEY'), 'no private key in the error');
  t.false(/tok-[0-9a-f]{32}/.test(everything), 'no access token in the error');
  t.false(/eyJ[A-Za-z0-9_-]+\./.test(everything), 'no assertion in the error');
  return err;
}

// ---------------------------------------------------------------------------------------------
// Failures.

test('a token endpoint outside the documented ones and the allow-list gets nothing: refused before any request', async (t) => {
  const clock = { now: Date.now() };
  const server = await startAzureTokenServer({
    tenant: 'tenant-1',
    clientId: 'client-1',
    clientSecret: t.context.secret,
    scope: SCOPE,
  });
  t.context.servers.push(server);
  const { tokens } = source(clock);
  const err = await failure(t, tokens.get(azureTarget(server.url), azureValues(t.context.secret), 1));
  t.is(err.code, 'credential_withheld');
  t.is(err.details?.['reason'], 'untrusted_token_url');
  t.regex(err.message, /PAI_ALLOWED_TOKEN_URLS/);
  t.is(server.calls, 0, 'the client secret was never sent');
  const key = Buffer.from(JSON.stringify({ ...t.context.account.json, token_uri: 'https://attacker.example/token' }));
  const gcpErr = await failure(t, tokens.get(gcpTarget(), new Map([['key.json', key]]), 1));
  t.is(gcpErr.details?.['reason'], 'untrusted_token_url', "a key file's token_uri is held to the same rule");
});

const endpointFailures: {
  name: string;
  setup: (s: TokenServer, t: ExecutionContext<Context>) => void;
  timeoutMs?: number;
  message: RegExp;
  result: string;
}[] = [
  {
    name: 'HTTP 500',
    setup: (s) => (s.behaviour = { kind: 'status', status: 500, body: '{}' }),
    message: /answered HTTP 500$/,
    result: 'http_error',
  },
  {
    name: 'invalid_client echoing the secret',
    setup: (s, t) =>
      (s.behaviour = {
        kind: 'raw',
        status: 401,
        body: JSON.stringify({ error: 'invalid_client', error_description: `wrong secret ${t.context.secret}` }),
      }),
    message: /answered HTTP 401 \(invalid_client\)$/,
    result: 'http_error',
  },
  {
    name: 'an error code outside RFC 6749 is not printed',
    setup: (s, t) => (s.behaviour = { kind: 'raw', status: 400, body: JSON.stringify({ error: t.context.secret }) }),
    message: /answered HTTP 400$/,
    result: 'http_error',
  },
  {
    name: 'a redirect is not followed',
    setup: (s) => (s.behaviour = { kind: 'redirect', location: 'http://127.0.0.1:1/steal' }),
    message: /answered HTTP 307$/,
    result: 'http_error',
  },
  {
    name: 'not JSON',
    setup: (s, t) => (s.behaviour = { kind: 'raw', status: 200, body: `<html>${t.context.secret}</html>` }),
    message: /something other than a JSON object$/,
    result: 'bad_response',
  },
  {
    name: 'no access_token',
    setup: (s) => (s.behaviour = { kind: 'raw', status: 200, body: '{"token_type":"Bearer","expires_in":3600}' }),
    message: /without an access_token$/,
    result: 'bad_response',
  },
  {
    name: 'not a Bearer token',
    setup: (s) =>
      (s.behaviour = {
        kind: 'raw',
        status: 200,
        body: '{"token_type":"mac","access_token":"tok-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}',
      }),
    message: /not a Bearer token$/,
    result: 'bad_response',
  },
  {
    name: 'a negative expires_in',
    setup: (s) =>
      (s.behaviour = {
        kind: 'raw',
        status: 200,
        body: '{"access_token":"tok-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","expires_in":-5}',
      }),
    message: /expires_in that is not a positive number$/,
    result: 'bad_response',
  },
  {
    name: 'an answer over 64 KiB',
    setup: (s) =>
      (s.behaviour = { kind: 'raw', status: 200, body: JSON.stringify({ access_token: 'x', pad: 'y'.repeat(70_000) }) }),
    message: /answered more than 65536 bytes$/,
    result: 'bad_response',
  },
  {
    name: 'no answer within the timeout',
    setup: (s) => (s.behaviour = { kind: 'hang' }),
    message: /did not answer within 300 ms$/,
    result: 'timeout',
    timeoutMs: 300,
  },
];

for (const row of endpointFailures) {
  test(`token endpoint failure: ${row.name} → token_endpoint_failed (503)`, async (t) => {
    const server = await azureServer(t);
    row.setup(server, t);
    const { tokens, metrics } = source({ now: 0 }, row.timeoutMs);
    const err = await failure(t, tokens.get(azureTarget(server.url), azureValues(t.context.secret), 1));
    t.is(err.code, 'token_endpoint_failed');
    t.is(err.status, 503);
    t.regex(err.message, new RegExp(`^azure Provider "arm": the token endpoint at 127\\.0\\.0\\.1:\\d+ `));
    t.regex(err.message, row.message);
    t.is(await metrics.tokenRequests.get().then((m) => m.values.find((v) => v.labels.result === row.result)?.value), 1);
  });
}

test('token endpoint unreachable → token_endpoint_failed', async (t) => {
  const { tokens } = source({ now: 0 });
  const err = await failure(t, tokens.get(azureTarget('http://127.0.0.1:1/token'), azureValues(t.context.secret), 1));
  t.regex(err.message, /at 127\.0\.0\.1:1 could not be reached$/);
});

test('wrong client secret: the endpoint refuses, the secret is not echoed', async (t) => {
  const server = await azureServer(t);
  const { tokens } = source({ now: 0 });
  const err = await failure(t, tokens.get(azureTarget(server.url), azureValues(makeCanary('wrong')), 1));
  t.regex(err.message, /HTTP 400 \(invalid_client\)/);
  t.deepEqual(server.rejected, ['invalid_client: client_secret']);
});

const badSecrets: { name: string; values: Record<string, string>; message: RegExp }[] = [
  {
    name: 'tenant id with a path',
    values: { tenant_id: '../common' },
    message: /key "tenant_id" in secret "azure-sp" is not a tenant id/,
  },
  { name: 'tenant id with a query', values: { tenant_id: 'a?b=c' }, message: /is not a tenant id/ },
  {
    name: 'client id with a space',
    values: { client_id: 'a b' },
    message: /key "client_id" in secret "azure-sp" is not a client id/,
  },
  { name: 'empty client secret', values: { client_secret: '' }, message: /key "client_secret" in secret "azure-sp" is empty/ },
];

for (const row of badSecrets) {
  test(`azure secret refused before any request: ${row.name}`, async (t) => {
    const server = await azureServer(t);
    const { tokens } = source({ now: 0 });
    const err = await failure(t, tokens.get(azureTarget(server.url), azureValues(t.context.secret, row.values), 1));
    t.is(err.code, 'bad_header_value');
    t.regex(err.message, row.message);
    t.is(server.calls, 0);
  });
}

test('azure: the default endpoint is the tenant’s login URL', (t) => {
  t.is(azureTokenUrl('contoso.onmicrosoft.com'), 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
});

const badKeys: { name: string; key: (a: ServiceAccountKey) => unknown; message: RegExp }[] = [
  { name: 'not JSON', key: () => 'nope', message: /not a JSON object/ },
  {
    name: 'authorized_user credentials',
    key: (a) => ({ ...a.json, type: 'authorized_user' }),
    message: /"type" is not "service_account"/,
  },
  { name: 'no client_email', key: (a) => ({ ...a.json, client_email: undefined }), message: /no client_email/ },
  { name: 'no private_key', key: (a) => ({ ...a.json, private_key: undefined }), message: /no private_key/ },
  {
    name: 'a private key that is not one',
    key: (a) => ({ ...a.json, private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }),
    message: /not an RSA key in PKCS#8 PEM form/,
  },
  {
    name: 'token_uri over plain http to another host',
    key: (a) => ({ ...a.json, token_uri: 'http://evil.example/token' }),
    message: /token_uri that is not an https URL/,
  },
];

for (const row of badKeys) {
  test(`gcp key refused: ${row.name}`, async (t) => {
    const { tokens } = source({ now: 0 });
    const raw = row.key(t.context.account);
    const text = typeof raw === 'string' ? raw : JSON.stringify(raw);
    const err = await failure(t, tokens.get(gcpTarget(), new Map([['key.json', Buffer.from(text)]]), 1));
    t.is(err.code, 'bad_header_value');
    t.regex(err.message, /key "key.json" in secret "gcp-sa"/);
    t.regex(err.message, row.message);
  });
}

// ---------------------------------------------------------------------------------------------
// Caching.

test('tokenSchedule: handed out until L − min(60 s, L/10), refreshed from L − min(5 min, 3L/10)', (t) => {
  t.deepEqual(tokenSchedule(0, 3_600_000), { usableUntil: 3_540_000, refreshFrom: 3_300_000 });
  t.deepEqual(tokenSchedule(1000, 2000), { usableUntil: 2800, refreshFrom: 2400 });
});

test('single flight: 50 concurrent requests make one token request and share its token', async (t) => {
  const server = await azureServer(t);
  server.behaviour = { kind: 'delay', ms: 100 };
  const { tokens } = source({ now: 0 });
  const got = await Promise.all(
    Array.from({ length: 50 }, () => tokens.get(azureTarget(server.url), azureValues(t.context.secret), 1)),
  );
  t.is(new Set(got).size, 1);
  t.is(server.calls, 1);
  t.true(server.valid(got[0] ?? ''));
});

test('lifetime: cached, refreshed in the background when due, fetched again once unusable', async (t) => {
  const server = await azureServer(t);
  server.expiresIn = 100; // usable until 90 s, refreshed from 70 s
  const clock = { now: 1_000_000 };
  const { tokens } = source(clock);
  const target = azureTarget(server.url);
  const values = azureValues(t.context.secret);
  const first = await tokens.get(target, values, 1);
  clock.now += 69_000;
  t.is(await tokens.get(target, values, 1), first, 'cached before the refresh point');
  t.is(server.calls, 1);
  server.behaviour = { kind: 'delay', ms: 100 };
  clock.now += 2_000; // 71 s: due for refresh, still usable
  t.is(await tokens.get(target, values, 1), first, 'the current token is handed out while the refresh runs');
  clock.now += 20_000; // 91 s: no longer usable: waits for the refresh already running
  const second = await tokens.get(target, values, 1);
  t.not(second, first);
  t.is(server.calls, 2, 'the background refresh was the only new request');
  t.true(server.valid(second));
});

test('a failed background refresh keeps the current token until it is unusable, then fails closed', async (t) => {
  const server = await azureServer(t);
  server.expiresIn = 100;
  const clock = { now: 0 };
  const { tokens, warned } = source(clock);
  const target = azureTarget(server.url);
  const values = azureValues(t.context.secret);
  const first = await tokens.get(target, values, 1);
  server.behaviour = { kind: 'status', status: 503, body: '{}' };
  clock.now = 75_000;
  t.is(await tokens.get(target, values, 1), first);
  await warned;
  t.is(server.calls, 2);
  clock.now = 76_000;
  t.is(await tokens.get(target, values, 1), first, 'no retry storm: the next attempt waits a few seconds');
  t.is(server.calls, 2);
  clock.now = 90_001;
  const err = await failure(t, tokens.get(target, values, 1));
  t.is(err.code, 'token_endpoint_failed');
});

test('rotation: a new secret version, or other values under the same version, never reuse a token', async (t) => {
  const server = await azureServer(t);
  const { tokens } = source({ now: 0 });
  const target = azureTarget(server.url);
  const v1 = await tokens.get(target, azureValues(t.context.secret), 1);
  const v2 = await tokens.get(target, azureValues(t.context.secret), 2);
  t.not(v2, v1, 'new version, new token');
  t.is(server.calls, 2);
  // Deleted and re-created: version 1 again, another client.
  const other = await failure(t, tokens.get(target, azureValues(t.context.secret, { client_id: 'client-2' }), 1));
  t.regex(other.message, /invalid_client/);
  t.is(server.calls, 3, 'the other credential went to the endpoint instead of reusing v1’s token');
  t.is(await tokens.get(target, azureValues(t.context.secret), 1), v1, 'the original is still cached');
  const scoped = await tokens
    .get(azureTarget(server.url, 'api://other/.default'), azureValues(t.context.secret), 1)
    .catch((e: unknown) => e);
  t.true(isPaiError(scoped, 'token_endpoint_failed'), 'another scope is another token request');
  t.is(server.calls, 4);
});

test('no expires_in: the token is kept for 60 s at most', async (t) => {
  const server = await azureServer(t);
  const clock = { now: 0 };
  const { tokens } = source(clock);
  server.behaviour = {
    kind: 'raw',
    status: 200,
    body: '{"token_type":"Bearer","access_token":"tok-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}',
  };
  const target = azureTarget(server.url);
  t.is(await tokens.get(target, azureValues(t.context.secret), 1), 'tok-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
  server.behaviour = { kind: 'ok' };
  clock.now = 54_001;
  t.not(await tokens.get(target, azureValues(t.context.secret), 1), 'tok-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
  t.is(server.calls, 2);
});

// expires_in is bounded to [1 s, 24 h] (issue 16, item 7): each row gets a token with that
// expires_in, then asks again at `reusedAt` (same token, no exchange) and at `fetchedAt` (a new one).
const LIFETIME_BOUNDS: { name: string; expiresIn: number | string; reusedAt: number; fetchedAt: number }[] = [
  { name: 'ten years is cut to 24 h', expiresIn: 10 * 365 * 86_400, reusedAt: 23 * 3_600_000, fetchedAt: 24 * 3_600_000 },
  { name: 'a number beyond any date is cut to 24 h', expiresIn: 1e300, reusedAt: 3_600_000, fetchedAt: 24 * 3_600_000 },
  { name: 'a huge numeric string is cut to 24 h', expiresIn: '9'.repeat(40), reusedAt: 3_600_000, fetchedAt: 24 * 3_600_000 },
  {
    name: 'a thousandth of a second is raised to 1 s (no exchange per request)',
    expiresIn: 0.001,
    reusedAt: 500,
    fetchedAt: 901,
  },
  { name: 'one hour is kept as it is', expiresIn: 3600, reusedAt: 3_239_000, fetchedAt: 3_540_001 },
];

for (const row of LIFETIME_BOUNDS) {
  test(`expires_in bounds: ${row.name}`, async (t) => {
    const server = await azureServer(t);
    const clock = { now: 0 };
    const { tokens } = source(clock);
    const token = 'tok-cccccccccccccccccccccccccccccccc';
    server.behaviour = {
      kind: 'raw',
      status: 200,
      body: `{"token_type":"Bearer","access_token":"${token}","expires_in":${JSON.stringify(row.expiresIn)}}`,
    };
    const target = azureTarget(server.url);
    const values = azureValues(t.context.secret);
    t.is(await tokens.get(target, values, 1), token);
    server.behaviour = { kind: 'ok' };
    clock.now = row.reusedAt;
    t.is(await tokens.get(target, values, 1), token, 'reused within the bounded lifetime');
    t.is(server.calls, 1);
    clock.now = row.fetchedAt;
    t.not(await tokens.get(target, values, 1), token, 'replaced once the bounded lifetime is (nearly) over');
    t.is(server.calls, 2);
  });
}

test('gcp: the assertion verifies at the endpoint (iss, aud, scope, kid, one hour) and is cached', async (t) => {
  const server = await gcpServer(t);
  const { tokens } = source({ now: Date.now() });
  const key = Buffer.from(JSON.stringify({ ...t.context.account.json, token_uri: server.url }));
  const token = await tokens.get(gcpTarget(), new Map([['key.json', key]]), 3);
  t.true(server.valid(token));
  t.deepEqual(server.rejected, []);
  t.is(await tokens.get(gcpTarget(), new Map([['key.json', key]]), 3), token);
  t.is(server.calls, 1);
});

test('gcp: spec.auth.tokenUrl wins over the key’s token_uri (and is the assertion’s audience)', async (t) => {
  const server = await gcpServer(t);
  const { tokens } = source({ now: Date.now() });
  const key = Buffer.from(JSON.stringify({ ...t.context.account.json, token_uri: 'http://127.0.0.1:1/never' }));
  const token = await tokens.get(gcpTarget(server.url), new Map([['key.json', key]]), 1);
  t.true(server.valid(token));
});
