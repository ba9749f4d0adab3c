/** Manifests: size and alias-bomb limits, syntax errors, document shapes, and YAML/JSON round trips. */
import test from 'ava';
import { PaiError } from '../src/errors.js';
import {
  MAX_MANIFEST_BYTES,
  parseManifestDocuments,
  parseManifestResources,
  parseManifests,
  renderResourceJson,
  renderResourceYaml,
} from '../src/resources/manifest.js';
import type { Resource } from '../src/resources/types.js';
import { parseResource } from '../src/resources/validate.js';

/** Runs `fn` and returns how long it took, in milliseconds. */
function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/** The classic "billion laughs": nine levels of nine aliases (9^9 strings if expanded). */
const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...Array.from({ length: 9 }, (_, i) => {
    const [prev, next] = [String.fromCharCode(97 + i), String.fromCharCode(98 + i)];
    return `${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`;
  }),
].join('\n');

// --- refused --------------------------------------------------------------------------------------

test('refuses more than 10 MiB, naming the source, before parsing', (t) => {
  const text = `# ${'x'.repeat(MAX_MANIFEST_BYTES - 1)}`;
  let err: PaiError | undefined;
  const ms = timed(() => {
    err = t.throws(() => parseManifests(text, 'big.yaml'), { instanceOf: PaiError, code: 'too_large' });
  });
  t.regex(err?.message ?? '', /^big\.yaml is larger than 10 MiB/);
  t.true(ms < 500, `${ms} ms`);
});

test('counts bytes, not characters', (t) => {
  const text = `# ${'é'.repeat(MAX_MANIFEST_BYTES / 2)}`; // fewer than 10 Mi characters, more than 10 MiB
  t.true(text.length < MAX_MANIFEST_BYTES);
  t.throws(() => parseManifests(text, 'accents.yaml'), { instanceOf: PaiError, code: 'too_large' });
});

test('refuses an exponential alias bomb in well under a second', (t) => {
  let err: PaiError | undefined;
  const ms = timed(() => {
    err = t.throws(() => parseManifests(BILLION_LAUGHS, 'bomb.yaml'), { instanceOf: PaiError, code: 'too_large' });
  });
  t.regex(err?.message ?? '', /^bomb\.yaml: document 1: YAML aliases expand too much/);
  t.true(ms < 500, `${ms} ms`);
});

test('refuses an alias bomb made of mappings', (t) => {
  const text = [
    'a: &a {x: 1, y: 2, z: 3}',
    ...'bcdefghij'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefghij'[i]}`).join(', ')}]`),
  ].join('\n');
  const ms = timed(() => t.throws(() => parseManifests(text, 'bomb.yaml'), { instanceOf: PaiError, code: 'too_large' }));
  t.true(ms < 500, `${ms} ms`);
});

test('refuses a few aliases of a large value that expand past 10 MiB', (t) => {
  const text = `a: &a "${'x'.repeat(1024 * 1024)}"\nb: [${Array(12).fill('*a').join(', ')}]\n`;
  const err = t.throws(() => parseManifests(text, 'wide.yaml'), { instanceOf: PaiError, code: 'too_large' });
  t.regex(err.message, /^wide\.yaml: document 1: YAML aliases expand to more than 10485760 bytes$/);
});

test('reports a syntax error with the document index and line', (t) => {
  const text = 'apiVersion: pai/v1\n---\nkind: Agent\nspec: [1,\nmetadata: {name: a}\n';
  const err = t.throws(() => parseManifests(text, 'app.yaml'), { instanceOf: PaiError, code: 'bad_request' });
  t.regex(err.message, /^app\.yaml: document 2: YAML error at line \d+, column \d+: /);
  t.is(err.details?.['document'], 'document 2 of app.yaml');
  t.true((err.details?.['line'] as number) >= 4);
});

test('refuses duplicate keys in linear time, naming the line', (t) => {
  const err = t.throws(() => parseManifests('kind: Agent\nmetadata: {name: a}\nkind: Provider\n', 'dup.yaml'), {
    instanceOf: PaiError,
    code: 'bad_request',
  });
  t.regex(err.message, /^dup\.yaml: document 1: YAML error at line 3, column 1: mapping keys must be unique$/);
  const many = `${Array.from({ length: 25_000 }, (_, i) => `k${i}: v`).join('\n')}\n`;
  const ms = timed(() => t.is((parseManifests(many, 'many.yaml')[0] as Record<string, unknown>)['k24999'], 'v'));
  t.true(ms < 3_000, `${ms} ms`); // yaml's own check is quadratic: about 7 s for this input
});

