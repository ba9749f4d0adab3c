/**
 * The resources HTTP API (DESIGN §4, the resources issue), in-process on port 0: PUT/GET/DELETE of
 * agents, providers and model providers; 422 naming each broken reference; ?dryRun=true writing
 * nothing; created / configured / unchanged; the reference index on GET /v1/secrets/{name}; 409
 * for deleting or shrinking a referenced secret and for deleting a bound Provider or ModelProvider;
 * env rendering's roles; and the audit records of apply, delete and render (versions, never
 * values). Every test shares one server, so they run serially.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { type RunningServer, startServer } from '../src/main.js';
import { type ApiResult, api, detachedAgentToken } from './helpers/api.js';
import { stored } from './helpers/injector.js';
import { exampleDocs } from './helpers/cli-resource-flows.js';
import { BAD_BODIES, BROKEN_CASES, REFUSED_SECRET_WRITES, agent, github, mp, pathOf } from './helpers/resource-api-cases.js';
import { tempDir } from './helpers/process.js';
import { assertApiError, auditRecords, resourceState } from './helpers/resources-api.js';
import { caBundleEnv } from '../src/resources/agent-trust.js';

/** The six CA variables every render ends with (docs/TLS.md §4). */
const CA_LINES = caBundleEnv()
  .map((v) => `${v.name}='${v.value}'\n`)
  .join('');

interface Ctx {
  server: RunningServer;
  root: string;
  dataDir: string;
  base: string;
  /** The first token of the store (role owner). */
  admin: string;
  /** A token of role admin, which may not render. */
  ordinaryAdmin: string;
  viewer: string;
  renderer: string;
  agent: string;
}

const test = anyTest as TestFn<Ctx>;

/** The secret values of this suite: none may appear in a response but a render, nor in the audit log. */
const VALUES = {
  gemini: 'AIzaSy-api-suite-gemini-value',
  github: 'ghp_apiSuiteGithubTokenValue0000000000',
  slack: 'https://hooks.slack.com/services/T0/B0/api-suite-webhook',
  aws: 'AKIA-api-suite-access-key',
  spare: 'spare-api-suite-value',
};

/** The agent before() creates, gives a token and deletes: the suite's agent-role token. */
const TOKEN_HOLDER = 'token-holder-bot';

test.before(async (t) => {
  const root = tempDir('pai-resources-api-');
  const dataDir = path.join(root, 'data');
  const config = loadConfig({ PAI_DATA_DIR: dataDir, PAI_ADMIN_LISTEN: '127.0.0.1:0', HOME: root });
  const server = await startServer(config, { role: 'admin', logger: silentLogger() });
  t.context = { server, root, dataDir, base: `http://${server.adminAddress ?? ''}`, admin: server.bootstrapToken ?? '' } as Ctx;
  const token = async (body: Record<string, string>): Promise<string> => {
    const res = await api(t.context.base, t.context.admin, 'POST', '/v1/tokens', body);
    if (res.status !== 201) throw new Error(`token create answered ${res.status}: ${res.text}`);
    return res.json.token as string;
  };
  t.context.viewer = await token({ role: 'viewer' });
  t.context.renderer = await token({ role: 'renderer' });
  t.context.ordinaryAdmin = await token({ role: 'admin' });
  t.context.agent = await detachedAgentToken(t.context.base, t.context.admin, TOKEN_HOLDER);
  const secrets: [string, Record<string, string>][] = [
    ['gemini-key', { 'api-key': VALUES.gemini }],
    ['github-pat', { token: VALUES.github, spare: VALUES.spare }],
    ['slack-credentials', { 'webhook-url': VALUES.slack, spare: VALUES.spare }],
    ['aws-creds', { access_key_id: VALUES.aws }],
  ];
  for (const [name, data] of secrets) {
    const res = await api(t.context.base, t.context.admin, 'POST', '/v1/secrets', { name, data });
    if (res.status !== 201) throw new Error(`setup: ${res.text}`);
  }
});

