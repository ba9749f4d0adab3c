/**
 * End to end through a simulated sidecar: the "agent" sends plain HTTP to the sidecar simulator,
 * whose ext_authz filter calls the real injector over its unix socket and applies the answer the
 * way Envoy does; allowed requests land on one upstream recorder (the original authority kept in
 * Host). The recorded requests must carry exactly the expected credential, and nothing when they
 * should not. Rotation: same process (invalidation at once) and two processes (within the TTL).
 */
import { randomUUID } from 'node:crypto';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { ExtAuthzFilter } from './helpers/ext-authz-filter.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import { Admin, type Stack, authClient, resource, startStack } from './helpers/injector.js';
import { type Fixture, type FixtureValues, HOSTS, seedFixture } from './helpers/injector-fixture.js';
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

interface Context {
  stack: Stack;
  fx: Fixture;
  upstream: UpstreamRecorder;
  /** One sidecar per pod: agent name → sidecar; '' is a sidecar whose route names no agent. */
  sidecars: Map<string, Sidecar>;
  closers: (() => Promise<void>)[];
}
const test = anyTest as TestFn<Context>;

const AGENTS = ['bot', 'lonely-bot', 'strict-bot', 'ghost', ''];

test.before(async (t) => {
  const stack = await startStack();
  const fx = await seedFixture(stack, makeCanary);
  const upstream = await startUpstream();
  const closers: (() => Promise<void>)[] = [() => upstream.close(), () => stack.close()];
  const sidecars = new Map<string, Sidecar>();
  t.context = { stack, fx, upstream, sidecars, closers };
  for (const agent of AGENTS) {
    const filter = new ExtAuthzFilter({ client: stack.client, contextExtensions: agent === '' ? {} : { 'pai.agent': agent } });
    const sidecar = await startSidecar({ filter, upstreamPort: upstream.port });
    closers.unshift(() => sidecar.close());
    sidecars.set(agent, sidecar);
  }
});
test.after.always(async (t) => {
  for (const close of t.context.closers ?? []) await close();
});

const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key', 'proxy-authorization'];

/** Headers an agent might try to bring its own credentials in. */
const OWN: [string, string][] = [
  ['Authorization', 'Bearer agent-own'],
  ['X-Api-Key', 'agent-own'],
  ['x-goog-api-key', 'agent-own'],
  ['api-key', 'agent-own'],
  ['Proxy-Authorization', 'Basic agent-own'],
];

interface Sent {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: Record<string, string | string[] | undefined>;
  /** What reached the upstream for this request, if anything. */
  readonly recorded: RecordedRequest | undefined;
}

/** Sends one request as `agent`'s pod and finds what the upstream recorded for it (by a unique tag). */
async function send(
  t: ExecutionContext<Context>,
  agent: string,
  r: { method?: string; path?: string; host: string; headers?: readonly [string, string][]; body?: string },
): Promise<Sent> {
  const sidecar = t.context.sidecars.get(agent);
  if (!sidecar) throw new Error(`no sidecar for ${agent}`);
  const tag = randomUUID();
  const res = await agentRequest(sidecar.port, { ...r, headers: [...(r.headers ?? []), ['x-test-id', tag]] });
  const recorded = t.context.upstream.requests.find((q) => headerValues(q.headers, 'x-test-id')[0] === tag);
  return { status: res.status, body: res.body, headers: res.headers, recorded };
}

/** Asserts that none of the fixture's values (except `allowed`) appear anywhere in `text`. */
function assertNoValues(t: ExecutionContext<Context>, text: string, allowed: readonly string[] = []): void {
  for (const value of t.context.fx.all) if (!allowed.includes(value)) t.deepEqual(findCanary(text, value), [], 'no secret value');
}

const recordedText = (r: RecordedRequest): string =>
  `${r.method} ${r.path}\n${r.headers.map(([n, v]) => `${n}: ${v}`).join('\n')}\n${r.body.toString('latin1')}`;

// ---------------------------------------------------------------------------------------------
// Denied: the agent gets the injector's answer, the upstream gets nothing.

interface DenyRow {
  readonly name: string;
  readonly agent: string;
  readonly host: string;
  readonly path?: string;
  readonly status: number;
  /** The JSON error code in the body (also the x-pai-deny-reason header). */
  readonly code: string;
}

