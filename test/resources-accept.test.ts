/** parseResource on valid documents (every type and option), and canonicalJson. */
import test from 'ava';
import { PaiError } from '../src/errors.js';
import { resourceDocument } from '../src/resources/document.js';
import { canonicalJson, parseResource } from '../src/resources/validate.js';

type Doc = Record<string, unknown>;
const meta = { name: 'x' };
const doc =
  (apiVersion: string, kind: string) =>
  (spec: Doc): Doc => ({ apiVersion, kind, metadata: meta, spec });
// The earlier dialect, and Pai's form (the primary one).
const mp = doc('pai/v1', 'ModelProvider');
const provider = doc('pai/v1', 'Provider');
const agent = doc('pai/v1', 'Agent');
const paiMp = doc('pai.io/v1', 'ModelProvider');
const paiProvider = doc('pai.io/v1', 'Provider');
const paiAgent = doc('pai.io/v1', 'Agent');
const key = { name: 'llm-key', key: 'api-key' };

/** Documents of the earlier dialect and the Pai form each reads as (what is stored and printed). */
const legacy: [string, Doc, Doc][] = [
  ['openai', mp({ type: 'openai', apiKeySecretRef: key }), paiMp({ provider: 'openai', apiKeySecretRef: key })],
  ['anthropic', mp({ type: 'anthropic', apiKeySecretRef: key }), paiMp({ provider: 'anthropic', apiKeySecretRef: key })],
  [
    'gemini with baseUrl',
    mp({ type: 'gemini', baseUrl: 'https://generativelanguage.googleapis.com', apiKeySecretRef: key }),
    paiMp({ provider: 'gemini', endpoint: 'https://generativelanguage.googleapis.com', apiKeySecretRef: key }),
  ],
  [
    'openai-compatible on localhost (openai with its endpoint)',
    mp({ type: 'openai-compatible', baseUrl: 'http://localhost:11434/v1', apiKeySecretRef: key }),
    paiMp({ provider: 'openai', endpoint: 'http://localhost:11434/v1', apiKeySecretRef: key }),
  ],
  [
    'bedrock in a region',
    mp({ type: 'bedrock', region: 'us-gov-west-1', apiKeySecretRef: { name: 'aws' } }),
    paiMp({ provider: 'bedrock', region: 'us-gov-west-1', apiKeySecretRef: { name: 'aws' } }),
  ],
  [
    'github enterprise (one host)',
    provider({ type: 'github', hosts: ['github.example.com'], auth: { secretRef: 'pat' } }),
    paiProvider({ type: 'github', host: 'github.example.com', auth: { secretRef: 'pat' } }),
  ],
  [
    'http header on several hosts (the hosts extension)',
    provider({
      type: 'http',
      hosts: ['api.example.com', '*.example.net'],
      auth: { secretRef: 's', header: 'X-Api-Token', prefix: '' },
    }),
    paiProvider({
      type: 'http-token',
      hosts: ['api.example.com', '*.example.net'],
      auth: { secretRef: 's', header: 'X-Api-Token', prefix: '' },
    }),
  ],
  [
    'http custom header without a prefix (Pai defaults to "Bearer ": the empty one is written out)',
    provider({ type: 'http', hosts: ['a.example.com'], auth: { secretRef: 's', header: 'X-Key' } }),
    paiProvider({ type: 'http-token', host: 'a.example.com', auth: { secretRef: 's', header: 'X-Key', prefix: '' } }),
  ],
  [
    'http basic (kept as the scheme extension)',
    provider({ type: 'http', hosts: ['xn--bcher-kva.example'], auth: { secretRef: 's', scheme: 'basic' } }),
    paiProvider({ type: 'http-token', host: 'xn--bcher-kva.example', auth: { secretRef: 's', scheme: 'basic' } }),
  ],
  [
    'http query (param)',
    provider({
      type: 'http',
      hosts: ['maps.example.com'],
      auth: { secretRef: 's', scheme: 'query', param: 'api_key', secretKey: 'k' },
    }),
    paiProvider({ type: 'http-token', host: 'maps.example.com', auth: { secretRef: 's', secretKey: 'k', param: 'api_key' } }),
  ],
  [
    'aws in China',
    provider({ type: 'aws', hosts: ['*.amazonaws.com.cn'], auth: { secretRef: 'aws' } }),
    paiProvider({ type: 'aws', host: '*.amazonaws.com.cn', auth: { secretRef: 'aws' } }),
  ],
  [
    'azure with scope and tokenUrl (extensions)',
    provider({
      type: 'azure',
      auth: { secretRef: 'sp', scope: 'https://graph.microsoft.com/.default', tokenUrl: 'https://login.microsoftonline.us' },
    }),
    paiProvider({
      type: 'azure',
      auth: { secretRef: 'sp', scope: 'https://graph.microsoft.com/.default', tokenUrl: 'https://login.microsoftonline.us' },
    }),
  ],
  [
    'agent, everything',
    agent({ modelProviders: ['gemini'], providers: ['github', 'slack'], env: [{ name: 'A_1', secretRef: key }], egress: 'deny' }),
    paiAgent({
      modelProviders: ['gemini'],
      providers: ['github', 'slack'],
      env: [{ name: 'A_1', secretRef: key }],
      egress: 'deny',
    }),
  ],
  ['agent, nothing', agent({}), paiAgent({})],
];