test.after.always(async (t) => {
  await t.context.server?.close();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

const call = (t: ExecutionContext<Ctx>, method: string, p: string, body?: unknown, headers?: Record<string, string>) =>
  api(t.context.base, t.context.admin, method, p, body, headers);

const state = (t: ExecutionContext<Ctx>) => resourceState(t.context.base, t.context.admin);

/** The size of the audit log: unchanged means no record was written. */
const auditSize = (t: ExecutionContext<Ctx>): number => fs.statSync(path.join(t.context.dataDir, 'audit.log')).size;

// ---- authentication and roles ---------------------------------------------------------------------

test.serial('401 without a valid token on every resource path', async (t) => {
  for (const [method, p] of [
    ['GET', '/v1/agents'],
    ['GET', '/v1/providers/github'],
    ['PUT', '/v1/modelproviders/gemini'],
    ['DELETE', '/v1/agents/triage-bot'],
    ['GET', '/v1/agents/triage-bot/env'],
  ] as const) {
    for (const token of [undefined, `${t.context.admin.slice(0, -1)}X`]) {
      const res = await api(t.context.base, token, method, p, method === 'PUT' ? mp('gemini') : undefined);
      assertApiError(t, res, 401, 'unauthenticated');
    }
  }
  t.deepEqual((await call(t, 'GET', '/v1/modelproviders')).json.items, [], 'nothing was applied');
});

test.serial(
  '403 for writes by viewer and renderer tokens, 401 for agent tokens; renderer and agent may not read resources',
  async (t) => {
    const before = await state(t);
    const writes: [string, string, unknown][] = [
      ['PUT', '/v1/modelproviders/gemini', mp('gemini')],
      ['PUT', '/v1/providers/github', github('github')],
      ['PUT', '/v1/agents/bot', agent('bot', {})],
      ['DELETE', '/v1/agents/bot', undefined],
      ['DELETE', '/v1/providers/github', undefined],
      ['DELETE', '/v1/modelproviders/gemini', undefined],
    ];
    for (const role of ['viewer', 'renderer'] as const) {
      for (const [method, p, body] of writes) {
        assertApiError(
          t,
          await api(t.context.base, t.context[role], method, p, body),
          403,
          'forbidden',
          new RegExp(`^role ${role} may not ${method} `),
        );
      }
    }
    // An agent token (pai_agt_) is the gateway's: the admin API refuses it from its prefix, as unknown.
    for (const [method, p, body] of writes) {
      assertApiError(t, await api(t.context.base, t.context.agent, method, p, body), 401, 'unauthenticated');
    }
    for (const p of ['/v1/agents', '/v1/providers', '/v1/modelproviders/gemini']) {
      assertApiError(t, await api(t.context.base, t.context.renderer, 'GET', p), 403, 'forbidden');
      assertApiError(t, await api(t.context.base, t.context.agent, 'GET', p), 401, 'unauthenticated');
    }
    const viewed = await api(t.context.base, t.context.viewer, 'GET', '/v1/agents');
    t.is(viewed.status, 200);
    t.deepEqual(viewed.json, { items: [] });
    t.deepEqual(await state(t), before, 'no refused request changed anything');
  },
);

// ---- bad input: refused with the field named, nothing changes ---------------------------------

for (const { what, path: p, body, status, code, message, details } of BAD_BODIES) {
  test.serial(`PUT with ${what}: ${status} ${code}, nothing changes`, async (t) => {
    const before = await state(t);
    const headers = typeof body === 'string' ? { 'content-type': 'application/json' } : undefined;
    for (const suffix of ['', '?dryRun=true']) {
      const res = await call(t, 'PUT', `${p}${suffix}`, body, headers);
      assertApiError(t, res, status, code, message);
      if (details !== undefined) t.deepEqual(res.json.error, { code, message: res.json.error.message, ...details });
    }
    t.deepEqual(await state(t), before);
  });
}

test.serial('PUT with a body not declared as JSON: 415', async (t) => {
  const res = await call(t, 'PUT', '/v1/agents/bot', JSON.stringify(agent('bot', {})), { 'content-type': 'text/yaml' });
  assertApiError(t, res, 415, 'unsupported_media_type');
  assertApiError(t, await call(t, 'GET', '/v1/agents/bot'), 404, 'not_found', /^agent "bot" not found$/);
});

// ---- broken references: 422 naming each, for dry runs too -----------------------------------------

for (const { what, doc, broken } of BROKEN_CASES) {
  test.serial(`PUT of ${what}: 422 broken_reference naming each, dry run or not; nothing is written`, async (t) => {
    const before = await state(t);
    const kind = doc['kind'] as string;
    const name = (doc['metadata'] as { name: string }).name;
    for (const suffix of ['?dryRun=true', '']) {
      const res = await call(t, 'PUT', `${pathOf(doc)}${suffix}`, doc);
      assertApiError(t, res, 422, 'broken_reference', new RegExp(`^${kind} "${name}" has broken references: `));
      t.deepEqual(
        res.json.error.brokenReferences,
        broken.map((b) => ({ kind, name, ...b })),
      );
      for (const b of broken) t.true(String(res.json.error.message).includes(`${b.field}: ${b.message}`), b.field);
    }
    t.deepEqual(await state(t), before);
  });
}

// ---- dry runs, created / unchanged / configured --------------------------------------------------

test.serial('?dryRun=true validates and answers what would happen, writing nothing and auditing nothing', async (t) => {
  const before = await state(t);
  const size = auditSize(t);
  const res = await call(t, 'PUT', '/v1/modelproviders/gemini?dryRun=true', mp('gemini'));
  t.is(res.status, 200);
  t.deepEqual(res.json, { result: 'created', dryRun: true, resource: mp('gemini') });
  assertApiError(t, await call(t, 'GET', '/v1/modelproviders/gemini'), 404, 'not_found');
  for (const flag of ['', '1', 'true']) {
    t.is((await call(t, 'PUT', `/v1/modelproviders/gemini?dryRun=${flag}`, mp('gemini'))).json.dryRun, true, flag);
  }
  assertApiError(
    t,
    await call(t, 'PUT', '/v1/modelproviders/gemini?dryRun=maybe', mp('gemini')),
    422,
    'invalid',
    /dryRun must be true or false/,
  );
  t.deepEqual(await state(t), before, 'the store lists the same');
  t.is(auditSize(t), size, 'no audit record');
});

test.serial(
  'PUT creates (201), then answers unchanged (200, whatever the key order) and configured (200, new version)',
  async (t) => {
    const created = await call(t, 'PUT', '/v1/modelproviders/gemini', mp('gemini'));
    t.is(created.status, 201);
    t.deepEqual(created.json, { result: 'created', dryRun: false, resource: mp('gemini'), version: 1 });
    const shuffled = {
      spec: { apiKeySecretRef: { key: 'api-key', name: 'gemini-key' }, provider: 'gemini' },
      metadata: { name: 'gemini' },
      kind: 'ModelProvider',
      apiVersion: 'pai.io/v1',
    };
    // The same resource in the earlier dialect is unchanged too: one model, two spellings.
    const legacy = {
      apiVersion: 'pai/v1',
      kind: 'ModelProvider',
      metadata: { name: 'gemini' },
      spec: { type: 'gemini', apiKeySecretRef: { name: 'gemini-key', key: 'api-key' } },
    };
    for (const body of [mp('gemini'), shuffled, legacy]) {
      const again = await call(t, 'PUT', '/v1/modelproviders/gemini', body);
      t.is(again.status, 200);
      t.deepEqual([again.json.result, again.json.version], ['unchanged', 1]);
    }
    const got = await call(t, 'GET', '/v1/modelproviders/gemini');
    t.is(got.status, 200);
    t.deepEqual(Object.keys(got.json).sort(), ['createdAt', 'resource', 'updatedAt', 'version']);
    t.deepEqual(got.json.resource, mp('gemini'));

    const changed = mp('gemini', undefined, { endpoint: 'https://generativelanguage.googleapis.com' });
    const size = auditSize(t);
    const dry = await call(t, 'PUT', '/v1/modelproviders/gemini?dryRun=true', changed);
    t.deepEqual([dry.status, dry.json.result, dry.json.version], [200, 'configured', undefined]);
    t.deepEqual((await call(t, 'GET', '/v1/modelproviders/gemini')).json, got.json, 'a configured dry run writes nothing');
    t.is(auditSize(t), size);
    const configured = await call(t, 'PUT', '/v1/modelproviders/gemini', changed);
    t.is(configured.status, 200);
    t.deepEqual([configured.json.result, configured.json.version], ['configured', 2]);
    const after = (await call(t, 'GET', '/v1/modelproviders/gemini')).json;
    t.deepEqual(after.resource, changed);
    t.is(after.version, 2);
    t.is(after.createdAt, got.json.createdAt);
    t.true(Date.parse(after.updatedAt as string) >= Date.parse(got.json.updatedAt as string));
    t.is((await call(t, 'PUT', '/v1/modelproviders/gemini?dryRun=true', changed)).json.result, 'unchanged');
    t.is((await call(t, 'PUT', '/v1/modelproviders/gemini', mp('gemini'))).json.version, 3, 'and back');
  },
);

test.serial('the seed’s three reference shapes apply as written, a Provider with and without secretKey', async (t) => {
  const docs = exampleDocs();
  for (const doc of [docs.ModelProvider, docs.Provider, docs.Agent] as Record<string, unknown>[]) {
    const res = await call(t, 'PUT', pathOf(doc), doc);
    t.true(res.status === 201 || res.status === 200, res.text);
    t.deepEqual((await call(t, 'GET', pathOf(doc))).json.resource, stored(doc), 'stored as written, in namespace default');
  }
  const defaulted = github('github-default');
  t.is((await call(t, 'PUT', '/v1/providers/github-default', defaulted)).status, 201);
  t.deepEqual((await call(t, 'GET', '/v1/providers/github-default')).json.resource, defaulted, 'no default is written into it');
  const list = await call(t, 'GET', '/v1/providers');
  t.deepEqual(
    (list.json.items as { resource: { metadata: { name: string } } }[]).map((i) => i.resource.metadata.name),
    ['github', 'github-default'],
    'sorted by name',
  );
  const viewer = await api(t.context.base, t.context.viewer, 'GET', '/v1/agents/triage-bot');
  t.is(viewer.status, 200);
  t.deepEqual(viewer.json.resource, stored(docs.Agent as Record<string, unknown>));
});

test.serial('GET /v1/secrets/{name} names its referrers and how they refer to it', async (t) => {
  t.is(
    (
      await call(
        t,
        'PUT',
        '/v1/agents/second-bot',
        agent('second-bot', { env: [{ name: 'GH', secretRef: { name: 'github-pat', key: 'spare' } }] }),
      )
    ).status,
    201,
  );
  const referrers = async (secret: string): Promise<unknown> => (await call(t, 'GET', `/v1/secrets/${secret}`)).json.referencedBy;
  t.deepEqual(await referrers('gemini-key'), [
    { kind: 'ModelProvider', name: 'gemini', via: 'apiKeySecretRef', keys: ['api-key'] },
  ]);
  t.deepEqual(await referrers('github-pat'), [
    { kind: 'Provider', name: 'github', via: 'auth.secretRef', keys: ['token'] },
    { kind: 'Provider', name: 'github-default', via: 'auth.secretRef', keys: ['token'] },
    { kind: 'Agent', name: 'second-bot', via: 'env[].secretRef', keys: ['spare'] },
  ]);
  t.deepEqual(await referrers('slack-credentials'), [
    { kind: 'Agent', name: 'triage-bot', via: 'env[].secretRef', keys: ['webhook-url'] },
  ]);
  t.deepEqual(await referrers('aws-creds'), []);
  const viewer = await api(t.context.base, t.context.viewer, 'GET', '/v1/secrets/slack-credentials');
  t.deepEqual(viewer.json.referencedBy, await referrers('slack-credentials'), 'viewers see referrers too');
});

// ---- protection of what is referenced -------------------------------------------------------------

for (const { what, method, path: p, body, message, referencedBy } of REFUSED_SECRET_WRITES) {
  test.serial(`409 for ${what}, with the referrers in details.referencedBy; nothing changes`, async (t) => {
    const before = await state(t);
    const res = await call(t, method, p, body);
    assertApiError(t, res, 409, 'referenced', message);
    t.deepEqual(res.json.error.referencedBy, referencedBy);
    t.deepEqual(await state(t), before);
  });
}

test.serial('writes that keep every referenced key go through', async (t) => {
  const put = await call(t, 'PUT', '/v1/secrets/slack-credentials', { data: { 'webhook-url': VALUES.slack, extra: 'e' } });
  t.is(put.status, 200, put.text);
  t.is(put.json.version, 2);
  const patch = await call(t, 'PATCH', '/v1/secrets/slack-credentials', { remove: ['extra'] });
  t.is(patch.status, 200, patch.text);
  t.deepEqual(patch.json.keys, ['webhook-url']);
  const rotate = await call(t, 'PATCH', '/v1/secrets/gemini-key', { data: { 'api-key': VALUES.gemini } });
  t.is(rotate.status, 200, 'rotating the referenced key itself is fine');
});

test.serial('409 for deleting a Provider or ModelProvider an Agent binds, naming the agents', async (t) => {
  const before = await state(t);
  const cases = [
    ['/v1/providers/github', /^cannot delete Provider "github": agents triage-bot use it$/, 'spec.providers'],
    ['/v1/modelproviders/gemini', /^cannot delete ModelProvider "gemini": agents triage-bot use it$/, 'spec.models'],
  ] as const;
  for (const [p, message, via] of cases) {
    const res = await call(t, 'DELETE', p);
    assertApiError(t, res, 409, 'referenced', message);
    t.deepEqual(res.json.error.referencedBy, [{ kind: 'Agent', name: 'triage-bot', via }]);
  }
  t.deepEqual(await state(t), before);
});

test.serial('404 for what does not exist; 405 for a method a path does not take', async (t) => {
  for (const p of ['/v1/agents/nobody', '/v1/providers/nobody', '/v1/modelproviders/nobody']) {
    assertApiError(t, await call(t, 'GET', p), 404, 'not_found', /"nobody" not found$/);
    assertApiError(t, await call(t, 'DELETE', p), 404, 'not_found', /"nobody" not found$/);
  }
  assertApiError(t, await call(t, 'GET', '/v1/agents/triage-bot/extra'), 404, 'not_found');
  const post = await call(t, 'POST', '/v1/agents', agent('bot', {}));
  assertApiError(t, post, 405, 'method_not_allowed');
  t.is(post.headers.get('allow'), 'GET');
  assertApiError(t, await call(t, 'GET', '/v1/agents/Not_A_Name'), 422, 'invalid', /"Not_A_Name"/);
});

// ---- env rendering: roles and errors (the values themselves: test/env-render.test.ts) -------------

test.serial(
  'GET /v1/agents/{name}/env: renderer and owner only; admin and viewer tokens get 403, agent tokens 401, and no value',
  async (t) => {
    for (const role of ['admin', 'viewer', 'agent'] as const) {
      for (const format of ['json', 'dotenv']) {
        const token = role === 'admin' ? t.context.ordinaryAdmin : t.context[role];
        const res = await api(t.context.base, token, 'GET', `/v1/agents/triage-bot/env?format=${format}`);
        if (role === 'agent') assertApiError(t, res, 401, 'unauthenticated');
        else assertApiError(t, res, 403, 'forbidden', new RegExp(`^role ${role} may not GET /v1/agents/:name/env$`));
        t.false(res.text.includes(VALUES.slack));
      }
    }
    const json = await api(t.context.base, t.context.renderer, 'GET', '/v1/agents/triage-bot/env');
    t.is(json.status, 200);
    t.deepEqual(json.json, {
      agent: 'triage-bot',
      secretVersions: { 'slack-credentials': 3 },
      items: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'SLACK_WEBHOOK', value: VALUES.slack }, ...caBundleEnv()],
    });
    const dotenv = await call(t, 'GET', '/v1/agents/triage-bot/env?format=dotenv');
    t.is(dotenv.status, 200);
    t.regex(dotenv.headers.get('content-type') ?? '', /^text\/plain/);
    t.is(
      dotenv.text,
      `# pai render env triage-bot: secret versions slack-credentials@3\nLOG_LEVEL='info'\nSLACK_WEBHOOK='${VALUES.slack}'\n${CA_LINES}`,
    );
    const second = await call(t, 'GET', '/v1/agents/second-bot/env?format=dotenv');
    t.is(second.text, `# pai render env second-bot: secret versions github-pat@1\nGH='${VALUES.spare}'\n${CA_LINES}`);
  },
);