const degenerate: [string, () => string, 'bad_request' | 'too_large', RegExp][] = [
  [
    '"[" nested 10 Mi deep',
    () => '['.repeat(MAX_MANIFEST_BYTES),
    'bad_request',
    /^d\.yaml: collections nested more than 64 deep$/,
  ],
  [
    '"{" nested 10 Mi deep',
    () => '{'.repeat(MAX_MANIFEST_BYTES),
    'bad_request',
    /^d\.yaml: collections nested more than 64 deep$/,
  ],
  ['JSON objects nested 2 Mi deep', () => '{"a":'.repeat(MAX_MANIFEST_BYTES / 5), 'bad_request', /nested more than 64 deep/],
  [
    'YAML flow nested 10 Mi deep',
    () => `a: ${'['.repeat(MAX_MANIFEST_BYTES - 3)}`,
    'bad_request',
    /line 1, column 68: flow collections nested more than 64 deep/,
  ],
  ['10 Mi of "]"', () => ']'.repeat(MAX_MANIFEST_BYTES), 'bad_request', /line 1, column 1: "\]" without a matching "\["/],
  ['10 MiB of anchors', () => `a: ${'&a '.repeat(MAX_MANIFEST_BYTES / 3 - 2)}x`, 'too_large', /more than 200000 YAML tokens/],
  ['10 MiB of "- "', () => '- '.repeat(MAX_MANIFEST_BYTES / 2), 'too_large', /more than 200000 YAML tokens/],
  ['10 MiB of "? "', () => '? '.repeat(MAX_MANIFEST_BYTES / 2), 'too_large', /more than 200000 YAML tokens/],
  ['10 MiB of documents', () => '---\n'.repeat(MAX_MANIFEST_BYTES / 4), 'too_large', /more than 200000 YAML tokens/],
  ['10 MiB of newlines', () => '\n'.repeat(MAX_MANIFEST_BYTES), 'too_large', /more than 200000 YAML tokens/],
];
for (const [title, make, code, message] of degenerate) {
  test(`refuses ${title} in well under the seconds yaml would take`, (t) => {
    const text = make();
    let err: PaiError | undefined;
    const ms = timed(() => {
      err = t.throws(() => parseManifests(text, 'd.yaml'), { instanceOf: PaiError, code });
    });
    t.regex(err?.message ?? '', message);
    t.true(ms < 2000, `${ms} ms`);
  });
}

test('names the document and line of an unmatched closing bracket', (t) => {
  const err = t.throws(() => parseManifests('a: 1\n---\nb: "]"\nc: [1, [2]]]\n', 'b.yaml'), {
    instanceOf: PaiError,
    code: 'bad_request',
  });
  t.is(err.message, 'b.yaml: document 2: YAML error at line 4, column 12: "]" without a matching "["');
  t.deepEqual(err.details, { document: 'document 2 of b.yaml', line: 4, column: 12 });
});

const refused: [string, string, 'bad_request' | 'invalid', RegExp][] = [
  ['a collection as a key', '? [a, b]\n: c\n', 'bad_request', /line 1, column \d+: mapping keys must be plain scalars/],
  [
    'a !!binary tag',
    'a: !!binary aGk=\n',
    'bad_request',
    /line 1, column 4: unknown or unresolvable tag \(TAG_RESOLVE_FAILED\)$/,
  ],
  ['a custom tag', 'a: !secret x\n', 'bad_request', /unknown or unresolvable tag/],
  ['a scalar document', 'kind: Agent\n---\njust text\n', 'invalid', /^document 2 of m\.yaml is not a mapping \(got a string\)/],
  ['a list document', '---\n---\n- a\n- b\n', 'invalid', /^document 2 of m\.yaml is not a mapping \(got a list\)/],
  [
    'a JSON list with a string',
    '[{"kind": "Agent"}, "x"]',
    'invalid',
    /^document 2 of m\.yaml is not a mapping \(got a string\)/,
  ],
  ['an unclosed flow mapping', '{kind: Agent', 'bad_request', /^m\.yaml: document 1: YAML error at line 1/],
];
for (const [title, text, code, message] of refused) {
  test(`refuses ${title}`, (t) => {
    const err = t.throws(() => parseManifests(text, 'm.yaml'), { instanceOf: PaiError, code });
    t.regex(err.message, message);
  });
}