for (const [title, old, pai] of legacy) {
  test(`reads the earlier dialect: ${title}`, (t) => {
    t.deepEqual(resourceDocument(parseResource(old, 'test')), pai);
    t.deepEqual(resourceDocument(parseResource(pai, 'test')), pai, "Pai's form reads back unchanged");
  });
}

/** Pai's form, every type and option: each reads back unchanged (no defaults filled in). */
const valid: [string, Doc][] = [
  [
    'azure-openai with apiVersion',
    paiMp({
      provider: 'azure-openai',
      endpoint: 'https://my-res.openai.azure.com/openai',
      apiVersion: '2024-10-21',
      apiKeySecretRef: key,
    }),
  ],
  ['openai-compatible on [::1]', paiMp({ provider: 'openai', endpoint: 'http://[::1]:8000', apiKeySecretRef: key })],
  ['openai on an IPv4', paiMp({ provider: 'openai', endpoint: 'https://10.0.0.7:8443/v1', apiKeySecretRef: key })],
  ['openrouter', paiMp({ provider: 'openrouter', apiKeySecretRef: key, allowedModels: ['a/b'], maxTokensPerDay: 5000000 })],
  [
    'vllm without a key, in the cluster',
    paiMp({ provider: 'vllm', endpoint: 'http://vllm.vllm-system.svc.cluster.local:8000/v1' }),
  ],
  [
    'a ModelProvider with the gateway fields',
    paiMp({
      provider: 'anthropic',
      apiKeySecretRef: key,
      deniedModels: ['x'],
      maxTokensPerRequest: 200000,
      retry: { maxAttempts: 3, initialBackoffMs: 200 },
      fallbacks: ['anthropic/claude-haiku-4-5'],
      guards: [{ binding: 'g', scan: { prompts: true }, enforcement: 'enforce' }],
      externalAccess: { enabled: false },
    }),
  ],
  [
    'github with policy and scope',
    paiProvider({
      type: 'github',
      auth: { type: 'pat', secretRef: 'github-pat' },
      policy: { allow: ['pulls:create'], deny: ['admin:*', 'repo:delete'] },
      scope: { repositories: ['myorg/my-repo'] },
    }),
  ],
  [
    'telegram with agentEnvVar',
    paiProvider({
      type: 'telegram',
      host: 'api.telegram.org',
      auth: { type: 'bot-token', secretRef: 'bot', secretKey: 'token', agentEnvVar: 'TELEGRAM_BOT_TOKEN' },
      audit: { logRequests: true },
    }),
  ],
  [
    'slack with channels',
    paiProvider({ type: 'slack', auth: { type: 'bot-token', secretRef: 'slack' }, scope: { channels: ['C01'] } }),
  ],
  [
    'aws with region and services',
    paiProvider({
      type: 'aws',
      auth: { type: 'aws-sigv4', secretRef: 'aws' },
      config: { region: 'us-east-1', services: ['s3', 'sqs'] },
      policy: { allow: ['s3:GetObject'], deny: ['s3:*'] },
      scope: { resources: ['arn:aws:s3:::b/*'] },
    }),
  ],
  [
    'gcp with project and services',
    paiProvider({
      type: 'gcp',
      auth: { type: 'gcp-service-account', secretRef: 'sa' },
      config: { project: 'my-project', services: ['storage'] },
      policy: { allow: ['storage.objects.get'] },
    }),
  ],
  [
    'azure with tenantId',
    paiProvider({
      type: 'azure',
      auth: { type: 'azure-client-credentials', secretRef: 'sp' },
      config: { tenantId: 'contoso.onmicrosoft.com', services: ['storage', 'arm'] },
    }),
  ],
  [
    'http-token with httpRules and audit mode',
    paiProvider({
      type: 'http-token',
      host: 'api.stripe.com',
      auth: { type: 'api-key', secretRef: 'stripe' },
      policy: { allow: ['*'], httpRules: [{ methods: ['GET'], paths: ['*'], effect: 'allow' }] },
      audit: { enforcement: 'audit' },
      externalAccess: { enabled: true, maxRequestsPerDay: 2000 },
    }),
  ],
  [
    'mcp over sse',
    paiProvider({
      type: 'mcp',
      mcp: { url: 'https://mcp.linear.app/sse', transport: 'sse' },
      auth: { type: 'api-key', secretRef: 'lin' },
      policy: { mcp: { allowedTools: ['list_issues'], deniedTools: ['delete_issue'] } },
    }),
  ],
  ['mcp over stdio (no auth)', paiProvider({ type: 'mcp', mcp: { transport: 'stdio', command: ['npx', '-y', 'server'] } })],
  [
    "agent with models, env value and secretRef, and other components' fields",
    paiAgent({
      models: ['google/gemini-2.5-flash', 'openrouter/meta-llama/llama-3.1-70b-instruct'],
      providers: ['github'],
      env: [
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'HOOK', secretRef: key },
      ],
      image: 'x:1',
      replicas: 2,
      triggers: [{ type: 'schedule', cron: '* * * * *' }],
      tokens: { maxPerDay: '1_000_000' },
    }),
  ],
  ['agent, empty lists', paiAgent({ models: [], providers: [], env: [] })],
  ['env names', paiAgent({ env: ['_X', 'A', 'SLACK_WEBHOOK'].map((name) => ({ name, secretRef: key })) })],
  [
    'a namespace, labels and annotations',
    {
      ...paiAgent({}),
      metadata: {
        name: 'a',
        namespace: 'team-a',
        labels: { 'pai.dev/team': 'core', empty: '' },
        annotations: { note: 'any text: at all\n' },
      },
    },
  ],
];