test.serial('env rendering errors: 404 for an unknown agent, 422 for an unknown format', async (t) => {
  assertApiError(t, await call(t, 'GET', '/v1/agents/nobody/env'), 404, 'not_found', /^agent "nobody" not found$/);
  assertApiError(
    t,
    await call(t, 'GET', '/v1/agents/triage-bot/env?format=yaml'),
    422,
    'invalid',
    /^format must be json or dotenv$/,
  );
});

// ---- forced deletion, then clean-up --------------------------------------------------------------

test.serial('DELETE ?force=true deletes a referenced secret and lists what it broke; rendering then names it', async (t) => {
  const res = await call(t, 'DELETE', '/v1/secrets/slack-credentials?force=true');
  t.is(res.status, 200);
  t.deepEqual(res.json, {
    deleted: 'slack-credentials',
    broken: [{ kind: 'Agent', name: 'triage-bot', via: 'env[].secretRef', keys: ['webhook-url'] }],
  });
  assertApiError(t, await call(t, 'GET', '/v1/secrets/slack-credentials'), 404, 'not_found');
  const render = await call(t, 'GET', '/v1/agents/triage-bot/env');
  assertApiError(
    t,
    render,
    422,
    'broken_reference',
    /^cannot render env of agent "triage-bot": spec\.env\[1\] \(SLACK_WEBHOOK\): secret "slack-credentials" does not exist$/,
  );
  const reapply = await call(t, 'PUT', '/v1/agents/triage-bot', exampleDocs().Agent);
  assertApiError(t, reapply, 422, 'broken_reference', /secret "slack-credentials" does not exist/);
  t.is((await call(t, 'GET', '/v1/agents/triage-bot')).json.version, 1, 'the broken agent stays as it was');
});