const denials: DenyRow[] = [
  { name: 'route names no agent', agent: '', host: HOSTS.github, status: 403, code: 'no_identity' },
  { name: 'unknown agent', agent: 'ghost', host: HOSTS.github, status: 403, code: 'unknown_agent' },
  { name: 'egress deny, unmatched host', agent: 'strict-bot', host: HOSTS.unmatched, status: 403, code: 'egress_denied' },
  { name: 'userinfo in Host', agent: 'bot', host: `user@${HOSTS.github}`, status: 400, code: 'bad_host' },
  { name: 'Host with a bad port', agent: 'bot', host: `${HOSTS.github}:99999`, status: 400, code: 'bad_host' },
  { name: 'secret missing', agent: 'bot', host: HOSTS.doomed, status: 500, code: 'secret_missing' },
  { name: 'key missing', agent: 'bot', host: HOSTS.shrunk, status: 500, code: 'key_missing' },
  { name: 'value with CR LF', agent: 'bot', host: HOSTS.crlf, status: 500, code: 'bad_header_value' },
  { name: 'value with NUL', agent: 'bot', host: HOSTS.nul, status: 500, code: 'bad_header_value' },
  {
    name: 'telegram through ext_authz',
    agent: 'bot',
    host: HOSTS.telegram,
    path: '/bot/getMe',
    status: 500,
    code: 'needs_ext_proc',
  },
  { name: 'aws through ext_authz', agent: 'bot', host: HOSTS.s3, status: 500, code: 'needs_ext_proc' },
];

for (const row of denials) {
  test(`deny: ${row.name}`, async (t) => {
    const res = await send(t, row.agent, {
      host: row.host,
      path: row.path ?? '/',
      headers: OWN,
      method: 'POST',
      body: 'payload',
    });
    t.is(res.status, row.status);
    t.is(res.recorded, undefined, 'nothing reached the upstream');
    t.is(res.headers['x-pai-deny-reason'], row.code);
    t.is(res.headers['content-type'], 'application/json');
    t.is((JSON.parse(res.body.toString('utf8')) as { error: { code: string } }).error.code, row.code);
    assertNoValues(t, res.body.toString('latin1') + JSON.stringify(res.headers));
  });
}

test('deny: duplicate Host is refused by the proxy before any Check (RFC 9112 §3.2)', async (t) => {
  const res = await send(t, 'bot', { host: HOSTS.github, headers: [['Host', 'evil.example.net']] });
  t.is(res.status, 400);
  t.is(res.recorded, undefined);
});

test('deny: injector unreachable → fail closed (status_on_error 403), nothing forwarded', async (t) => {
  const client = authClient(`unix:${t.context.stack.dataDir}/no-such-injector.sock`);
  const filter = new ExtAuthzFilter({ client, contextExtensions: { 'pai.agent': 'bot' }, timeoutMs: 500 });
  const sidecar = await startSidecar({ filter, upstreamPort: t.context.upstream.port });
  t.teardown(async () => {
    client.close();
    await sidecar.close();
  });
  const tag = randomUUID();
  const res = await agentRequest(sidecar.port, { host: HOSTS.github, headers: [['x-test-id', tag]] });
  t.is(res.status, 403);
  t.is(res.body.length, 0);
  t.false(t.context.upstream.requests.some((q) => headerValues(q.headers, 'x-test-id')[0] === tag));
});

// ---------------------------------------------------------------------------------------------
// Injected: exactly the expected credential, once; the agent's own copies gone; the rest intact.

interface InjectRow {
  readonly name: string;
  readonly host: string;
  readonly header: string;
  readonly value: (v: FixtureValues) => string;
  /** The fixture values the header is made of. */
  readonly uses: (v: FixtureValues) => string[];
}

const injections: InjectRow[] = [
  { name: 'openai', host: HOSTS.openai, header: 'authorization', value: (v) => `Bearer ${v.openai}`, uses: (v) => [v.openai] },
  {
    name: 'openai-compatible',
    host: HOSTS.compat,
    header: 'authorization',
    value: (v) => `Bearer ${v.compat}`,
    uses: (v) => [v.compat],
  },
  { name: 'anthropic', host: HOSTS.anthropic, header: 'x-api-key', value: (v) => v.anthropic, uses: (v) => [v.anthropic] },
  { name: 'gemini', host: HOSTS.gemini, header: 'x-goog-api-key', value: (v) => v.gemini, uses: (v) => [v.gemini] },
  { name: 'azure-openai', host: HOSTS.azure, header: 'api-key', value: (v) => v.azure, uses: (v) => [v.azure] },
  { name: 'github', host: HOSTS.github, header: 'authorization', value: (v) => `Bearer ${v.github}`, uses: (v) => [v.github] },
  {
    name: 'github, spoofed case/dot/port',
    host: 'API.GitHub.com.:443',
    header: 'authorization',
    value: (v) => `Bearer ${v.github}`,
    uses: (v) => [v.github],
  },
  {
    name: 'http default header',
    host: HOSTS.bearer,
    header: 'authorization',
    value: (v) => `Bearer ${v.bearer}`,
    uses: (v) => [v.bearer],
  },
  {
    name: 'http custom header',
    host: HOSTS.custom,
    header: 'x-custom-token',
    value: (v) => `Token ${v.custom}`,
    uses: (v) => [v.custom],
  },
  {
    name: 'http basic',
    host: HOSTS.basic,
    header: 'authorization',
    value: (v) => `Basic ${Buffer.from(`${v.username}:${v.password}`).toString('base64')}`,
    uses: (v) => [v.username, v.password],
  },
  { name: 'IPv4 host', host: HOSTS.ip, header: 'authorization', value: (v) => `Bearer ${v.ip}`, uses: (v) => [v.ip] },
  {
    name: 'wildcard host',
    host: `x.${HOSTS.wildSuffix}`,
    header: 'authorization',
    value: (v) => `Bearer ${v.wild}`,
    uses: (v) => [v.wild],
  },
];

