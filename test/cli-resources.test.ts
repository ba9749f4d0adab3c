/**
 * `pai apply|get|describe|delete` of agents, providers and model providers end to end: the real
 * CLI binary against a real `pai serve` on a temp data dir. Bad manifests fail with a clear message
 * and change nothing; then the shared resource flows (test/helpers/cli-resource-flows.ts: the
 * seed's three reference shapes, tables, describe, delete protection, `render env`); then what only
 * this suite checks: a Provider without secretKey, a secret a ModelProvider references, JSON
 * manifests, several files and --dry-run, and -o yaml|json round trips through apply.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import YAML from 'yaml';
import { BAD_APPLIES, agentDoc, doc } from './helpers/cli-resource-cases.js';
import { EXAMPLES, RESOURCE_FLOWS, exampleDocs } from './helpers/cli-resource-flows.js';
import { type CliTarget, assertOk, file, pai } from './helpers/cli-target.js';
import { adminToken, startServe, tempDir } from './helpers/process.js';
import { resourceState } from './helpers/resources-api.js';

const test = anyTest as TestFn<CliTarget>;

test.before(async (t) => {
  const root = tempDir('pai-cli-resources-');
  const files = path.join(root, 'files');
  fs.mkdirSync(files);
  const server = await startServe({ dataDir: path.join(root, 'data') });
  t.context = { root, server, files, token: adminToken(server.dataDir), expected: new Map() };
  // A secret without the keys an aws Provider needs, for the broken-reference cases.
  const aws = await pai(t.context, ['add', 'secret', 'aws-partial', '--from-literal', 'access_key_id=AKIAEXAMPLE']);
  if (aws.code !== 0) throw new Error(`setup: ${aws.stderr}`);
});

test.after.always(async (t) => {
  await t.context.server?.stop();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

const state = (t: ExecutionContext<CliTarget>) => resourceState(t.context.server.adminUrl, t.context.token);

for (const [i, bad] of BAD_APPLIES.entries()) {
  test.serial(`${bad.what}: exit ${bad.code}, a clear message, nothing changes`, async (t) => {
    const before = await state(t);
    const f =
      bad.content === undefined ? path.join(t.context.files, `bad-${i}.yaml`) : file(t.context, `bad-${i}.yaml`, bad.content);
    const started = Date.now();
    const r = await pai(t.context, bad.args?.(f) ?? ['apply', '-f', f], bad.input);
    t.true(Date.now() - started < 20_000, 'refused without hanging');
    t.is(r.code, bad.code, r.stderr);
    t.is(r.stdout, '');
    t.is(r.stderr, bad.stderr(f));
    t.deepEqual(await state(t), before);
  });
}

// ---- the shared resource flows (exact output) --------------------------------------------------------

test.serial('the seed flow’s gemini-key, which the resource flows expect', async (t) => {
  assertOk(
    t,
    await pai(t.context, ['add', 'secret', 'gemini-key', '--from-literal', 'api-key=AIzaSyD-example-key']),
    'secret/gemini-key created\n',
  );
});

for (const flow of RESOURCE_FLOWS) test.serial(flow.title, (t) => flow.run(t, t.context));

test.serial(
  'apply --dry-run of a fresh manifest: agents may bind what it creates; every other reference is checked',
  async (t) => {
    const before = await state(t);
    const dry = await pai(t.context, ['apply', '--dry-run', '-f', EXAMPLES]);
    t.is(dry.code, 1);
    t.is(dry.stdout, 'modelprovider/gemini created (dry run)\nprovider/github created (dry run)\n');
    t.is(
      dry.stderr,
      `error: agent/triage-bot (document 3 of ${EXAMPLES}): Agent "triage-bot" has broken references: ` +
        'spec.env[1].secretRef.name: secret "slack-credentials" does not exist\n' +
        'error: 1 of 3 documents were not applied (agent/triage-bot); applied: modelprovider/gemini, provider/github\n',
    );
    const { Agent: agent, ...rest } = exampleDocs();
    const noEnv = { ...(agent as { spec: object }), spec: { models: ['gemini/gemini-2.5-flash'], providers: ['github'] } };
    const manifest = file(
      t.context,
      'no-env.yaml',
      [rest.ModelProvider, rest.Provider, noEnv].map((d) => YAML.stringify(d)).join('---\n'),
    );
    assertOk(
      t,
      await pai(t.context, ['apply', '--dry-run', '-f', manifest]),
      'modelprovider/gemini created (dry run)\nprovider/github created (dry run)\nagent/triage-bot created (dry run)\n',
    );
    t.deepEqual(await state(t), before, 'a dry run writes nothing');
  },
);

// ---- local additions: the defaulted secretKey, a ModelProvider's secret, manifests and round trips ---

test.serial('a Provider without secretKey reads "token": applied, shown, protected, round-tripped', async (t) => {
  const manifest = file(
    t.context,
    'github-default.yaml',
    doc('Provider', 'github-default', { type: 'github', auth: { secretRef: 'github-pat' } }),
  );
  assertOk(t, await pai(t.context, ['apply', '-f', manifest]), 'provider/github-default created\n');
  assertOk(
    t,
    await pai(t.context, ['get', 'services']),
    /^NAME {12}TYPE {4}HOST {44}SECRET {12}LAST USED {2}AGE\ngithub-default {2}github {2}api\.github\.com, uploads\.github\.com, github\.com {2}github-pat\/token {2}— {10}\d+s\n$/,
  );
  const described = await pai(t.context, ['describe', 'provider', 'github-default']);
  assertOk(
    t,
    described,
    /^Hosts: {5}api\.github\.com, uploads\.github\.com, github\.com\nSecret: {4}github-pat\/token \(auth\.secretRef\)\n/m,
  );
  const yaml = await pai(t.context, ['get', 'provider', 'github-default', '-o', 'yaml']);
  assertOk(
    t,
    yaml,
    // Written in Pai's form, no default filled in.
    'apiVersion: pai.io/v1\nkind: Provider\nmetadata:\n  name: github-default\n  namespace: default\nspec:\n  type: github\n  auth:\n    secretRef: github-pat\n',
  );
  assertOk(t, await pai(t.context, ['apply', '-f', '-'], yaml.stdout), 'provider/github-default unchanged\n');
  assertOk(
    t,
    await pai(t.context, ['describe', 'secret', 'github-pat']),
    /^Referenced by:\n {2}Provider\/github-default \(auth\.secretRef\)\n$/m,
  );
  const before = await state(t);
  const replaced = await pai(t.context, ['add', 'secret', 'github-pat', '--from-literal', 'pat=renamed', '--overwrite']);
  t.deepEqual(
    [replaced.code, replaced.stdout, replaced.stderr],
    [1, '', 'error: cannot replace secret "github-pat": it is referenced by Provider/github-default (auth.secretRef)\n'],
  );
  t.deepEqual(await state(t), before);
});

test.serial('deleting a secret a ModelProvider references is refused naming it; --force reports the breakage', async (t) => {
  const manifest = file(t.context, 'gemini.yaml', YAML.stringify(exampleDocs().ModelProvider));
  assertOk(t, await pai(t.context, ['apply', '-f', manifest]), 'modelprovider/gemini created\n');
  const before = await state(t);
  const refused = await pai(t.context, ['delete', 'secret', 'gemini-key']);
  t.deepEqual(
    [refused.code, refused.stdout, refused.stderr],
    [1, '', 'error: cannot delete secret "gemini-key": it is referenced by ModelProvider/gemini (apiKeySecretRef)\n'],
  );
  t.deepEqual(await state(t), before);
  const forced = await pai(t.context, ['delete', 'secret', 'gemini-key', '--force']);
  t.is(forced.code, 0);
  t.is(forced.stdout, 'secret/gemini-key deleted\n');
  t.is(
    forced.stderr,
    'warning: these resources now reference a missing secret and will be denied until it is restored:\n' +
      '  ModelProvider/gemini (apiKeySecretRef)\n',
  );
  assertOk(
    t,
    await pai(t.context, ['describe', 'modelprovider', 'gemini']),
    /^Secret: {4}gemini-key\/api-key \(apiKeySecretRef\)$/m,
  );
  const reapplied = await pai(t.context, ['apply', '-f', manifest]);
  t.is(reapplied.code, 1);
  t.regex(
    reapplied.stderr,
    /^error: modelprovider\/gemini \(document 1 of \S+\): ModelProvider "gemini" has broken references: spec\.apiKeySecretRef\.name: secret "gemini-key" does not exist\n/,
  );
  assertOk(
    t,
    await pai(t.context, ['add', 'secret', 'gemini-key', '--from-literal', 'api-key=AIzaSyD-restored']),
    'secret/gemini-key created\n',
  );
  assertOk(t, await pai(t.context, ['apply', '-f', manifest]), 'modelprovider/gemini unchanged\n');
});

test.serial('JSON manifests: one object, a list (the -o json form), and JSON on stdin', async (t) => {
  const docs = exampleDocs();
  const list = file(t.context, 'list.json', JSON.stringify([docs.ModelProvider, docs.Provider]));
  assertOk(t, await pai(t.context, ['apply', '-f', list]), 'modelprovider/gemini unchanged\nprovider/github created\n');
  const one = {
    apiVersion: 'pai/v1',
    kind: 'Agent',
    metadata: { name: 'json-bot' },
    spec: { modelProviders: ['gemini'], egress: 'deny' },
  };
  assertOk(
    t,
    await pai(t.context, ['apply', '-f', file(t.context, 'one.json', JSON.stringify(one, null, 2))]),
    'agent/json-bot created\n',
  );
  assertOk(t, await pai(t.context, ['apply', '-f', '-'], JSON.stringify(one)), 'agent/json-bot unchanged\n');
  const got = await pai(t.context, ['get', 'agent', 'json-bot', '-o', 'json']);
  t.deepEqual(JSON.parse(got.stdout), { ...one, apiVersion: 'pai.io/v1', metadata: { name: 'json-bot', namespace: 'default' } });
});

test.serial('several -f files and --dry-run: every document is checked, none is written', async (t) => {
  const a = file(t.context, 'dry-a.yaml', agentDoc('dry-a', { providers: ['github'] }));
  const b = file(
    t.context,
    'dry-b.yaml',
    `${agentDoc('dry-b')}---\n${doc('ModelProvider', 'gemini', { type: 'gemini', apiKeySecretRef: { name: 'gemini-key', key: 'api-key' } })}`,
  );
  const before = await state(t);
  assertOk(
    t,
    await pai(t.context, ['apply', '--dry-run', '-f', a, '-f', b]),
    'modelprovider/gemini unchanged (dry run)\nagent/dry-a created (dry run)\nagent/dry-b created (dry run)\n',
  );
  t.deepEqual(await state(t), before);
  assertOk(
    t,
    await pai(t.context, ['apply', '-f', a, '-f', b]),
    'modelprovider/gemini unchanged\nagent/dry-a created\nagent/dry-b created\n',
  );
  assertOk(t, await pai(t.context, ['get', 'agents', '-o', 'name']), 'agent/dry-a\nagent/dry-b\nagent/json-bot\n');
  // An agent that would bind a Provider the same dry run creates is reported as changed, never as unchanged.
  const fresh = file(
    t.context,
    'dry-fresh.yaml',
    `${doc('Provider', 'fresh', { type: 'github', auth: { secretRef: 'github-pat' } })}---\n${agentDoc('dry-a', { providers: ['github', 'fresh'] })}`,
  );
  const after = await state(t);
  assertOk(
    t,
    await pai(t.context, ['apply', '--dry-run', '-f', fresh]),
    'provider/fresh created (dry run)\nagent/dry-a configured (dry run)\n',
  );
  t.deepEqual(await state(t), after);
});

/** Strings a YAML writer must quote for them to read back as the same strings. */
const AWKWARD_STRINGS = {
  yes: 'yes',
  off: 'Off',
  octal: '0755',
  float: '1e3',
  null: 'null',
  tilde: '~',
  empty: '',
  dash: '- x',
  colon: 'a: b',
  hash: ' #x',
  quotes: `it's "quoted"`,
  lines: 'two\nlines\n',
  spaces: '  padded  ',
  unicode: 'héllo ✓ 🚀',
  anchor: '&a *a',
  braces: '{a: [b]}',
  date: '2001-12-14',
};

