/**
 * Values stay write-only across the resource flows (acceptance 4 of the resources issue): canary
 * values are stored in secrets that ModelProviders, Providers and Agents reference, and the flows
 * run through the real CLI and the API (apply, dry runs, get and describe in every format, refused
 * deletes and rotations that carry canaries, canaries put where a value does not belong in a
 * manifest, forced deletes, env renders refused for a viewer or a NUL byte). Every output is then
 * searched, in plain, base64, hex and URL forms: API responses and headers, CLI stdout and stderr,
 * the server's debug log, /metrics, the audit log and the data files, while the server runs and
 * after it stops. The one exception is the body of a successful env render, kept apart, where the
 * canaries must be (the control).
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import YAML from 'yaml';
import { type ApiResult, api } from './helpers/api.js';
import { assertNoCanaries, filesIn, findCanary, makeCanary } from './helpers/canary.js';
import { resource } from './helpers/injector.js';
import { type CliResult, type ServeHandle, adminToken, runPai, startServe, tempDir } from './helpers/process.js';
import { pathOf } from './helpers/resource-api-cases.js';
import { openLocal } from './helpers/secrets.js';

/** One canary per way in, so that a leak names its path. */
const CANARIES = {
  mpKey: makeCanary('mpkey'),
  providerToken: makeCanary('ghtoken'),
  defaultToken: makeCanary('deftoken'),
  envValue: makeCanary('envvalue'),
  envBinary: makeCanary('envbinary'),
  spare: makeCanary('spare'),
  rotated: makeCanary('rotated'),
  // Writes refused because resources reference the secret: never stored, never echoed.
  refusedReplace: makeCanary('refusedreplace'),
  refusedPut: makeCanary('refusedput'),
  refusedPatch: makeCanary('refusedpatch'),
  // Values put where a manifest has no place for one (a misspelt field, a wrong type, …).
  misplaced: makeCanary('misplaced'),
} as const;

type CanaryName = keyof typeof CANARIES;

/** Where each stored canary is at the end: secret and key. */
const STORED: Partial<Record<CanaryName, [string, string]>> = {
  mpKey: ['gemini-key', 'api-key'],
  providerToken: ['github-pat', 'token'],
  envBinary: ['slack-credentials', 'signing-key'],
  rotated: ['slack-credentials', 'webhook-url'],
  spare: ['slack-credentials', 'spare'],
};

interface Ctx {
  root: string;
  files: string;
  server: ServeHandle;
  token: string;
  viewer: string;
  responses: ApiResult[];
  cli: CliResult[];
  /** Successful env renders (API bodies and CLI stdout): the one place values may be. */
  rendered: string[];
}

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const root = tempDir('pai-canary-resources-');
  const files = path.join(root, 'files');
  fs.mkdirSync(files);
  const server = await startServe({ dataDir: path.join(root, 'data'), env: { PAI_LOG_LEVEL: 'debug' } });
  const token = adminToken(server.dataDir);
  t.context = { root, files, server, token, viewer: '', responses: [], cli: [], rendered: [] };
  const viewer = await api(server.adminUrl, token, 'POST', '/v1/tokens', { role: 'viewer' });
  if (viewer.status !== 201) throw new Error(`setup: ${viewer.text}`);
  t.context.viewer = viewer.json.token as string;
});

