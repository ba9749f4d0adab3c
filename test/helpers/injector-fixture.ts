/**
 * The injector suites' shared fixture: one target of every kind of DESIGN §3 (each value a fresh
 * canary), four agents, and two targets broken on purpose, all set up through the admin API.
 */
import { resource, type Stack } from './injector.js';

/** The secret values a fixture was seeded with (each a fresh canary, so any leak is findable). */
export interface FixtureValues {
  readonly openai: string;
  readonly compat: string;
  readonly anthropic: string;
  readonly gemini: string;
  readonly azure: string;
  readonly github: string;
  readonly bearer: string;
  readonly custom: string;
  readonly username: string;
  readonly password: string;
  readonly query: string;
  readonly ip: string;
  readonly wild: string;
  readonly telegram: string;
  readonly awsKeyId: string;
  readonly awsSecret: string;
  readonly crlf: string;
  readonly lf: string;
  readonly nul: string;
  readonly doomed: string;
  readonly shrunk: string;
  /** The key of `shrunk` that remains after `token` is removed. */
  readonly shrunkOther: string;
}

/** Every host the fixture's targets cover (or deliberately do not). */
export const HOSTS = {
  openai: 'api.openai.com',
  compat: 'llm.compat.example',
  anthropic: 'api.anthropic.com',
  gemini: 'generativelanguage.googleapis.com',
  azure: 'pai-test.openai.azure.com',
  bedrock: 'bedrock-runtime.us-east-1.amazonaws.com',
  github: 'api.github.com',
  githubUploads: 'uploads.github.com',
  bearer: 'bearer.example.com',
  custom: 'custom.example.com',
  basic: 'basic.example.com',
  query: 'query.example.com',
  ip: '10.20.30.40',
  wildSuffix: 'wild.example.com',
  telegram: 'api.telegram.org',
  s3: 's3.us-east-1.amazonaws.com',
  crlf: 'crlf.example.com',
  lf: 'lf.example.com',
  nul: 'nul.example.com',
  doomed: 'doomed.example.com',
  shrunk: 'shrunk.example.com',
  unmatched: 'unmatched.example.org',
} as const;

export interface Fixture {
  readonly values: FixtureValues;
  /** Every value as text (the NUL one included), for leak searches. */
  readonly all: readonly string[];
}

const httpProvider = (name: string, hosts: string[], auth: Record<string, unknown>): Record<string, unknown> =>
  resource('Provider', name, { type: 'http', hosts, auth });

/**
 * Seeds the store of `stack` through its admin API with one target of every kind (DESIGN §3) and
 * four agents: `bot` (all but bedrock), `strict-bot` (github only, egress deny), `lonely-bot`
 * (nothing bound) and `bedrock-bot`. Then breaks two on purpose: secret `doomed` is force-deleted
 * (secret_missing) and key `token` of `shrunk` is removed behind the admin API's back (key_missing).
 * `canary` makes every value (see helpers/canary.ts).
 */