for (const row of injections) {
  test(`inject: ${row.name}`, async (t) => {
    const v = t.context.fx.values;
    const body = JSON.stringify({ prompt: 'hello', n: 1 });
    const res = await send(t, 'bot', {
      method: 'POST',
      path: '/v1/x?stream=true',
      host: row.host,
      headers: [...OWN, ['content-type', 'application/json']],
      body,
    });
    t.is(res.status, 200);
    const r = res.recorded;
    if (!r) return t.fail('the request did not reach the upstream');
    t.deepEqual(headerValues(r.headers, row.header), [row.value(v)], 'exactly the injected credential');
    for (const name of CREDENTIAL_HEADERS.filter((h) => h !== row.header))
      t.deepEqual(headerValues(r.headers, name), [], `no ${name}`);
    t.false(recordedText(r).includes('agent-own'), 'none of the agent’s own credentials');
    t.deepEqual(headerValues(r.headers, 'host'), [row.host], 'the original authority is kept');
    t.is(r.method, 'POST');
    t.is(r.path, '/v1/x?stream=true');
    t.is(r.body.toString('utf8'), body);
    assertNoValues(t, recordedText(r), row.uses(v));
    assertNoValues(t, res.body.toString('latin1'));
  });
}

test('inject: query parameter lands once, encoded, replacing every spelling the agent sent', async (t) => {
  const v = t.context.fx.values;
  const res = await send(t, 'bot', { host: HOSTS.query, path: '/v1/items?q=a+b&KEY=own1&key=own2&k%65y=own3' });
  const r = res.recorded;
  if (!r) return t.fail('the request did not reach the upstream');
  const params = new URL(r.path, 'http://upstream').searchParams;
  const spellings = [...params.keys()].filter((k) => k.toLowerCase() === 'key');
  t.deepEqual(spellings, ['key'], 'one key parameter');
  t.deepEqual(params.getAll('key'), [v.query], 'the secret value, decoded back exactly');
  t.deepEqual(params.getAll('q'), ['a b'], 'other parameters intact');
  t.false(r.path.includes('own'));
});

// ---------------------------------------------------------------------------------------------
// Passed through without a credential.

const passes: { name: string; agent: string; host: string }[] = [
  { name: 'unmatched host', agent: 'bot', host: HOSTS.unmatched },
  { name: 'suffix lookalike', agent: 'bot', host: `${HOSTS.github}.evil.net` },
  { name: 'prefix lookalike', agent: 'bot', host: `evil${HOSTS.github}` },
  { name: 'wildcard apex', agent: 'bot', host: HOSTS.wildSuffix },
  { name: 'unbound agent', agent: 'lonely-bot', host: HOSTS.github },
];

for (const row of passes) {
  test(`pass: ${row.name} gets no credential`, async (t) => {
    const res = await send(t, row.agent, { host: row.host, path: '/p', headers: [['x-forwarded-host', HOSTS.github]] });
    t.is(res.status, 200);
    const r = res.recorded;
    if (!r) return t.fail('the request did not reach the upstream');
    for (const name of [...CREDENTIAL_HEADERS, 'x-custom-token']) t.deepEqual(headerValues(r.headers, name), [], `no ${name}`);
    t.deepEqual(headerValues(r.headers, 'host'), [row.host]);
    assertNoValues(t, recordedText(r));
  });
}

test('pass: the agent’s own headers go on unchanged to an unmatched host', async (t) => {
  const res = await send(t, 'bot', { host: HOSTS.unmatched, headers: OWN });
  const r = res.recorded;
  if (!r) return t.fail('the request did not reach the upstream');
  t.deepEqual(headerValues(r.headers, 'authorization'), ['Bearer agent-own']);
  t.deepEqual(headerValues(r.headers, 'x-api-key'), ['agent-own']);
  assertNoValues(t, recordedText(r));
});