for (const [title, d] of valid) {
  test(`accepts ${title}, unchanged (no defaults filled in)`, (t) => {
    t.deepEqual(resourceDocument(parseResource(d, 'test')), d);
  });
}

test('a null field counts as absent (YAML "field:" with no value)', (t) => {
  const parsed = parseResource(
    { ...paiMp({ provider: 'openai', endpoint: null, apiKeySecretRef: key }), metadata: { name: 'x', labels: null } },
    't',
  );
  t.deepEqual(resourceDocument(parsed), paiMp({ provider: 'openai', apiKeySecretRef: key }));
});

test('an Agent may omit spec', (t) => {
  t.deepEqual(parseResource({ apiVersion: 'pai/v1', kind: 'Agent', metadata: { name: 'a' } }, 't').spec, {});
  t.deepEqual(parseResource({ apiVersion: 'pai.io/v1', kind: 'Agent', metadata: { name: 'a' } }, 't').spec, {});
});

test('returns fresh objects: the input is not retained', (t) => {
  const doc = provider({ type: 'github', hosts: ['api.github.com'], auth: { secretRef: 's' } });
  const parsed = parseResource(doc, 't');
  t.not(parsed, doc);
  t.not(parsed.spec, doc['spec']);
});

test('"__proto__" keys (as JSON.parse makes them) are reported, never merged into a prototype', (t) => {
  const doc = JSON.parse(
    '{"apiVersion":"pai/v1","kind":"Agent","__proto__":{"polluted":1},"metadata":{"name":"a","labels":{"__proto__":"x"}},"spec":{"__proto__":{"egress":"deny"}}}',
  ) as unknown;
  const err = t.throws(() => parseResource(doc, 't'), { instanceOf: PaiError });
  const fields = (err.details?.['problems'] as { field: string }[]).map((p) => p.field);
  t.deepEqual(fields.sort(), ['__proto__', 'metadata.labels.__proto__', 'spec.__proto__']);
  t.false('polluted' in {});
});

// --- canonicalJson --------------------------------------------------------------------------------

test('canonicalJson: rejects what JSON cannot represent', (t) => {
  for (const value of [undefined, () => 1, 1n, { a: 2n }, [1n]]) {
    t.throws(() => canonicalJson(value), { instanceOf: PaiError, code: 'internal' });
  }
});

test('canonicalJson: sorts keys at every level, keeps array order, drops undefined like JSON.stringify', (t) => {
  t.is(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  t.is(canonicalJson({ a: undefined, b: [undefined, () => 1] }), '{"b":[null,null]}');
  t.is(canonicalJson({ '10': 1, '9': 2, a: 3 }), '{"10":1,"9":2,"a":3}');
  t.is(canonicalJson({ d: new Date(0) }), '{"d":"1970-01-01T00:00:00.000Z"}');
  t.is(canonicalJson('é"\n'), JSON.stringify('é"\n'));
  t.is(canonicalJson(Number.NaN), 'null');
});

test('canonicalJson: an applied resource equals the stored one whatever the key order', (t) => {
  const applied = resourceDocument(
    parseResource(provider({ type: 'github', auth: { secretRef: 's' }, hosts: ['api.github.com'] }), 't'),
  );
  const stored = JSON.parse(
    '{"spec":{"host":"api.github.com","auth":{"secretRef":"s"},"type":"github"},"metadata":{"name":"x"},"kind":"Provider","apiVersion":"pai.io/v1"}',
  ) as unknown;
  t.is(canonicalJson(applied), canonicalJson(stored));
  const changed = resourceDocument(
    parseResource(provider({ type: 'github', auth: { secretRef: 's' }, hosts: ['uploads.github.com'] }), 't'),
  );
  t.not(canonicalJson(changed), canonicalJson(stored));
});