test.after.always(async (t) => {
  await t.context.server?.stop();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

async function call(t: ExecutionContext<Ctx>, method: string, p: string, body?: unknown, token?: string): Promise<ApiResult> {
  const res = await api(t.context.server.adminUrl, token ?? t.context.token, method, p, body);
  t.context.responses.push(res);
  return res;
}

async function pai(
  t: ExecutionContext<Ctx>,
  args: string[],
  input?: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const r = await runPai(args, { ...t.context.server.env, ...env }, input);
  t.context.cli.push(r);
  return r;
}

/** Runs `pai ARGS`, expecting exit `code`. */
async function expectExit(t: ExecutionContext<Ctx>, code: number, args: string[], input?: string): Promise<CliResult> {
  const r = await pai(t, args, input);
  t.is(r.code, code, `pai ${args.join(' ')}: ${r.stderr}`);
  return r;
}

function writeFile(t: ExecutionContext<Ctx>, name: string, content: string): string {
  const p = path.join(t.context.files, name);
  fs.writeFileSync(p, content);
  return p;
}

const RESOURCES = [
  resource('ModelProvider', 'gemini', { type: 'gemini', apiKeySecretRef: { name: 'gemini-key', key: 'api-key' } }),
  resource('Provider', 'github', {
    type: 'github',
    hosts: ['api.github.com'],
    auth: { secretRef: 'github-pat', secretKey: 'token' },
  }),
  resource('Provider', 'github-default', { type: 'github', hosts: ['ghe.example.com'], auth: { secretRef: 'default-pat' } }),
  resource('Agent', 'triage-bot', {
    modelProviders: ['gemini'],
    providers: ['github', 'github-default'],
    env: [
      { name: 'SLACK_WEBHOOK', secretRef: { name: 'slack-credentials', key: 'webhook-url' } },
      { name: 'SIGNING_KEY', secretRef: { name: 'slack-credentials', key: 'signing-key' } },
    ],
  }),
];

/** Asserts that none of the canaries occurs in `text`, in any encoding. */
const assertNoCanary = (t: ExecutionContext, text: string | Buffer, where: string): void =>
  assertNoCanaries(t, CANARIES, text, where);

// ---- the flows --------------------------------------------------------------------------------

test.serial('apply before the secrets exist: refused, naming secrets and keys only', async (t) => {
  const manifest = writeFile(t, 'all.yaml', RESOURCES.map((r) => YAML.stringify(r)).join('---\n'));
  const r = await expectExit(t, 1, ['apply', '-f', manifest]);
  t.regex(r.stderr, /secret "gemini-key" does not exist/);
  for (const doc of RESOURCES) {
    const res = await call(t, 'PUT', `${pathOf(doc)}?dryRun=true`, doc);
    t.is(res.status, 422, res.text);
  }
});

test.serial('write the canaries into referenced secrets through the CLI and the API', async (t) => {
  await expectExit(t, 0, ['add', 'secret', 'gemini-key', '--from-literal', `api-key=${CANARIES.mpKey}`]);
  await expectExit(t, 0, [
    'add',
    'secret',
    'github-pat',
    '--from-file',
    `token=${writeFile(t, 'gh-token', CANARIES.providerToken)}`,
  ]);
  await expectExit(t, 0, ['add', 'secret', 'default-pat', '--from-file', 'token=-'], CANARIES.defaultToken);
  const created = await call(t, 'POST', '/v1/secrets', {
    name: 'slack-credentials',
    data: { 'webhook-url': CANARIES.envValue, spare: CANARIES.spare },
    binaryData: { 'signing-key': Buffer.from(CANARIES.envBinary).toString('base64') },
  });
  t.is(created.status, 201, created.text);
  const nul = await call(t, 'POST', '/v1/secrets', {
    name: 'nul-secret',
    binaryData: { value: Buffer.from('a\0b').toString('base64') },
  });
  t.is(nul.status, 201, nul.text);
});

test.serial('apply, dry runs, get and describe of every kind, in every format', async (t) => {
  const manifest = path.join(t.context.files, 'all.yaml');
  await expectExit(t, 0, ['apply', '--dry-run', '-f', manifest]);
  await expectExit(t, 0, ['apply', '-f', manifest]);
  await expectExit(t, 0, ['apply', '-f', '-'], JSON.stringify(RESOURCES));
  for (const doc of RESOURCES) {
    t.is((await call(t, 'PUT', `${pathOf(doc)}?dryRun=true`, doc)).status, 200);
    t.is((await call(t, 'PUT', pathOf(doc), doc)).json?.result, 'unchanged');
  }
  const nulAgent = resource('Agent', 'nul-bot', {
    env: [
      { name: 'SLACK_WEBHOOK', secretRef: { name: 'slack-credentials', key: 'webhook-url' } },
      { name: 'NUL', secretRef: { name: 'nul-secret', key: 'value' } },
    ],
  });
  t.is((await call(t, 'PUT', '/v1/agents/nul-bot', nulAgent)).status, 201);
  for (const type of ['agents', 'providers', 'modelproviders', 'secrets']) {
    for (const format of ['table', 'yaml', 'json', 'name']) await expectExit(t, 0, ['get', type, '-o', format]);
    t.is((await call(t, 'GET', `/v1/${type}`)).status, 200);
  }
  for (const [type, name] of [
    ['agent', 'triage-bot'],
    ['provider', 'github'],
    ['provider', 'github-default'],
    ['modelprovider', 'gemini'],
    ['secret', 'gemini-key'],
    ['secret', 'github-pat'],
    ['secret', 'default-pat'],
    ['secret', 'slack-credentials'],
  ] as const) {
    const described = await expectExit(t, 0, ['describe', type, name]);
    if (type === 'secret') t.regex(described.stdout, /^Referenced by:\n {2}\S+ \(\S+\)$/m);
    await expectExit(t, 0, ['get', type, name, '-o', 'json']);
    t.is((await call(t, 'GET', `/v1/${type === 'modelprovider' ? 'modelproviders' : `${type}s`}/${name}`)).status, 200);
  }
});

test.serial('refused deletes and rotations, some carrying canaries, are refused without echoing them', async (t) => {
  for (const secret of ['gemini-key', 'github-pat', 'default-pat', 'slack-credentials']) {
    const r = await expectExit(t, 1, ['delete', 'secret', secret]);
    t.regex(r.stderr, /^error: cannot delete secret "[a-z-]+": it is referenced by /);
    t.is((await call(t, 'DELETE', `/v1/secrets/${secret}`)).status, 409);
  }
  await expectExit(t, 1, ['delete', 'provider', 'github']);
  await expectExit(t, 1, ['delete', 'modelprovider', 'gemini']);
  await expectExit(t, 1, ['add', 'secret', 'default-pat', '--overwrite', '--from-literal', `other=${CANARIES.refusedReplace}`]);
  await expectExit(
    t,
    1,
    ['add', 'secret', 'slack-credentials', '--overwrite', '--from-file', 'spare=-'],
    CANARIES.refusedReplace,
  );
  t.is((await call(t, 'PUT', '/v1/secrets/github-pat', { data: { pat: CANARIES.refusedPut } })).status, 409);
  const patch = { data: { other: CANARIES.refusedPatch }, remove: ['api-key'] };
  t.is((await call(t, 'PATCH', '/v1/secrets/gemini-key', patch)).status, 409);
  // A rotation that keeps the referenced keys goes through.
  const rotated = await call(t, 'PATCH', '/v1/secrets/slack-credentials', { data: { 'webhook-url': CANARIES.rotated } });
  t.is(rotated.status, 200);
});

/** Manifests with a canary where no value belongs: each is refused, naming the field only. */
const MISPLACED: readonly { what: string; doc: Record<string, unknown> }[] = [
  {
    what: 'a misspelt field',
    doc: resource('ModelProvider', 'm1', {
      type: 'gemini',
      apiKey: CANARIES.misplaced,
      apiKeySecretRef: { name: 'gemini-key', key: 'api-key' },
    }),
  },
  {
    what: 'an unknown auth field',
    doc: resource('Provider', 'p1', { type: 'github', auth: { secretRef: 'github-pat', token: CANARIES.misplaced } }),
  },
  {
    what: 'a list given a string',
    doc: resource('Provider', 'p2', { type: 'github', hosts: CANARIES.misplaced, auth: { secretRef: 'github-pat' } }),
  },
  {
    what: 'credentials in a base URL',
    doc: resource('ModelProvider', 'm2', {
      type: 'openai',
      baseUrl: `https://user:${CANARIES.misplaced}@api.openai.com`,
      apiKeySecretRef: { name: 'gemini-key', key: 'api-key' },
    }),
  },
  { what: 'an enum given a value', doc: resource('Agent', 'a1', { egress: CANARIES.misplaced }) },
  {
    what: 'a value as an env name',
    doc: resource('Agent', 'a2', { env: [{ name: CANARIES.misplaced, secretRef: { name: 'gemini-key', key: 'api-key' } }] }),
  },
  {
    what: 'a value as a secret name',
    doc: resource('Agent', 'a3', { env: [{ name: 'X', secretRef: { name: CANARIES.misplaced, key: 'k' } }] }),
  },
  {
    what: 'a value as the type',
    doc: resource('Provider', 'p3', { type: CANARIES.misplaced, auth: { secretRef: 'github-pat' } }),
  },
  {
    what: 'a value as a header',
    doc: resource('Provider', 'p4', {
      type: 'http',
      hosts: ['x.example.com'],
      auth: { secretRef: 'github-pat', header: `X: ${CANARIES.misplaced}` },
    }),
  },
];

test.serial('canaries where a manifest has no place for a value are refused without being echoed', async (t) => {
  for (const { what, doc } of MISPLACED) {
    const r = await expectExit(t, 1, ['apply', '-f', writeFile(t, 'misplaced.yaml', YAML.stringify(doc))]);
    t.regex(r.stderr, /^error: nothing was applied; fix these documents first:\n/, what);
    const res = await call(t, 'PUT', pathOf(doc), doc);
    t.is(res.status, 422, `${what}: ${res.text}`);
  }
  await expectExit(
    t,
    1,
    ['apply', '-f', '-'],
    `apiVersion: pai/v1\nkind: Agent\nmetadata: {name: x}\nspec: {env: "${CANARIES.misplaced}`,
  );
  await expectExit(t, 1, ['apply', '-f', '-'], `apiVersion: ${CANARIES.misplaced}\nkind: Agent\nmetadata: {name: x}\n`);
});

test.serial(
  'env renders: refused for a viewer and for a NUL byte without a value; the exception holds the canaries',
  async (t) => {
    const viewer = { PAI_SERVER: t.context.server.adminUrl, PAI_TOKEN: t.context.viewer };
    const refused = await pai(t, ['render', 'env', 'triage-bot'], undefined, viewer);
    t.deepEqual([refused.code, refused.stdout], [1, '']);
    t.is((await call(t, 'GET', '/v1/agents/triage-bot/env', undefined, t.context.viewer)).status, 403);
    await expectExit(t, 1, ['render', 'env', 'nul-bot']);
    await expectExit(t, 1, ['render', 'env', 'nul-bot', '-o', 'json']);
    t.is((await call(t, 'GET', '/v1/agents/nul-bot/env')).status, 422);

    // The exception: kept apart from the outputs searched below.
    for (const format of ['dotenv', 'json']) {
      const r = await runPai(['render', 'env', 'triage-bot', '-o', format], t.context.server.env);
      t.is(r.code, 0, r.stderr);
      t.context.cli.push({ ...r, stdout: '' });
      t.context.rendered.push(r.stdout);
      const res = await api(t.context.server.adminUrl, t.context.token, 'GET', `/v1/agents/triage-bot/env?format=${format}`);
      t.is(res.status, 200);
      t.context.responses.push({ ...res, text: '' });
      t.context.rendered.push(res.text);
    }
    for (const body of t.context.rendered) {
      t.true(body.includes(CANARIES.rotated), 'the rendered env holds the webhook (control)');
      t.deepEqual(findCanary(body, CANARIES.mpKey), [], 'and only the env values: no model or provider key');
    }
  },
);

test.serial('a forced delete reports the breakage, and the broken render names the secret only', async (t) => {
  const forced = await expectExit(t, 0, ['delete', 'secret', 'default-pat', '--force']);
  t.regex(forced.stderr, /^warning: these resources now reference a missing secret/);
  const slack = await call(t, 'DELETE', '/v1/secrets/slack-credentials?force=true');
  t.is(slack.status, 200);
  await expectExit(t, 1, ['render', 'env', 'triage-bot']);
  t.is((await call(t, 'GET', '/v1/agents/triage-bot/env?format=dotenv')).status, 422);
  await expectExit(t, 1, ['apply', '-f', path.join(t.context.files, 'all.yaml')]);
  const restored = await call(t, 'POST', '/v1/secrets', {
    name: 'slack-credentials',
    data: { 'webhook-url': CANARIES.rotated, spare: CANARIES.spare },
    binaryData: { 'signing-key': Buffer.from(CANARIES.envBinary).toString('base64') },
  });
  t.is(restored.status, 201);
});

// yaml's own messages quote the text they refuse (a tag, a directive, a block scalar header); pai
// shows fixed words per error code instead (src/resources/yaml-documents.ts), so a credential pasted
// there never reaches the error output.
test.serial('a YAML syntax error never quotes a tag, a directive or a block scalar header it refused', async (t) => {
  for (const text of [
    `token: !${CANARIES.misplaced} x\n`,
    `%${CANARIES.misplaced}\n---\na: 1\n`,
    `token: |${CANARIES.misplaced}\n  x\n`,
  ]) {
    const r = await runPai(['apply', '-f', '-'], t.context.server.env, text);
    t.is(r.code, 1);
    assertNoCanary(t, r.stderr, 'the error of pai apply');
  }
});

// ---- the searches -------------------------------------------------------------------------------

test.serial('no API response or header carries a canary (the successful renders aside)', (t) => {
  t.true(t.context.responses.length > 40, `${t.context.responses.length} responses`);
  for (const res of t.context.responses) {
    assertNoCanary(t, res.text, `a ${res.status} response`);
    assertNoCanary(t, JSON.stringify([...res.headers.entries()]), `the headers of a ${res.status} response`);
  }
});

test.serial('no CLI output, errors included, carries a canary (the successful renders’ stdout aside)', (t) => {
  t.true(t.context.cli.length > 40, `${t.context.cli.length} CLI runs`);
  t.true(
    t.context.cli.some((r) => r.code !== 0 && r.stderr.length > 0),
    'errors were printed',
  );
  for (const r of t.context.cli) {
    assertNoCanary(t, r.stdout, 'CLI stdout');
    assertNoCanary(t, r.stderr, 'CLI stderr');
  }
});

test.serial('/metrics, the debug log and the audit log carry no canary', async (t) => {
  const metrics = await call(t, 'GET', '/metrics');
  t.is(metrics.status, 200);
  t.regex(metrics.text, /pai_admin_requests_total\{[^}]*route="\/v1\/agents\/:name\/env"/);
  assertNoCanary(t, metrics.text, '/metrics');
  const log = t.context.server.stderr();
  t.regex(log, /"level":"debug".*"route":"\/v1\/agents\/:name\/env"/, 'renders are in the debug log');
  assertNoCanary(t, log, 'the server log (stderr)');
  assertNoCanary(t, t.context.server.stdout(), 'the server stdout');
  const audit = fs.readFileSync(path.join(t.context.server.dataDir, 'audit.log'), 'utf8');
  t.regex(audit, /"action":"env\.render".*"outcome":"ok"/);
  t.regex(audit, /"action":"secret\.replace".*"code":"referenced"/);
  assertNoCanary(t, audit, 'the audit log');
});

test.serial('the data files carry no canary while the server runs', (t) => {
  const dir = t.context.server.dataDir;
  const files = filesIn(dir);
  t.true(files.includes('pai.db-wal'));
  for (const f of files) assertNoCanary(t, fs.readFileSync(path.join(dir, f)), `${f} (running)`);
});

test.serial('after the server stops no file carries a canary, and every stored canary reads back', async (t) => {
  t.is(await t.context.server.stop(), 0);
  const dir = t.context.server.dataDir;
  for (const f of filesIn(dir)) assertNoCanary(t, fs.readFileSync(path.join(dir, f)), `${f} (stopped)`);
  assertNoCanary(t, t.context.server.stderr(), 'the server log after shutdown');
  const store = openLocal(dir);
  try {
    for (const [canary, [secret, key]] of Object.entries(STORED) as [CanaryName, [string, string]][]) {
      t.is(
        (await store.readSecret('default', secret)).data.get(key)?.toString('utf8'),
        CANARIES[canary],
        `${canary} is stored in ${secret}/${key}`,
      );
    }
    t.deepEqual(
      (await store.listSecrets('default')).map((m) => m.name),
      ['gemini-key', 'github-pat', 'nul-secret', 'slack-credentials'],
      'default-pat was force-deleted; no refused write stored anything',
    );
  } finally {
    await store.close();
  }
});
