/** parseResource: every rule of DESIGN §3 on rejected documents, and how problems are reported (accepted shapes: resources-accept). */
import test from 'ava';
import { PaiError } from '../src/errors.js';
import type { Problem } from '../src/resources/fields.js';
import { parseResource } from '../src/resources/validate.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import { mp, provider, agent, openai, http, github, rejects } from './helpers/resource-validation.js';

// --- document shape -------------------------------------------------------------------------------

test('rejects a document that is not a mapping, naming the document', (t) => {
  for (const doc of [[1, 2], 'text', null, 42, undefined]) {
    const err = t.throws(() => parseResource(doc, 'document 3 of app.yaml'), { instanceOf: PaiError });
    t.is(err.code, 'invalid');
    t.regex(err.message, /^document 3 of app\.yaml is not a mapping/);
    t.is(err.details?.['document'], 'document 3 of app.yaml');
  }
});

test('no apiVersion', rejects, { kind: 'Agent', metadata: { name: 'a' } }, 'apiVersion', /^required$/);
test(
  'wrong apiVersion',
  rejects,
  { ...agent({}), apiVersion: 'v1' },
  'apiVersion',
  /must be "pai\.io\/v1" \(or the earlier "pai\/v1"\)/,
);
test('apiVersion not a string', rejects, { ...agent({}), apiVersion: 1 }, 'apiVersion', /must be a string \(got a number\)/);
test('no kind', rejects, { apiVersion: 'pai/v1', metadata: { name: 'a' } }, 'kind', /^required$/);
test('unknown kind', rejects, { ...agent({}), kind: 'Secret' }, 'kind', /must be one of ModelProvider, Provider, Agent$/);
test('kind in the wrong case, with a suggestion', rejects, { ...agent({}), kind: 'provider' }, 'kind', /did you mean "Provider"/);
test('unknown top-level field', rejects, { ...agent({}), status: {} }, 'status', /unknown field/);
test('misspelt top-level field', rejects, { ...agent({}), metdata: {} }, 'metdata', /did you mean "metadata"/);
test('no metadata', rejects, { apiVersion: 'pai/v1', kind: 'Agent', spec: {} }, 'metadata', /^required$/);
test('metadata a list', rejects, { ...agent({}), metadata: ['a'] }, 'metadata', /must be a mapping \(got a list\)/);
test('no name', rejects, { ...agent({}), metadata: {} }, 'metadata.name', /^required$/);
test('upper-case name', rejects, { ...agent({}), metadata: { name: 'Github' } }, 'metadata.name', /lower-case/);
test('name with "_"', rejects, { ...agent({}), metadata: { name: 'a_b' } }, 'metadata.name', /lower-case letters, digits/);
test('name starting with "-"', rejects, { ...agent({}), metadata: { name: '-a' } }, 'metadata.name', /start and end/);
test('name of 64 characters', rejects, { ...agent({}), metadata: { name: 'a'.repeat(64) } }, 'metadata.name', /at most 63/);
test(
  'metadata.namespace not a DNS label',
  rejects,
  { ...agent({}), metadata: { name: 'a', namespace: 'Team_A' } },
  'metadata.namespace',
  /not a namespace name/,
);
test('labels a list', rejects, { ...agent({}), metadata: { name: 'a', labels: ['x'] } }, 'metadata.labels', /mapping of strings/);
test(
  'label value a number',
  rejects,
  { ...agent({}), metadata: { name: 'a', labels: { tier: 1 } } },
  'metadata.labels.tier',
  /string/,
);
test(
  'label value with spaces',
  rejects,
  { ...agent({}), metadata: { name: 'a', labels: { t: 'a b' } } },
  'metadata.labels.t',
  /at most 63/,
);
test(
  'label key invalid',
  rejects,
  { ...agent({}), metadata: { name: 'a', labels: { 'a b': 'x' } } },
  'metadata.labels["a b"]',
  /key/,
);
test(
  'label key prefix invalid',
  rejects,
  { ...agent({}), metadata: { name: 'a', labels: { 'A_B/x': 'y' } } },
  'metadata.labels["A_B/x"]',
  /prefix/,
);
test(
  'annotation value a map',
  rejects,
  { ...agent({}), metadata: { name: 'a', annotations: { n: {} } } },
  'metadata.annotations.n',
  /string/,
);
test(
  'annotations over 256 KiB',
  rejects,
  { ...agent({}), metadata: { name: 'a', annotations: { big: 'x'.repeat(256 * 1024) } } },
  'metadata.annotations',
  /at most 262144 bytes/,
);
test(
  'no spec for a ModelProvider',
  rejects,
  { apiVersion: 'pai/v1', kind: 'ModelProvider', metadata: { name: 'm' } },
  'spec',
  /required/,
);
test('spec a string', rejects, provider('github'), 'spec', /must be a mapping \(got a string\)/);
test('spec a list with an unknown kind', rejects, { ...agent([]), kind: 'Nope' }, 'spec', /must be a mapping/);

