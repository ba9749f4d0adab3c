/**
 * Values are write-only. A canary value is written through every input path (CLI literal, file,
 * env file, stdin; API data, binaryData, PUT, PATCH; rejected writes too), then searched for, in
 * plain, base64, hex and URL forms, in everything pai lets out: API responses (errors included),
 * CLI output, the server's debug log, /metrics, the audit log and the SQLite files, while the
 * server runs and after it stops. The env-render path, the one exception, is not called here.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { type ApiResult, api } from './helpers/api.js';
import { canaryForms, assertNoCanaries, filesIn, findCanary, makeCanary } from './helpers/canary.js';
import { type CliResult, type ServeHandle, adminToken, runPai, startServe, tempDir } from './helpers/process.js';
import { openLocal } from './helpers/secrets.js';

/** One canary per input path, so that a leak names its path. */
const CANARIES = {
  literal: makeCanary('literal'),
  file: makeCanary('file'),
  envFile: makeCanary('envfile'),
  stdinFile: makeCanary('stdinfile'),
  stdinEnv: makeCanary('stdinenv'),
  overwrite: makeCanary('overwrite'),
  apiData: makeCanary('apidata'),
  apiBinary: makeCanary('apibinary'),
  put: makeCanary('put'),
  patchData: makeCanary('patchdata'),
  patchBinary: makeCanary('patchbinary'),
  // Rejected writes: never stored, and never echoed either.
  badKey: makeCanary('badkey'),
  tooLarge: makeCanary('toolarge'),
  badJson: makeCanary('badjson'),
  badType: makeCanary('badtype'),
  conflict: makeCanary('conflict'),
  forbidden: makeCanary('forbidden'),
  unauthenticated: makeCanary('unauth'),
  badPatch: makeCanary('badpatch'),
  cliNoEquals: makeCanary('noequals'),
  cliDuplicate: makeCanary('duplicate'),
  // A credential of another kind: a bearer token presented to the API.
  bearer: `pai_0123456789abcdef_${makeCanary('bearer')
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 43)
    .padEnd(43, 'x')}`,
} as const;

type CanaryName = keyof typeof CANARIES;

/** Where each stored canary should be: secret and key. */
const STORED: Partial<Record<CanaryName, [string, string]>> = {
  literal: ['cli-literal', 'token'],
  file: ['cli-file', 'key.pem'],
  envFile: ['cli-envfile', 'API_KEY'],
  stdinFile: ['cli-stdin', 'token'],
  stdinEnv: ['cli-stdin-env', 'SECRET'],
  overwrite: ['cli-literal', 'rotated'],
  apiData: ['api-data', 'token'],
  apiBinary: ['api-binary', 'blob'],
  put: ['api-put', 'token'],
  patchData: ['api-data', 'patched'],
  patchBinary: ['api-data', 'patched-bin'],
};

interface Ctx {
  root: string;
  server: ServeHandle;
  token: string;
  viewer: string;
  responses: ApiResult[];
  cli: CliResult[];
}

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const root = tempDir('pai-canary-');
  const server = await startServe({ dataDir: path.join(root, 'data'), env: { PAI_LOG_LEVEL: 'debug' } });
  t.context = { root, server, token: adminToken(server.dataDir), viewer: '', responses: [], cli: [] };
});