test.serial('DELETE removes resources once nothing binds them', async (t) => {
  const steps: [string, string][] = [
    ['/v1/agents/triage-bot', 'Agent/triage-bot'],
    ['/v1/agents/second-bot', 'Agent/second-bot'],
    ['/v1/providers/github', 'Provider/github'],
    ['/v1/providers/github-default', 'Provider/github-default'],
    ['/v1/modelproviders/gemini', 'ModelProvider/gemini'],
  ];
  for (const [p, deleted] of steps) {
    const res = await call(t, 'DELETE', p);
    t.is(res.status, 200, res.text);
    t.deepEqual(res.json, { deleted });
    assertApiError(t, await call(t, 'GET', p), 404, 'not_found');
  }
  t.deepEqual((await call(t, 'GET', '/v1/secrets/github-pat')).json.referencedBy, []);
  t.is((await call(t, 'DELETE', '/v1/secrets/gemini-key')).status, 200, 'no longer referenced');
});

// ---- the audit log --------------------------------------------------------------------------------

test.serial('apply, delete and render are audited with versions and outcomes, never a value', (t) => {
  // Without the set-up's agent, made and deleted in before() only to hold an agent token.
  const records = auditRecords(t.context.dataDir).filter((r) => r.name !== TOKEN_HOLDER);
  const find = (pred: (r: (typeof records)[number]) => boolean) => records.filter(pred);
  const applied = find((r) => r.action === 'resource.apply' && r.kind === 'ModelProvider' && r.outcome === 'ok');
  t.deepEqual(
    applied.map((r) => r.detail),
    [
      { result: 'created', version: 1 },
      { result: 'configured', version: 2 },
      { result: 'configured', version: 3 },
    ],
    'created and configured are audited with the version written; unchanged and dry runs are not',
  );
  t.deepEqual(applied[0]?.actor.role, 'owner');
  const broken = find((r) => r.action === 'resource.apply' && r.outcome === 'error');
  t.true(broken.length >= BROKEN_CASES.length);
  t.true(broken.every((r) => r.code === 'broken_reference'));
  t.is(find((r) => r.name === 'aws').length, 1, 'the aws provider: one refused apply, its dry run not audited');
  t.deepEqual(
    find((r) => r.action === 'resource.delete' && r.outcome === 'ok').map((r) => [r.kind, r.name, r.detail]),
    [
      ['Agent', 'triage-bot', { version: 1 }],
      ['Agent', 'second-bot', { version: 1 }],
      ['Provider', 'github', { version: 1 }],
      ['Provider', 'github-default', { version: 1 }],
      ['ModelProvider', 'gemini', { version: 3 }],
    ],
  );
  t.deepEqual(
    find((r) => r.action === 'resource.delete' && r.outcome === 'error').map((r) => [r.kind, r.name, r.code]),
    [
      ['Provider', 'github', 'referenced'],
      ['ModelProvider', 'gemini', 'referenced'],
      ['Agent', 'nobody', 'not_found'],
      ['Provider', 'nobody', 'not_found'],
      ['ModelProvider', 'nobody', 'not_found'],
    ],
  );
  const renders = find((r) => r.action === 'env.render');
  const ok = renders.find((r) => r.outcome === 'ok' && r.actor.role === 'renderer');
  t.deepEqual(ok?.keys, ['LOG_LEVEL', 'SLACK_WEBHOOK', ...caBundleEnv().map((v) => v.name)]);
  t.deepEqual(ok?.detail, {
    format: 'json',
    refs: [
      { env: 'LOG_LEVEL', literal: true },
      { env: 'SLACK_WEBHOOK', secret: 'slack-credentials', key: 'webhook-url' },
      ...caBundleEnv().map((v) => ({ env: v.name, caBundle: v.value })),
    ],
    secretVersions: { 'slack-credentials': 3 },
  });
  t.deepEqual(
    renders.filter((r) => r.outcome === 'error').map((r) => [r.name, r.code]),
    [
      ['nobody', 'not_found'],
      ['triage-bot', 'broken_reference'],
    ],
  );
  t.false(
    renders.some((r) => r.actor.role === 'viewer' || r.actor.role === 'agent'),
    'refused callers rendered nothing',
  );
  const text = fs.readFileSync(path.join(t.context.dataDir, 'audit.log'), 'utf8');
  for (const [name, value] of Object.entries(VALUES)) t.false(text.includes(value), `no ${name} value in the audit log`);
});

test.serial('no response but a render carried a secret value', async (t) => {
  const responses: ApiResult[] = [];
  for (const p of ['/v1/secrets', '/v1/secrets/github-pat', '/v1/agents', '/v1/providers', '/v1/modelproviders', '/metrics']) {
    responses.push(await call(t, 'GET', p));
  }
  for (const res of responses) {
    t.is(res.status, 200);
    for (const value of Object.values(VALUES)) t.false(res.text.includes(value));
  }
});