// ---------------------------------------------------------------------------------------------
// Rotation.

/** The credential the upstream saw for one request through `sidecarPort` to `host`. */
async function seenCredential(sidecarPort: number, upstream: UpstreamRecorder, host: string): Promise<string | undefined> {
  const tag = randomUUID();
  const res = await agentRequest(sidecarPort, { host, headers: [['x-test-id', tag]] });
  if (res.status !== 200) throw new Error(`request to ${host} answered ${res.status}: ${res.body.toString('utf8')}`);
  const r = upstream.requests.find((q) => headerValues(q.headers, 'x-test-id')[0] === tag);
  return r === undefined ? undefined : headerValues(r.headers, 'authorization')[0];
}

test('rotation, same process: the next request carries the new value', async (t) => {
  const { stack, upstream } = t.context;
  const host = 'rotate-same.example.com';
  await stack.admin.createSecret('rotating', { token: 'v0-initial' });
  await stack.admin.apply(
    resource('Provider', 'rotating-api', { type: 'http', hosts: [host], auth: { secretRef: 'rotating' } }),
    resource('Agent', 'rotor', { providers: ['rotating-api'] }),
  );
  const filter = new ExtAuthzFilter({ client: stack.client, contextExtensions: { 'pai.agent': 'rotor' } });
  const sidecar = await startSidecar({ filter, upstreamPort: upstream.port });
  t.teardown(() => sidecar.close());
  t.is(await seenCredential(sidecar.port, upstream, host), 'Bearer v0-initial');
  t.is(await seenCredential(sidecar.port, upstream, host), 'Bearer v0-initial', 'served from the warm cache');
  for (let i = 1; i <= 3; i++) {
    await stack.admin.replaceSecret('rotating', { token: `v${i}-rotated` });
    t.is(await seenCredential(sidecar.port, upstream, host), `Bearer v${i}-rotated`, `rotation ${i} seen at once`);
  }
});

test('rotation, two processes: the injector sees the new value within the TTL, and never the old one after it', async (t) => {
  const TTL_MS = 1000;
  // A store read that started before the write can fill the cache with the old value just after it.
  const SLACK_MS = 300;
  const admin = await startServe({ args: ['--role', 'admin'] });
  t.teardown(() => admin.stop());
  const injector = await startServe({ dataDir: admin.dataDir, args: ['--role', 'injector'], env: { PAI_CACHE_TTL: '1s' } });
  t.teardown(() => injector.stop());
  const socket = injector.injectorAddress();
  const api = new Admin(admin.adminUrl, adminToken(admin.dataDir));
  const host = 'rotate-two.example.com';
  const [oldValue, newValue] = [makeCanary('old'), makeCanary('new')];
  await api.createSecret('rotating', { token: oldValue });
  await api.apply(
    resource('Provider', 'rotating-api', { type: 'http', hosts: [host], auth: { secretRef: 'rotating' } }),
    resource('Agent', 'rotor', { providers: ['rotating-api'] }),
  );

  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const client = authClient(socket);
  t.teardown(() => client.close());
  const sidecar = await startSidecar({
    filter: new ExtAuthzFilter({ client, contextExtensions: { 'pai.agent': 'rotor' } }),
    upstreamPort: upstream.port,
  });
  t.teardown(() => sidecar.close());

  t.is(await seenCredential(sidecar.port, upstream, host), `Bearer ${oldValue}`, 'the first value, now cached in the injector');
  const written = Date.now();
  await api.replaceSecret('rotating', { token: newValue });

  // Poll until the new value shows, then keep polling through a second TTL: once past TTL + slack,
  // every request must carry the new value.
  let firstNew: number | undefined;
  const lateOld: number[] = [];
  while (Date.now() - written < 2 * TTL_MS + SLACK_MS) {
    const seen = await seenCredential(sidecar.port, upstream, host);
    const at = Date.now() - written;
    if (seen === `Bearer ${newValue}`) firstNew ??= at;
    else if (seen === `Bearer ${oldValue}`) {
      if (at > TTL_MS + SLACK_MS) lateOld.push(at);
    } else t.fail(`unexpected credential ${String(seen)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.not(firstNew, undefined, 'the new value arrived');
  t.true((firstNew ?? Infinity) <= TTL_MS + SLACK_MS, `new value seen after ${String(firstNew)} ms (TTL ${TTL_MS} ms)`);
  t.deepEqual(lateOld, [], 'never the old value after the TTL');
  // The injector's debug log names secrets and hosts, never a value.
  t.deepEqual(findCanary(injector.stderr(), oldValue), []);
  t.deepEqual(findCanary(injector.stderr(), newValue), []);
});
