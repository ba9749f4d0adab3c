/** referencesOf, ReferenceIndex and checkReferences. Failure (broken) cases first. */
import test from 'ava';
import { checkReferences, ReferenceIndex, referencesOf, type ReferenceSnapshot } from '../src/resources/references.js';
import type { Resource } from '../src/resources/types.js';
import { agent, mp, provider } from './helpers/typed-resources.js';

const gemini = mp('gemini', { provider: 'gemini', apiKeySecretRef: { name: 'gemini-key', key: 'api-key' } });
const bedrock = mp('bedrock', { provider: 'bedrock', apiKeySecretRef: { name: 'aws' } });
const github = provider('github', { type: 'github', auth: { secretRef: 'github-pat' } });
const basic = provider('intranet', {
  type: 'http-token',
  hosts: ['intranet.example.com'],
  auth: { secretRef: 'intranet', scheme: 'basic' },
});
const awsApi = provider('aws', { type: 'aws', auth: { secretRef: 'aws' } });
const gcp = provider('gcp', { type: 'gcp', auth: { secretRef: 'sa' } });
const bot = agent('triage-bot', {
  modelProviders: ['gemini'],
  providers: ['github'],
  env: [
    { name: 'SLACK_WEBHOOK', secretRef: { name: 'slack', key: 'webhook-url' } },
    { name: 'SLACK_TOKEN', secretRef: { name: 'slack', key: 'token' } },
    { name: 'PAT', secretRef: { name: 'github-pat', key: 'token' } },
  ],
});
const all: Resource[] = [bot, gcp, awsApi, basic, github, bedrock, gemini];

/** A snapshot over a literal world. */
function snapshot(secrets: Record<string, string[]>, providers: string[] = [], modelProviders: string[] = []): ReferenceSnapshot {
  return {
    secretKeys: (name) => secrets[name],
    hasProvider: (name) => providers.includes(name),
    hasModelProvider: (name) => modelProviders.includes(name),
  };
}

// --- checkReferences: broken ----------------------------------------------------------------------

const broken: [string, Resource, ReferenceSnapshot, { field: string; message: RegExp }[]][] = [
  [
    'ModelProvider, secret missing',
    gemini,
    snapshot({}),
    [{ field: 'spec.apiKeySecretRef.name', message: /^secret "gemini-key" does not exist$/ }],
  ],
  [
    'ModelProvider, key missing',
    gemini,
    snapshot({ 'gemini-key': ['apikey'] }),
    [
      {
        field: 'spec.apiKeySecretRef.key',
        message: /^secret "gemini-key" is missing key "api-key" \(provider gemini needs "api-key"\)$/,
      },
    ],
  ],
  [
    'bedrock, one AWS key missing',
    bedrock,
    snapshot({ aws: ['access_key_id', 'session_token'] }),
    [
      {
        field: 'spec.apiKeySecretRef.name',
        message: /missing key "secret_access_key" \(provider bedrock needs "access_key_id", "secret_access_key"\)/,
      },
    ],
  ],
  [
    'Provider, secret missing',
    github,
    snapshot({}),
    [{ field: 'spec.auth.secretRef', message: /^secret "github-pat" does not exist$/ }],
  ],
  [
    'Provider, default key missing',
    github,
    snapshot({ 'github-pat': ['pat'] }),
    [
      {
        field: 'spec.auth.secretKey',
        message: /missing key "token" \(type github needs "token", the default of spec\.auth\.secretKey\)/,
      },
    ],
  ],
  [
    'http basic, password missing',
    basic,
    snapshot({ intranet: ['username', 'token'] }),
    [
      {
        field: 'spec.auth.secretRef',
        message: /missing key "password" \(type http-token with scheme basic needs "username", "password"\)/,
      },
    ],
  ],
  [
    'aws, both keys missing',
    awsApi,
    snapshot({ aws: ['session_token'] }),
    [{ field: 'spec.auth.secretRef', message: /missing keys "access_key_id", "secret_access_key"/ }],
  ],
  [
    'gcp, key.json missing',
    gcp,
    snapshot({ sa: ['token'] }),
    [{ field: 'spec.auth.secretKey', message: /missing key "key\.json"/ }],
  ],
  [
    'Agent, everything missing',
    bot,
    snapshot({}),
    [
      { field: 'spec.modelProviders[0]', message: /^ModelProvider "gemini" does not exist$/ },
      { field: 'spec.providers[0]', message: /^Provider "github" does not exist$/ },
      { field: 'spec.env[0].secretRef.name', message: /^secret "slack" does not exist$/ },
      { field: 'spec.env[1].secretRef.name', message: /^secret "slack" does not exist$/ },
      { field: 'spec.env[2].secretRef.name', message: /^secret "github-pat" does not exist$/ },
    ],
  ],
  [
    'Agent, one env key missing',
    bot,
    snapshot({ slack: ['token'], 'github-pat': ['token'] }, ['github'], ['gemini']),
    [
      {
        field: 'spec.env[0].secretRef.key',
        message: /^secret "slack" is missing key "webhook-url" \(env SLACK_WEBHOOK needs "webhook-url"\)$/,
      },
    ],
  ],
];
for (const [title, resource, world, expected] of broken) {
  test(`checkReferences: ${title}`, (t) => {
    const found = checkReferences(resource, world);
    t.deepEqual(
      found.map((b) => [b.kind, b.name, b.field]),
      expected.map((e) => [resource.kind, resource.metadata.name, e.field]),
    );
    found.forEach((b, i) => t.regex(b.message, expected[i]?.message ?? /^$/));
  });
}

