/** parseResource on valid documents (every type and option), and canonicalJson. */
import test from 'ava';
import { PaiError } from '../src/errors.js';
import { canonicalJson, parseResource } from '../src/resources/validate.js';

type Doc = Record<string, unknown>;
const meta = { name: 'x' };
const mp = (spec: Doc): Doc => ({ apiVersion: 'pai/v1', kind: 'ModelProvider', metadata: meta, spec });
const provider = (spec: Doc): Doc => ({ apiVersion: 'pai/v1', kind: 'Provider', metadata: meta, spec });
const agent = (spec: Doc): Doc => ({ apiVersion: 'pai/v1', kind: 'Agent', metadata: meta, spec });
const key = { name: 'llm-key', key: 'api-key' };

const valid: [string, Doc][] = [
  ['openai', mp({ type: 'openai', apiKeySecretRef: key })],
  ['anthropic', mp({ type: 'anthropic', apiKeySecretRef: key })],
  ['gemini with baseUrl', mp({ type: 'gemini', baseUrl: 'https://generativelanguage.googleapis.com', apiKeySecretRef: key })],
  ['azure-openai', mp({ type: 'azure-openai', baseUrl: 'https://my-res.openai.azure.com/openai', apiKeySecretRef: key })],
  [
    'openai-compatible on localhost',
    mp({ type: 'openai-compatible', baseUrl: 'http://localhost:11434/v1', apiKeySecretRef: key }),
  ],
  ['openai-compatible on 127.0.0.1', mp({ type: 'openai-compatible', baseUrl: 'http://127.0.0.1:8000/', apiKeySecretRef: key })],
  ['openai-compatible on [::1]', mp({ type: 'openai-compatible', baseUrl: 'http://[::1]:8000', apiKeySecretRef: key })],
  ['openai-compatible on an IPv4', mp({ type: 'openai-compatible', baseUrl: 'https://10.0.0.7:8443/v1', apiKeySecretRef: key })],
  ['openai with an upper-case host', mp({ type: 'openai', baseUrl: 'https://API.openai.com', apiKeySecretRef: key })],
  ['bedrock', mp({ type: 'bedrock', apiKeySecretRef: { name: 'aws' } })],
  ['bedrock in a region', mp({ type: 'bedrock', region: 'us-gov-west-1', apiKeySecretRef: { name: 'aws' } })],
  ['github', provider({ type: 'github', auth: { secretRef: 'github-pat', secretKey: 'token' } })],
  ['github enterprise', provider({ type: 'github', hosts: ['github.example.com'], auth: { secretRef: 'pat' } })],
  [
    'http header',
    provider({
      type: 'http',
      hosts: ['api.example.com', '*.example.net'],
      auth: { secretRef: 's', header: 'X-Api-Token', prefix: '' },
    }),
  ],
  [
    'http Authorization with a prefix',
    provider({ type: 'http', hosts: ['10.1.2.3'], auth: { secretRef: 's', header: 'Authorization', prefix: 'Token ' } }),
  ],
  ['http basic', provider({ type: 'http', hosts: ['xn--bcher-kva.example'], auth: { secretRef: 's', scheme: 'basic' } })],
  [
    'http query',
    provider({
      type: 'http',
      hosts: ['maps.example.com'],
      auth: { secretRef: 's', scheme: 'query', param: 'api_key', secretKey: 'k' },
    }),
  ],
  ['http header scheme explicitly', provider({ type: 'http', hosts: ['localhost'], auth: { secretRef: 's', scheme: 'header' } })],
  ['aws', provider({ type: 'aws', auth: { secretRef: 'aws' } })],
  ['aws in China', provider({ type: 'aws', hosts: ['*.amazonaws.com.cn'], auth: { secretRef: 'aws' } })],
  ['telegram', provider({ type: 'telegram', auth: { secretRef: 'bot', secretKey: 'bot-token' } })],
  [
    'azure',
    provider({
      type: 'azure',
      auth: { secretRef: 'sp', scope: 'https://graph.microsoft.com/.default', tokenUrl: 'https://login.microsoftonline.us' },
    }),
  ],
  [
    'azure with a loopback tokenUrl',
    provider({ type: 'azure', auth: { secretRef: 'sp', tokenUrl: 'http://127.0.0.1:9999/token' } }),
  ],
  ['gcp', provider({ type: 'gcp', hosts: ['*.googleapis.com'], auth: { secretRef: 'sa', secretKey: 'sa.json', scope: 'a b' } })],
  [
    'agent, everything',
    agent({ modelProviders: ['gemini'], providers: ['github', 'slack'], env: [{ name: 'A_1', secretRef: key }], egress: 'deny' }),
  ],
  ['agent, nothing', agent({})],
  ['agent, empty lists', agent({ modelProviders: [], providers: [], env: [] })],
  ['env names', agent({ env: ['_X', 'A', 'SLACK_WEBHOOK'].map((name) => ({ name, secretRef: key })) })],
  [
    'labels and annotations',
    {
      ...agent({}),
      metadata: { name: 'a', labels: { 'pai.dev/team': 'core', empty: '' }, annotations: { note: 'any text: at all\n' } },
    },
  ],
];

for (const [title, doc] of valid) {
  test(`accepts ${title}, unchanged (no defaults filled in)`, (t) => {
    t.deepEqual(parseResource(doc, 'test'), doc);
  });
}

test('the three shapes of DESIGN §3', (t) => {
  const shapes = [
    mp({
      type: 'gemini',
      baseUrl: 'https://generativelanguage.googleapis.com',
      apiKeySecretRef: { name: 'gemini-key', key: 'api-key' },
    }),
    provider({ type: 'github', hosts: ['api.github.com'], auth: { secretRef: 'github-pat', secretKey: 'token' } }),
    agent({
      modelProviders: ['gemini'],
      providers: ['github'],
      env: [{ name: 'SLACK_WEBHOOK', secretRef: { name: 'slack-credentials', key: 'webhook-url' } }],
    }),
  ];
  for (const doc of shapes) t.deepEqual(parseResource(doc, 'test'), doc);
});

test('a null field counts as absent (YAML "field:" with no value)', (t) => {
  const parsed = parseResource(
    { ...mp({ type: 'openai', baseUrl: null, apiKeySecretRef: key }), metadata: { name: 'x', labels: null } },
    't',
  );
  t.deepEqual(parsed, mp({ type: 'openai', apiKeySecretRef: key }));
});

test('an Agent may omit spec', (t) => {
  t.deepEqual(parseResource({ apiVersion: 'pai/v1', kind: 'Agent', metadata: { name: 'a' } }, 't').spec, {});
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
  const applied = parseResource(provider({ type: 'github', auth: { secretRef: 's' }, hosts: ['api.github.com'] }), 't');
  const stored = JSON.parse(
    '{"spec":{"hosts":["api.github.com"],"auth":{"secretRef":"s"},"type":"github"},"metadata":{"name":"x"},"kind":"Provider","apiVersion":"pai/v1"}',
  ) as unknown;
  t.is(canonicalJson(applied), canonicalJson(stored));
  const changed = parseResource(provider({ type: 'github', auth: { secretRef: 's' }, hosts: ['uploads.github.com'] }), 't');
  t.not(canonicalJson(changed), canonicalJson(stored));
});