test.serial('-o yaml and -o json round-trip through apply unchanged, for every kind, awkward strings included', async (t) => {
  const awkward = doc('Agent', 'awkward', { modelProviders: ['gemini'], providers: ['github'], egress: 'allow' }, {}).replace(
    '  name: awkward\n',
    `  name: awkward\n  annotations: ${JSON.stringify(AWKWARD_STRINGS)}\n  labels: {app.kubernetes.io/name: "true", tier: "123"}\n`,
  );
  assertOk(t, await pai(t.context, ['apply', '-f', file(t.context, 'awkward.yaml', awkward)]), 'agent/awkward created\n');
  const stored = JSON.parse((await pai(t.context, ['get', 'agent', 'awkward', '-o', 'json'])).stdout) as { metadata: unknown };
  t.deepEqual(stored.metadata, {
    name: 'awkward',
    namespace: 'default',
    annotations: AWKWARD_STRINGS,
    labels: { 'app.kubernetes.io/name': 'true', tier: '123' },
  });
  for (const type of ['agents', 'providers', 'modelproviders']) {
    const names = (await pai(t.context, ['get', type, '-o', 'name'])).stdout;
    t.not(names, '');
    const expected = names.replace(/\n/g, ' unchanged\n');
    for (const format of ['yaml', 'json']) {
      const out = await pai(t.context, ['get', type, '-o', format]);
      assertOk(t, out, /\S/);
      assertOk(t, await pai(t.context, ['apply', '-f', '-'], out.stdout), expected);
    }
  }
  const one = await pai(t.context, ['get', 'agent', 'awkward', '-o', 'yaml']);
  assertOk(t, await pai(t.context, ['apply', '-f', '-'], one.stdout), 'agent/awkward unchanged\n');
});

test.serial('the examples file still applies unchanged where it already is, and agents delete first', async (t) => {
  assertOk(
    t,
    await pai(t.context, ['add', 'secret', 'slack-credentials', '--from-literal', 'webhook-url=https://hooks.example/x']),
    'secret/slack-credentials created\n',
  );
  assertOk(
    t,
    await pai(t.context, ['apply', '-f', EXAMPLES]),
    'modelprovider/gemini unchanged\nprovider/github unchanged\nagent/triage-bot created\n',
  );
  for (const agent of ['awkward', 'dry-a', 'dry-b', 'json-bot', 'triage-bot']) {
    assertOk(t, await pai(t.context, ['delete', 'agent', agent]), `agent/${agent} deleted\n`);
  }
  for (const [type, name] of [
    ['provider', 'github'],
    ['provider', 'github-default'],
    ['modelprovider', 'gemini'],
  ] as const) {
    assertOk(t, await pai(t.context, ['delete', type, name]), `${type}/${name} deleted\n`);
  }
  t.deepEqual(await state(t).then((s) => [s['agents'], s['providers'], s['modelproviders']]), [[], [], []]);
});