export async function seedFixture(stack: Stack, canary: (label: string) => string): Promise<Fixture> {
  const v: FixtureValues = {
    openai: canary('openai'),
    compat: canary('compat'),
    anthropic: canary('anthropic'),
    gemini: canary('gemini'),
    azure: canary('azure'),
    github: canary('github'),
    bearer: canary('bearer'),
    custom: canary('custom'),
    username: canary('user'),
    password: `${canary('pass')}:with colon`,
    // Characters a URL query must carry encoded.
    query: `${canary('query')}+/=&%`,
    ip: canary('ip'),
    wild: canary('wild'),
    telegram: `123456789:${canary('telegram').replace(/[^A-Za-z0-9_-]/g, '_')}`,
    awsKeyId: canary('akid'),
    awsSecret: canary('aws'),
    crlf: `${canary('crlf')}\r\nx-injected: 1`,
    lf: `${canary('lf')}\n`,
    nul: `${canary('nul')}\0tail`,
    doomed: canary('doomed'),
    shrunk: canary('shrunk'),
    shrunkOther: canary('shrunk-other'),
  };
  const a = stack.admin;
  const secrets: [string, Record<string, string | Buffer>][] = [
    ['openai-key', { 'api-key': v.openai }],
    ['compat-key', { 'api-key': v.compat }],
    ['anthropic-key', { 'api-key': v.anthropic }],
    ['gemini-key', { 'api-key': v.gemini }],
    ['azure-key', { 'api-key': v.azure }],
    ['github-pat', { token: v.github }],
    ['bearer-token', { token: v.bearer }],
    ['custom-token', { token: v.custom }],
    ['basic-creds', { username: v.username, password: v.password }],
    ['query-key', { token: v.query }],
    ['ip-token', { token: v.ip }],
    ['wild-token', { token: v.wild }],
    ['telegram-bot', { token: v.telegram }],
    ['aws-keys', { access_key_id: v.awsKeyId, secret_access_key: v.awsSecret }],
    ['crlf-value', { token: v.crlf }],
    ['lf-value', { token: v.lf }],
    ['nul-value', { token: Buffer.from(v.nul, 'latin1') }],
    ['doomed', { token: v.doomed }],
    ['shrunk', { token: v.shrunk, other: v.shrunkOther }],
  ];
  for (const [name, data] of secrets) await a.createSecret(name, data);
  const mp = (name: string, spec: Record<string, unknown>): Record<string, unknown> => resource('ModelProvider', name, spec);
  const modelProviders = [
    mp('openai', { type: 'openai', apiKeySecretRef: { name: 'openai-key', key: 'api-key' } }),
    mp('compat', {
      type: 'openai-compatible',
      baseUrl: `https://${HOSTS.compat}/v1`,
      apiKeySecretRef: { name: 'compat-key', key: 'api-key' },
    }),
    mp('anthropic', { type: 'anthropic', apiKeySecretRef: { name: 'anthropic-key', key: 'api-key' } }),
    mp('gemini', { type: 'gemini', apiKeySecretRef: { name: 'gemini-key', key: 'api-key' } }),
    mp('azure', {
      type: 'azure-openai',
      baseUrl: `https://${HOSTS.azure}`,
      apiKeySecretRef: { name: 'azure-key', key: 'api-key' },
    }),
    mp('bedrock', { type: 'bedrock', apiKeySecretRef: { name: 'aws-keys' } }),
  ];
  const providers = [
    resource('Provider', 'github', { type: 'github', auth: { secretRef: 'github-pat' } }),
    httpProvider('bearer-api', [HOSTS.bearer], { secretRef: 'bearer-token' }),
    httpProvider('custom-api', [HOSTS.custom], { secretRef: 'custom-token', header: 'X-Custom-Token', prefix: 'Token ' }),
    httpProvider('basic-api', [HOSTS.basic], { secretRef: 'basic-creds', scheme: 'basic' }),
    httpProvider('query-api', [HOSTS.query], { secretRef: 'query-key', scheme: 'query', param: 'key' }),
    httpProvider('ip-api', [HOSTS.ip], { secretRef: 'ip-token' }),
    httpProvider('wild-api', [`*.${HOSTS.wildSuffix}`], { secretRef: 'wild-token' }),
    resource('Provider', 'telegram', { type: 'telegram', auth: { secretRef: 'telegram-bot' } }),
    resource('Provider', 'aws', { type: 'aws', auth: { secretRef: 'aws-keys' } }),
    httpProvider('crlf-api', [HOSTS.crlf], { secretRef: 'crlf-value' }),
    httpProvider('lf-api', [HOSTS.lf], { secretRef: 'lf-value' }),
    httpProvider('nul-api', [HOSTS.nul], { secretRef: 'nul-value' }),
    httpProvider('doomed-api', [HOSTS.doomed], { secretRef: 'doomed' }),
    httpProvider('shrunk-api', [HOSTS.shrunk], { secretRef: 'shrunk' }),
  ];
  const name = (doc: Record<string, unknown>): string => (doc['metadata'] as { name: string }).name;
  await a.apply(...modelProviders, ...providers);
  await a.apply(
    resource('Agent', 'bot', {
      modelProviders: modelProviders.map(name).filter((n) => n !== 'bedrock'),
      providers: providers.map(name),
    }),
    resource('Agent', 'strict-bot', { providers: ['github'], egress: 'deny' }),
    resource('Agent', 'lonely-bot', {}),
    resource('Agent', 'bedrock-bot', { modelProviders: ['bedrock'] }),
  );
  await a.expect(200, 'DELETE', '/v1/secrets/doomed?force=true');
  // The admin API refuses to drop a key that a Provider needs; the store does not ask.
  await stack.running.store.patchSecret('default', 'shrunk', { set: new Map(), remove: ['token'] });
  return { values: v, all: Object.values(v) };
}