test('does not apply YAML merge keys: "<<" stays a key, which parseResource rejects', (t) => {
  const text =
    'base: &b {egress: deny}\n---\napiVersion: pai/v1\nkind: Agent\nmetadata: {name: a}\nspec:\n  <<: {egress: deny}\n';
  const docs = parseManifestDocuments(text, 'merge.yaml');
  const doc = docs[1];
  t.deepEqual((doc?.value['spec'] as Record<string, unknown>)['<<'], { egress: 'deny' });
  const err = t.throws(() => parseResource(doc?.value, doc?.where ?? ''), { instanceOf: PaiError, code: 'invalid' });
  t.regex(err.message, /spec\["<<"\]: unknown field/);
});

// --- accepted -------------------------------------------------------------------------------------

const SEED = `apiVersion: pai/v1
kind: ModelProvider
metadata: {name: gemini}
spec:
  type: gemini            # openai | anthropic | gemini | azure-openai | bedrock | openai-compatible
  baseUrl: https://generativelanguage.googleapis.com   # optional, default per type
  apiKeySecretRef: {name: gemini-key, key: api-key}
---
apiVersion: pai/v1
kind: Provider
metadata: {name: github}
spec:
  type: github            # github | http | aws | telegram | azure | gcp
  hosts: [api.github.com] # optional, default per type; exact names or "*.suffix"
  auth:
    secretRef: github-pat
    secretKey: token      # default "token"
    # type http only: header (default Authorization), prefix (default "Bearer "),
    #                 or scheme: basic | query (with param)
---
apiVersion: pai/v1
kind: Agent
metadata: {name: triage-bot}
spec:
  modelProviders: [gemini]
  providers: [github]
  env:
  - name: SLACK_WEBHOOK
    secretRef: {name: slack-credentials, key: webhook-url}
`;

// The seed manifest is in the earlier dialect: it reads as Pai's form.
const SEED_RESOURCES: Resource[] = [
  {
    apiVersion: 'pai.io/v1',
    kind: 'ModelProvider',
    metadata: { name: 'gemini' },
    spec: {
      provider: 'gemini',
      endpoint: 'https://generativelanguage.googleapis.com',
      apiKeySecretRef: { name: 'gemini-key', key: 'api-key' },
    },
  },
  {
    apiVersion: 'pai.io/v1',
    kind: 'Provider',
    metadata: { name: 'github' },
    spec: { type: 'github', host: 'api.github.com', auth: { secretRef: 'github-pat', secretKey: 'token' } },
  },
  {
    apiVersion: 'pai.io/v1',
    kind: 'Agent',
    metadata: { name: 'triage-bot' },
    spec: {
      modelProviders: ['gemini'],
      providers: ['github'],
      env: [{ name: 'SLACK_WEBHOOK', secretRef: { name: 'slack-credentials', key: 'webhook-url' } }],
    },
  },
];

test('parses the seed manifest of DESIGN §3 verbatim', (t) => {
  t.deepEqual(parseManifestResources(SEED, 'seed.yaml'), SEED_RESOURCES);
});

test('skips empty documents; labels keep the position in the file', (t) => {
  const docs = parseManifestDocuments(`---\n# nothing\n---\n${SEED.split('---\n')[2] ?? ''}---\n---\n`, 'app.yaml');
  t.deepEqual(
    docs.map((d) => d.where),
    ['document 2 of app.yaml'],
  );
  for (const empty of ['', '\n', '# only a comment\n', '---\n---\n', '[]']) t.deepEqual(parseManifests(empty, 'e.yaml'), []);
});

test('reads JSON: one object, a list, and falls back to YAML for flow mappings', (t) => {
  t.deepEqual(parseManifests(JSON.stringify(SEED_RESOURCES[0]), 'one.json'), [SEED_RESOURCES[0]]);
  t.deepEqual(parseManifests(` \n${JSON.stringify(SEED_RESOURCES)}`, 'list.json'), SEED_RESOURCES);
  t.deepEqual(parseManifests('{kind: Agent, metadata: {name: a}}', 'flow.yaml'), [{ kind: 'Agent', metadata: { name: 'a' } }]);
});