test('checkReferences: nothing broken when everything exists (extra keys are fine)', (t) => {
  const world = snapshot(
    {
      'gemini-key': ['api-key', 'other'],
      aws: ['access_key_id', 'secret_access_key'],
      'github-pat': ['token'],
      intranet: ['username', 'password'],
      sa: ['key.json'],
      slack: ['webhook-url', 'token'],
    },
    ['github'],
    ['gemini'],
  );
  for (const resource of all) t.deepEqual(checkReferences(resource, world), [], resource.metadata.name);
});

// --- referencesOf ---------------------------------------------------------------------------------

test('referencesOf: one reference per secret, with the keys it needs', (t) => {
  t.deepEqual(referencesOf(gemini), [
    { kind: 'ModelProvider', name: 'gemini', via: 'apiKeySecretRef', secret: 'gemini-key', keys: ['api-key'] },
  ]);
  t.deepEqual(referencesOf(bedrock), [
    {
      kind: 'ModelProvider',
      name: 'bedrock',
      via: 'apiKeySecretRef',
      secret: 'aws',
      keys: ['access_key_id', 'secret_access_key'],
    },
  ]);
  t.deepEqual(referencesOf(basic), [
    { kind: 'Provider', name: 'intranet', via: 'auth.secretRef', secret: 'intranet', keys: ['username', 'password'] },
  ]);
  t.deepEqual(referencesOf(gcp), [{ kind: 'Provider', name: 'gcp', via: 'auth.secretRef', secret: 'sa', keys: ['key.json'] }]);
  t.deepEqual(referencesOf(bot), [
    { kind: 'Agent', name: 'triage-bot', via: 'env[].secretRef', secret: 'slack', keys: ['token', 'webhook-url'] },
    { kind: 'Agent', name: 'triage-bot', via: 'env[].secretRef', secret: 'github-pat', keys: ['token'] },
  ]);
  t.deepEqual(referencesOf(agent('idle', {})), []);
});

test('referencesOf never throws on an unusable stored resource', (t) => {
  const noHosts = provider('broken', { type: 'http-token', auth: { secretRef: 's', param: 'key' } });
  t.deepEqual(referencesOf(noHosts), [{ kind: 'Provider', name: 'broken', via: 'auth.secretRef', secret: 's', keys: ['token'] }]);
});

// --- ReferenceIndex -------------------------------------------------------------------------------

const index = new ReferenceIndex(all);

test('ReferenceIndex.referrers: every reference to a secret, ModelProviders, Providers, then Agents', (t) => {
  t.deepEqual(
    index.referrers('aws').map((r) => `${r.kind}/${r.name}`),
    ['ModelProvider/bedrock', 'Provider/aws'],
  );
  t.deepEqual(
    index.referrers('github-pat').map((r) => `${r.kind}/${r.name}:${r.via}`),
    ['Provider/github:auth.secretRef', 'Agent/triage-bot:env[].secretRef'],
  );
  t.deepEqual(index.referrers('nobody-uses-this'), []);
  t.deepEqual(index.referencedBy('github-pat'), [
    { kind: 'Provider', name: 'github' },
    { kind: 'Agent', name: 'triage-bot' },
  ]);
});

test('ReferenceIndex.brokenBy: deleting a secret breaks every referrer', (t) => {
  t.deepEqual(
    index.brokenBy('github-pat', undefined).map((r) => r.name),
    ['github', 'triage-bot'],
  );
  t.deepEqual(index.brokenBy('github-pat'), index.referrers('github-pat'));
  t.deepEqual(index.brokenBy('unused', undefined), []);
});

test('ReferenceIndex.brokenBy: reducing keys breaks only the references needing a removed key', (t) => {
  t.deepEqual(
    index.brokenBy('aws', ['access_key_id']).map((r) => r.name),
    ['bedrock', 'aws'],
  );
  t.deepEqual(index.brokenBy('aws', ['access_key_id', 'secret_access_key']), [], 'session_token is optional');
  t.deepEqual(
    index.brokenBy('slack', ['token']).map((r) => `${r.name}:${r.keys.join(',')}`),
    ['triage-bot:token,webhook-url'],
  );
  t.deepEqual(index.brokenBy('slack', ['token', 'webhook-url', 'extra']), []);
  t.deepEqual(
    index.brokenBy('github-pat', []).map((r) => r.name),
    ['github', 'triage-bot'],
  );
});

test('ReferenceIndex: referrers returns a copy', (t) => {
  index.referrers('aws').pop();
  t.is(index.referrers('aws').length, 2);
});