/** The Basic credential the `basic` provider's username and password keys make. */
export const basicOf = (v: FixtureValues): string => `Basic ${Buffer.from(`${v.username}:${v.password}`).toString('base64')}`;

/**
 * A request of a bound agent (`bot` unless named) that gets a header credential: the same decision
 * whether Envoy asks through ext_authz Check or ext_proc Process, so both suites run every row.
 */
export interface HeaderInjectionCase extends AgentRequestCase {
  readonly header: string;
  readonly value: (v: FixtureValues) => string;
}

/** A request, Check or Process alike: the agent (`bot` unless named), where it goes, and its headers. */
export interface AgentRequestCase {
  readonly name: string;
  readonly agent?: string;
  readonly authority: string;
  readonly method?: string;
  readonly path?: string;
  readonly scheme?: 'http' | 'https';
  readonly headers?: readonly (readonly [string, string])[];
}

const bearer =
  (key: keyof FixtureValues) =>
  (v: FixtureValues): string =>
    `Bearer ${v[key]}`;

export const HEADER_INJECTIONS: readonly HeaderInjectionCase[] = [
  {
    name: 'openai → Authorization Bearer',
    authority: HOSTS.openai,
    method: 'POST',
    path: '/v1/chat/completions',
    header: 'authorization',
    value: bearer('openai'),
  },
  {
    name: 'openai-compatible → Authorization Bearer',
    authority: HOSTS.compat,
    path: '/v1/models',
    header: 'authorization',
    value: bearer('compat'),
  },
  {
    name: 'anthropic → x-api-key',
    authority: HOSTS.anthropic,
    method: 'POST',
    path: '/v1/messages',
    header: 'x-api-key',
    value: (v) => v.anthropic,
  },
  { name: 'gemini → x-goog-api-key', authority: HOSTS.gemini, header: 'x-goog-api-key', value: (v) => v.gemini },
  { name: 'azure-openai → api-key', authority: HOSTS.azure, header: 'api-key', value: (v) => v.azure },
  {
    name: 'github → Authorization Bearer',
    authority: HOSTS.github,
    path: '/user',
    header: 'authorization',
    value: bearer('github'),
  },
  { name: 'github default second host', authority: HOSTS.githubUploads, header: 'authorization', value: bearer('github') },
  { name: 'http default → Authorization Bearer', authority: HOSTS.bearer, header: 'authorization', value: bearer('bearer') },
  {
    name: 'http configured header and prefix',
    authority: HOSTS.custom,
    header: 'x-custom-token',
    value: (v) => `Token ${v.custom}`,
  },
  { name: 'http basic (username/password keys)', authority: HOSTS.basic, header: 'authorization', value: basicOf },
  { name: 'host in upper case', authority: 'API.GitHub.COM', header: 'authorization', value: bearer('github') },
  { name: 'host with trailing dot', authority: `${HOSTS.github}.`, header: 'authorization', value: bearer('github') },
  {
    name: 'default https port',
    authority: `${HOSTS.github}:443`,
    scheme: 'https',
    header: 'authorization',
    value: bearer('github'),
  },
  {
    name: 'default http port',
    authority: `${HOSTS.github}:80`,
    scheme: 'http',
    header: 'authorization',
    value: bearer('github'),
  },
  {
    name: 'non-default port (ports take no part in matching)',
    authority: `${HOSTS.github}:8443`,
    header: 'authorization',
    value: bearer('github'),
  },
  {
    name: 'upper case, trailing dot and port together',
    authority: 'API.GITHUB.COM.:443',
    header: 'authorization',
    value: bearer('github'),
  },
  { name: 'IPv4 literal host', authority: HOSTS.ip, header: 'authorization', value: bearer('ip') },
  { name: 'IPv4 literal host with a port', authority: `${HOSTS.ip}:8080`, header: 'authorization', value: bearer('ip') },
  { name: 'wildcard one label down', authority: `a.${HOSTS.wildSuffix}`, header: 'authorization', value: bearer('wild') },
  { name: 'wildcard two labels down', authority: `a.b.${HOSTS.wildSuffix}`, header: 'authorization', value: bearer('wild') },
  {
    name: 'egress deny still injects a matched host',
    agent: 'strict-bot',
    authority: HOSTS.github,
    header: 'authorization',
    value: bearer('github'),
  },
];