test('reads YAML 1.2: "yes", "on", "0755" stay strings', (t) => {
  t.deepEqual(parseManifests('a: yes\nb: on\nc: 0755\nd: ~\n', 'v.yaml'), [{ a: 'yes', b: 'on', c: 755, d: null }]);
});

test('accepts a 10 MiB manifest', (t) => {
  const head = 'apiVersion: pai/v1\nkind: Agent\nmetadata:\n  name: a\n  annotations:\n    big: |\n';
  const line = `      ${'y'.repeat(93)}\n`;
  const body = head + line.repeat(Math.floor((MAX_MANIFEST_BYTES - head.length) / line.length));
  const text = body + '#'.repeat(MAX_MANIFEST_BYTES - body.length - 1) + '\n';
  t.is(Buffer.byteLength(text), MAX_MANIFEST_BYTES);
  const docs = parseManifests(text, 'ten.yaml') as { metadata: { annotations: { big: string } } }[];
  t.is(docs.length, 1);
  t.true((docs[0]?.metadata.annotations.big.length ?? 0) > 9_000_000);
});

test('reads scalars named like Object.prototype members ("toString", "__proto__")', (t) => {
  t.deepEqual(parseManifests('a: toString\nb: [valueOf, constructor]\nc: {hasOwnProperty: __proto__}\n', 'p.yaml'), [
    { a: 'toString', b: ['valueOf', 'constructor'], c: { hasOwnProperty: '__proto__' } },
  ]);
});

test('expands a few small aliases', (t) => {
  const text = 'hosts: &h [a.example.com, b.example.com]\ncopy: *h\n';
  t.deepEqual(parseManifests(text, 'a.yaml'), [
    { hosts: ['a.example.com', 'b.example.com'], copy: ['a.example.com', 'b.example.com'] },
  ]);
});

// --- round trips ----------------------------------------------------------------------------------

const TRICKY: Resource[] = [
  ...SEED_RESOURCES,
  {
    apiVersion: 'pai.io/v1',
    kind: 'Provider',
    metadata: {
      name: '0755',
      labels: { yes: 'no', on: 'null', t: '', n: '1e3' },
      annotations: { note: ' lead: "q" # x\n\tdone\n', u: 'ünï ☃' },
    },
    spec: {
      type: 'http-token',
      hosts: ['*.example.com', '10.0.0.1'],
      auth: { secretRef: '0o0', header: 'X-Key', prefix: 'Bearer ', secretKey: '1.0' },
    },
  },
  {
    apiVersion: 'pai.io/v1',
    kind: 'ModelProvider',
    metadata: { name: 'b', namespace: 'team-a' },
    spec: { provider: 'bedrock', region: 'eu-west-1', apiKeySecretRef: { name: 'aws' } },
  },
  { apiVersion: 'pai.io/v1', kind: 'Agent', metadata: { name: 'idle' }, spec: {} },
  {
    apiVersion: 'pai.io/v1',
    kind: 'Agent',
    metadata: { name: 'kept' },
    spec: { models: ['google/gemini-2.5-flash'], env: [{ name: 'LEVEL', value: 'info' }], kept: { image: 'x:1', replicas: 2 } },
  },
];

test('renderResourceYaml round-trips through parseManifests and parseResource', (t) => {
  const yaml = renderResourceYaml(TRICKY);
  t.deepEqual(parseManifestResources(yaml, 'out.yaml'), TRICKY);
  t.true(yaml.includes('name: "0755"'));
  t.true(yaml.includes('"yes": "no"'), 'quoted for YAML 1.1 readers');
  t.true(yaml.includes('secretRef: "0o0"'), 'quoted for YAML 1.2 readers (an octal integer there)');
  t.is(renderResourceYaml([]), '');
  t.deepEqual(parseManifests(renderResourceYaml([]), 'none.yaml'), []);
});

test('renderResourceJson round-trips, as an object for one resource and a list for several', (t) => {
  const list = renderResourceJson(TRICKY);
  t.true(list.startsWith('['));
  t.deepEqual(parseManifestResources(list, 'out.json'), TRICKY);
  const one = renderResourceJson(TRICKY[3] as Resource);
  t.true(one.startsWith('{'));
  t.deepEqual(parseManifestResources(one, 'one.json'), [TRICKY[3]]);
});