test.after.always(async (t) => {
  await t.context.server?.stop();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

async function call(
  t: ExecutionContext<Ctx>,
  method: string,
  p: string,
  body?: unknown,
  headers?: Record<string, string>,
  token?: string | null,
) {
  const res = await api(
    t.context.server.adminUrl,
    token === null ? undefined : (token ?? t.context.token),
    method,
    p,
    body,
    headers,
  );
  t.context.responses.push(res);
  return res;
}

async function pai(t: ExecutionContext<Ctx>, args: string[], input?: string | Buffer): Promise<CliResult> {
  const r = await runPai(args, t.context.server.env, input);
  t.context.cli.push(r);
  return r;
}

/** Asserts that none of the canaries occurs in `text`, in any encoding. */
const assertNoCanary = (t: ExecutionContext, text: string | Buffer, where: string): void =>
  assertNoCanaries(t, CANARIES, text, where);

test.serial('the search finds every encoding it claims to (control)', (t) => {
  const value = CANARIES.literal;
  for (const text of [
    value,
    Buffer.from(`xx${value}yy`).toString('base64'),
    Buffer.from(value).toString('hex'),
    encodeURIComponent(value),
  ]) {
    t.true(findCanary(text, value).length > 0, text);
  }
  t.true(canaryForms(value).length >= 6);
});

test.serial('write the canaries through every CLI input path', async (t) => {
  const files = path.join(t.context.root, 'files');
  fs.mkdirSync(files);
  const pem = path.join(files, 'key.pem');
  fs.writeFileSync(pem, `-----BEGIN-----\n${CANARIES.file}\n-----END-----\n`);
  const envFile = path.join(files, 'app.env');
  fs.writeFileSync(envFile, `# app\nAPI_KEY=${CANARIES.envFile}\nOTHER=x\n`);

  const ok = async (args: string[], input?: string): Promise<void> => {
    const r = await pai(t, args, input);
    t.is(r.code, 0, r.stderr);
  };
  await ok(['add', 'secret', 'cli-literal', '--from-literal', `token=${CANARIES.literal}`]);
  await ok(['add', 'secret', 'cli-file', '--from-file', pem]);
  await ok(['add', 'secret', 'cli-envfile', '--from-env-file', envFile]);
  await ok(['add', 'secret', 'cli-stdin', '--from-file', 'token=-'], CANARIES.stdinFile);
  await ok(['add', 'secret', 'cli-stdin-env', '--from-env-file', '-'], `SECRET=${CANARIES.stdinEnv}\n`);
  await ok([
    'add',
    'secret',
    'cli-literal',
    '--overwrite',
    '--from-literal',
    `token=${CANARIES.literal}`,
    '--from-literal',
    `rotated=${CANARIES.overwrite}`,
  ]);

  // Rejected on the CLI side or by the server: the error must not quote the value.
  const fail = async (args: string[], code: number): Promise<void> => {
    const r = await pai(t, args);
    t.is(r.code, code, r.stderr);
    t.regex(r.stderr, /^error: /);
  };
  await fail(['add', 'secret', 'cli-rejected', '--from-literal', CANARIES.cliNoEquals], 2);
  await fail(
    [
      'add',
      'secret',
      'cli-rejected',
      '--from-literal',
      `k=${CANARIES.cliDuplicate}`,
      '--from-literal',
      `k=${CANARIES.cliDuplicate}`,
    ],
    2,
  );
  await fail(['add', 'secret', 'cli-rejected', '--from-literal', `bad key=${CANARIES.badKey}`], 1);
  await fail(['add', 'secret', 'cli-literal', '--from-literal', `token=${CANARIES.conflict}`], 1);
  await fail(['add', 'secret', 'Bad_Name', '--from-literal', `token=${CANARIES.badKey}`], 1);

  // What the CLI shows about them: names, keys and sizes only.
  for (const args of [
    ['get', 'secrets'],
    ['get', 'secrets', '-o', 'json'],
    ['get', 'secrets', '-o', 'yaml'],
    ['describe', 'secret', 'cli-literal'],
  ]) {
    const r = await pai(t, args);
    t.is(r.code, 0, r.stderr);
  }
});

test.serial('write the canaries through every API input path, and through rejected requests', async (t) => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  t.is((await call(t, 'POST', '/v1/secrets', { name: 'api-data', data: { token: CANARIES.apiData } })).status, 201);
  t.is((await call(t, 'POST', '/v1/secrets', { name: 'api-binary', binaryData: { blob: b64(CANARIES.apiBinary) } })).status, 201);
  t.is((await call(t, 'POST', '/v1/secrets', { name: 'api-put', data: { token: 'first' } })).status, 201);
  t.is((await call(t, 'PUT', '/v1/secrets/api-put', { data: { token: CANARIES.put } })).status, 200);
  t.is((await call(t, 'PATCH', '/v1/secrets/api-data', { data: { patched: CANARIES.patchData } })).status, 200);
  t.is(
    (await call(t, 'PATCH', '/v1/secrets/api-data', { binaryData: { 'patched-bin': b64(CANARIES.patchBinary) } })).status,
    200,
  );

  const viewer = await call(t, 'POST', '/v1/tokens', { role: 'viewer' });
  t.context.viewer = viewer.json.token as string;

  const rejected: [number, () => Promise<ApiResult>][] = [
    [422, () => call(t, 'POST', '/v1/secrets', { name: 'rejected', data: { 'bad key': CANARIES.badKey } })],
    [422, () => call(t, 'POST', '/v1/secrets', { name: 'Bad_Name', data: { k: CANARIES.badKey } })],
    [413, () => call(t, 'POST', '/v1/secrets', { name: 'rejected', data: { k: CANARIES.tooLarge + 'x'.repeat(1024 * 1024) } })],
    [
      400,
      () =>
        call(t, 'POST', '/v1/secrets', `{"name":"rejected","data":{"k":"${CANARIES.badJson}"}`, {
          'content-type': 'application/json',
        }),
    ],
    [
      415,
      () =>
        call(t, 'POST', '/v1/secrets', `{"name":"rejected","data":{"k":"${CANARIES.badJson}"}}`, {
          'content-type': 'text/plain',
        }),
    ],
    [422, () => call(t, 'POST', '/v1/secrets', { name: 'rejected', data: { k: [CANARIES.badType] } })],
    [422, () => call(t, 'POST', '/v1/secrets', { name: 'rejected', binaryData: { k: CANARIES.badType } })],
    [409, () => call(t, 'POST', '/v1/secrets', { name: 'api-data', data: { token: CANARIES.conflict } })],
    [422, () => call(t, 'PATCH', '/v1/secrets/api-data', { data: { more: CANARIES.badPatch }, remove: ['absent'] })],
    [404, () => call(t, 'PUT', '/v1/secrets/absent', { data: { k: CANARIES.badPatch } })],
    [403, () => call(t, 'POST', '/v1/secrets', { name: 'rejected', data: { k: CANARIES.forbidden } }, {}, t.context.viewer)],
    [401, () => call(t, 'POST', '/v1/secrets', { name: 'rejected', data: { k: CANARIES.unauthenticated } }, {}, null)],
    [401, () => call(t, 'GET', '/v1/secrets', undefined, {}, CANARIES.bearer)],
    [401, () => call(t, 'GET', '/metrics', undefined, {}, CANARIES.bearer)],
  ];
  for (const [status, send] of rejected) {
    const res = await send();
    t.is(res.status, status, res.text);
    t.is(typeof res.json?.error?.code, 'string');
  }

  for (const p of ['/v1/secrets', '/v1/secrets/api-data', '/v1/secrets/api-binary', '/v1/secrets/cli-literal', '/v1/tokens']) {
    t.is((await call(t, 'GET', p)).status, 200);
  }
  t.false(
    ((await call(t, 'GET', '/v1/secrets')).json.items as { name: string }[]).some((i) => i.name === 'rejected'),
    'rejected writes stored nothing',
  );
});

test.serial('no API response, error or header carries a canary', (t) => {
  t.true(t.context.responses.length > 25);
  for (const res of t.context.responses) {
    assertNoCanary(t, res.text, `a ${res.status} response`);
    assertNoCanary(t, JSON.stringify([...res.headers.entries()]), `the headers of a ${res.status} response`);
  }
});

test.serial('no CLI output carries a canary', (t) => {
  t.true(t.context.cli.length > 10);
  for (const r of t.context.cli) {
    assertNoCanary(t, r.stdout, 'CLI stdout');
    assertNoCanary(t, r.stderr, 'CLI stderr');
  }
});

test.serial('/metrics, the debug log and the audit log carry no canary', async (t) => {
  const metrics = await call(t, 'GET', '/metrics');
  t.is(metrics.status, 200);
  t.regex(metrics.text, /pai_admin_requests_total/);
  assertNoCanary(t, metrics.text, '/metrics');

  const log = t.context.server.stderr();
  t.regex(log, /"level":"debug".*"msg":"admin request"/, 'the server logs at debug level');
  t.regex(log, /"status":401/, 'rejected requests are in the log');
  assertNoCanary(t, log, 'the server log (stderr)');
  assertNoCanary(t, t.context.server.stdout(), 'the server stdout');

  const audit = fs.readFileSync(path.join(t.context.server.dataDir, 'audit.log'), 'utf8');
  t.regex(audit, /"action":"secret.patch".*"keys":\["patched"\]/, 'the audit log names keys');
  t.regex(audit, /"code":"already_exists"/, 'the audit log records refused writes');
  assertNoCanary(t, audit, 'the audit log');
});

test.serial('the SQLite files carry no canary while the server runs', (t) => {
  const dir = t.context.server.dataDir;
  const files = filesIn(dir);
  t.true(files.includes('pai.db-wal'), 'the WAL holds the recent writes');
  t.true(fs.statSync(path.join(dir, 'pai.db-wal')).size > 0);
  for (const f of files) assertNoCanary(t, fs.readFileSync(path.join(dir, f)), `${f} (running)`);
});

test.serial('after the server stops, no file carries a canary, and every stored canary reads back', async (t) => {
  t.is(await t.context.server.stop(), 0);
  const dir = t.context.server.dataDir;
  t.true(fs.existsSync(path.join(dir, 'pai.db')));
  for (const f of filesIn(dir)) assertNoCanary(t, fs.readFileSync(path.join(dir, f)), `${f} (stopped)`);
  assertNoCanary(t, t.context.server.stderr(), 'the server log after shutdown');

  // Control: the canaries really were stored, so the searches above could have found them.
  const store = openLocal(dir);
  try {
    for (const [canary, [secret, key]] of Object.entries(STORED) as [CanaryName, [string, string]][]) {
      const value = (await store.readSecret('default', secret)).data.get(key)?.toString('utf8') ?? '';
      t.true(value.includes(CANARIES[canary]), `${canary} is stored in ${secret}/${key}`);
    }
    t.false((await store.listSecrets('default')).some((m) => m.name === 'rejected' || m.name === 'cli-rejected'));
  } finally {
    await store.close();
  }
});