/**
 * Requests that must pass with no credential and unchanged, through Check and Process alike: host
 * lookalikes, hosts no provider covers, forwarding headers naming a matched host, unbound agents.
 */
export const PASSING_REQUESTS: readonly AgentRequestCase[] = [
  { name: 'suffix lookalike api.github.com.evil.net', authority: `${HOSTS.github}.evil.net` },
  { name: 'prefix lookalike evilapi.github.com', authority: `evil${HOSTS.github}` },
  { name: 'dash lookalike api-github.com', authority: 'api-github.com' },
  { name: 'other TLD api.github.co', authority: 'api.github.co' },
  { name: 'wildcard *.x never matches x itself', authority: HOSTS.wildSuffix },
  { name: 'wildcard prefix lookalike', authority: `a${HOSTS.wildSuffix}` },
  { name: 'wildcard suffix lookalike', authority: `a.${HOSTS.wildSuffix}.evil.net` },
  { name: 'neighbouring IPv4', authority: '10.20.30.4' },
  { name: 'IPv4-mapped IPv6 of a matched IPv4', authority: '[::ffff:10.20.30.40]' },
  { name: 'IPv6 loopback', authority: '[::1]' },
  {
    name: 'unmatched host with forwarding headers naming a matched one',
    authority: HOSTS.unmatched,
    headers: [
      ['x-forwarded-host', HOSTS.github],
      ['x-original-host', HOSTS.github],
      ['x-envoy-original-host', HOSTS.github],
      ['forwarded', `host=${HOSTS.github}`],
    ],
  },
  { name: 'agent not bound to the provider', agent: 'lonely-bot', authority: HOSTS.github },
  { name: 'TRACE to a host no provider covers (nothing to leak)', authority: HOSTS.unmatched, method: 'TRACE' },
  { name: 'TRACE of an unbound agent', agent: 'lonely-bot', authority: HOSTS.github, method: 'TRACE' },
  {
    name: 'unbound agent claiming another identity in a header',
    agent: 'lonely-bot',
    authority: HOSTS.github,
    headers: [['x-pai-agent', 'bot']],
  },
];