// --- ModelProvider --------------------------------------------------------------------------------

test('no type', rejects, mp({ apiKeySecretRef: { name: 'k', key: 'x' } }), 'spec.type', /^required$/);
test(
  'unknown type',
  rejects,
  mp({ type: 'gpt', apiKeySecretRef: { name: 'k', key: 'x' } }),
  'spec.type',
  /must be one of openai, anthropic/,
);
test(
  'type near miss',
  rejects,
  mp({ type: 'openAI', apiKeySecretRef: { name: 'k', key: 'x' } }),
  'spec.type',
  /did you mean "openai"/,
);
test('unknown spec field', rejects, openai({ model: 'gpt-4' }), 'spec.model', /unknown field/);
test('misspelt baseUrl', rejects, openai({ baseURL: 'https://x.com' }), 'spec.baseURL', /did you mean "baseUrl"/);
test('baseUrl over http', rejects, openai({ baseUrl: 'http://api.openai.com' }), 'spec.baseUrl', /must use https/);
test('baseUrl with user info', rejects, openai({ baseUrl: 'https://u:p@api.openai.com' }), 'spec.baseUrl', /user info/);
test('baseUrl with "@" only', rejects, openai({ baseUrl: 'https://@api.openai.com' }), 'spec.baseUrl', /user info/);
test('baseUrl with a query', rejects, openai({ baseUrl: 'https://api.openai.com/v1?x=1' }), 'spec.baseUrl', /query/);
test('baseUrl with an empty query', rejects, openai({ baseUrl: 'https://api.openai.com/?' }), 'spec.baseUrl', /query/);
test('baseUrl with a fragment', rejects, openai({ baseUrl: 'https://api.openai.com/#f' }), 'spec.baseUrl', /fragment/);
test('baseUrl without scheme', rejects, openai({ baseUrl: 'api.openai.com' }), 'spec.baseUrl', /absolute https/);
test('baseUrl with ftp', rejects, openai({ baseUrl: 'ftp://api.openai.com' }), 'spec.baseUrl', /absolute https/);
test('baseUrl without slashes', rejects, openai({ baseUrl: 'https:api.openai.com' }), 'spec.baseUrl', /absolute https/);
test('baseUrl with a newline', rejects, openai({ baseUrl: 'https://api.openai.com\n/v1' }), 'spec.baseUrl', /control/);
test('baseUrl with a backslash', rejects, openai({ baseUrl: 'https://a.com\\@b.com' }), 'spec.baseUrl', /must not contain "\\"/);
test(
  'baseUrl with a trailing dot',
  rejects,
  openai({ baseUrl: 'https://api.openai.com./' }),
  'spec.baseUrl',
  /must not end with "\."/,
);
test('baseUrl with a wildcard', rejects, openai({ baseUrl: 'https://*.openai.com' }), 'spec.baseUrl', /host/);
test('baseUrl with "_" in the host', rejects, openai({ baseUrl: 'https://a_b.com' }), 'spec.baseUrl', /DNS name/);
test('baseUrl with a short IPv4', rejects, openai({ baseUrl: 'https://1.2.3/' }), 'spec.baseUrl', /canonical form/);
test('baseUrl with a hex IPv4', rejects, openai({ baseUrl: 'http://0x7f.0.0.1/' }), 'spec.baseUrl', /canonical form/);
test('baseUrl with a non-ASCII host', rejects, openai({ baseUrl: 'https://bücher.example/' }), 'spec.baseUrl', /canonical form/);
test(
  'baseUrl with a percent-encoded host',
  rejects,
  openai({ baseUrl: 'https://api%2eopenai.com/' }),
  'spec.baseUrl',
  /canonical/,
);
test('baseUrl over 2048 characters', rejects, openai({ baseUrl: `https://a.com/${'x'.repeat(2048)}` }), 'spec.baseUrl', /2048/);
test('baseUrl a number', rejects, openai({ baseUrl: 443 }), 'spec.baseUrl', /must be a string/);
for (const type of ['azure-openai', 'openai-compatible']) {
  test(
    `${type} without baseUrl`,
    rejects,
    mp({ type, apiKeySecretRef: { name: 'k', key: 'x' } }),
    'spec.baseUrl',
    /required for type/,
  );
}
test('region for openai', rejects, openai({ region: 'us-east-1' }), 'spec.region', /only for type bedrock/);
test(
  'bad region',
  rejects,
  mp({ type: 'bedrock', region: 'mars', apiKeySecretRef: { name: 'aws' } }),
  'spec.region',
  /AWS region/,
);
test('no apiKeySecretRef', rejects, mp({ type: 'openai' }), 'spec.apiKeySecretRef', /^required$/);
test('apiKeySecretRef a string', rejects, mp({ type: 'openai', apiKeySecretRef: 'k' }), 'spec.apiKeySecretRef', /mapping/);
test(
  'no key for openai',
  rejects,
  mp({ type: 'openai', apiKeySecretRef: { name: 'k' } }),
  'spec.apiKeySecretRef.key',
  /^required$/,
);
test('key "..', rejects, mp({ type: 'gemini', apiKeySecretRef: { name: 'k', key: '..' } }), 'spec.apiKeySecretRef.key', /"\.\."/);
test(
  'key with "/"',
  rejects,
  mp({ type: 'anthropic', apiKeySecretRef: { name: 'k', key: 'a/b' } }),
  'spec.apiKeySecretRef.key',
  /letters/,
);
test(
  'key for bedrock',
  rejects,
  mp({ type: 'bedrock', apiKeySecretRef: { name: 'k', key: 'x' } }),
  'spec.apiKeySecretRef.key',
  /omitted/,
);
test(
  'bad secret name',
  rejects,
  mp({ type: 'openai', apiKeySecretRef: { name: 'K', key: 'x' } }),
  'spec.apiKeySecretRef.name',
  /lower/,
);
test(
  'ref field unknown',
  rejects,
  openai({ apiKeySecretRef: { name: 'k', key: 'x', secretKey: 'y' } }),
  'spec.apiKeySecretRef.secretKey',
  /unknown/,
);