/** Authorities the injector refuses as `bad_host` (400), through Check and Process alike; `message` is matched against the reason. */
export const BAD_AUTHORITIES: readonly { readonly name: string; readonly authority: string; readonly message?: RegExp }[] = [
  { name: 'userinfo', authority: `user@${HOSTS.github}`, message: /userinfo/ },
  { name: 'userinfo with password', authority: `user:pass@${HOSTS.github}`, message: /userinfo/ },
  { name: 'matched host as userinfo', authority: `${HOSTS.github}@evil.net`, message: /userinfo/ },
  { name: 'duplicate Host joined by Envoy', authority: `${HOSTS.github},evil.net` },
  { name: 'empty authority', authority: '', message: /empty/ },
  { name: 'two trailing dots', authority: `${HOSTS.github}..`, message: /empty label/ },
  { name: 'percent-encoded dot', authority: 'api%2egithub.com', message: /percent/ },
  { name: 'trailing space', authority: `${HOSTS.github} `, message: /whitespace/ },
  { name: 'non-ASCII lookalike', authority: 'аpi.github.com', message: /non-ASCII/ },
  { name: 'port not a number', authority: `${HOSTS.github}:abc`, message: /port/ },
  { name: 'port zero', authority: `${HOSTS.github}:0`, message: /port/ },
  { name: 'port out of range', authority: `${HOSTS.github}:65536`, message: /port/ },
  { name: 'port with leading zero', authority: `${HOSTS.github}:0443`, message: /leading zero/ },
  { name: 'empty port', authority: `${HOSTS.github}:`, message: /empty port/ },
  { name: 'two ports', authority: `${HOSTS.github}:443:443`, message: /more than one/ },
  { name: 'IPv4 with leading zero', authority: '010.20.30.40', message: /canonical/ },
  { name: 'IPv4 octet with leading zero', authority: '10.20.30.040', message: /canonical/ },
  { name: 'IPv4 in hex', authority: '0x0a.20.30.40', message: /canonical/ },
  { name: 'IPv4 as one number', authority: '169090600', message: /dotted-quad/ },
  { name: 'IPv4 with three parts', authority: '10.20.7720', message: /dotted-quad/ },
  { name: 'IPv4 out of range', authority: '10.20.30.256', message: /range/ },
  { name: 'IPv6 with a zone', authority: '[fe80::1%25eth0]', message: /zone/ },
  { name: 'unterminated IPv6', authority: '[::1', message: /unterminated/ },
];

/**
 * Requests to injected hosts with a method that never gets a credential (issue 16, item 7): TRACE
 * echoes the request back, CONNECT opens a tunnel. Refused `method_not_allowed` (405) through Check
 * and Process alike, for every kind of target (header, path, query, SigV4), whatever the letter case.
 */
export const REFUSED_METHODS: readonly (AgentRequestCase & { readonly message: RegExp })[] = [
  {
    name: 'TRACE to a header-credential host',
    authority: HOSTS.github,
    method: 'TRACE',
    message: /^TRACE requests get no credential/,
  },
  { name: 'trace in lower case', authority: HOSTS.github, method: 'trace', message: /^TRACE requests/ },
  { name: 'Trace in mixed case', authority: HOSTS.openai, method: 'Trace', message: /ModelProvider "openai"/ },
  {
    name: 'CONNECT to a header-credential host',
    authority: `${HOSTS.github}:443`,
    method: 'CONNECT',
    message: /^CONNECT requests get no credential.*Provider "github"/,
  },
  { name: 'TRACE to a query-credential host', authority: HOSTS.query, method: 'TRACE', message: /Provider "query-api"/ },
  { name: 'TRACE to a Basic-credential host', authority: HOSTS.basic, method: 'TRACE', message: /Provider "basic-api"/ },
  { name: 'TRACE to a SigV4 host', authority: HOSTS.s3, method: 'TRACE', path: '/bucket/key', message: /Provider "aws"/ },
  { name: 'CONNECT to a path-credential host', authority: HOSTS.telegram, method: 'CONNECT', message: /Provider "telegram"/ },
];

/** The request fields of a case (agent defaulted to `bot`), for either protocol's request builder. */
export function caseRequest(c: AgentRequestCase): Omit<AgentRequestCase, 'name'> & { agent: string } {
  return {
    agent: c.agent ?? 'bot',
    authority: c.authority,
    ...(c.method === undefined ? {} : { method: c.method }),
    ...(c.path === undefined ? {} : { path: c.path }),
    ...(c.scheme === undefined ? {} : { scheme: c.scheme }),
    ...(c.headers === undefined ? {} : { headers: c.headers }),
  };
}