// --- all problems, one message --------------------------------------------------------------------

test('collects every problem of a document in one error that names kind, name and document', (t) => {
  const doc = { ...http({ secretRf: 'x', header: 'Host' }, { hosts: ['*'] }), extra: true };
  const err = t.throws(() => parseResource(doc, 'document 2 of app.yaml'), { instanceOf: PaiError });
  const problems = err.details?.['problems'] as Problem[];
  t.deepEqual(problems.map((p) => p.field).sort(), ['extra', 'spec.auth.header', 'spec.auth.secretRf', 'spec.hosts[0]']);
  t.regex(err.message, /^invalid Provider "p" \(document 2 of app\.yaml\): 4 problems: /);
  t.regex(err.message, /spec\.auth\.secretRf: unknown field \(did you mean "secretRef"\?\)/);
  t.is(err.details?.['document'], 'document 2 of app.yaml');
  t.is(err.details?.['kind'], 'Provider');
  t.is(err.details?.['name'], 'p');
  t.is(err.status, 422);
});

test('caps the problems of a garbage document', (t) => {
  const doc = { ...agent({}), ...Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`junk${i}`, i])) };
  const err = t.throws(() => parseResource(doc, 'request body'), { instanceOf: PaiError });
  t.is((err.details?.['problems'] as Problem[]).length, 50);
  t.regex(err.message, /^invalid Agent "a" \(request body\): 500 problems: .*; and 450 more$/);
});

test('messages and details never carry a value, even one in the wrong field', (t) => {
  const canary = makeCanary();
  const docs = [
    github({ token: canary }),
    github({ secretRef: canary }),
    openai({ baseUrl: `https://user:${canary}@api.openai.com` }),
    openai({ baseUrl: `https://api.openai.com/?key=${canary}` }),
    http({ prefix: `${canary}\n` }),
    http({ header: `${canary}:x` }),
    agent({ env: [{ name: canary, secretRef: { name: 's', key: canary.toLowerCase() } }], egress: canary }),
    { ...agent({}), metadata: { name: 'a', labels: { x: `${canary}!` } } },
    { ...agent({}), kind: canary },
  ];
  for (const doc of docs) {
    const err = t.throws(() => parseResource(doc, 'request body'), { instanceOf: PaiError });
    t.deepEqual(findCanary(err.message + JSON.stringify(err.details), canary), [], err.message);
  }
});
