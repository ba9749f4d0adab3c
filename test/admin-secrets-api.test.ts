/**
 * The secrets and tokens HTTP API (DESIGN §4), in-process on port 0: status codes, error bodies
 * `{"error": {"code", "message"}}`, authentication and roles, body limits and parsing, PATCH
 * semantics, token create/list/revoke. Every test shares one server, so they run serially.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { type RunningServer, startServer } from '../src/main.js';
import { type ApiResult, api, detachedAgentToken } from './helpers/api.js';
import { tempDir } from './helpers/process.js';

interface Ctx {
  server: RunningServer;
  root: string;
  dataDir: string;
  base: string;
  admin: string;
  viewer: string;
  renderer: string;
  agent: string;
  /** Added to the server's clock (token expiry). */
  clock: { offsetMs: number };
}

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const root = tempDir('pai-api-');
  const dataDir = path.join(root, 'data');
  const clock = { offsetMs: 0 };
  const config = loadConfig({ PAI_DATA_DIR: dataDir, PAI_ADMIN_LISTEN: '127.0.0.1:0', HOME: root });
  const server = await startServer(config, {
    role: 'admin',
    logger: silentLogger(),
    now: () => new Date(Date.now() + clock.offsetMs),
  });
  const base = `http://${server.adminAddress ?? ''}`;
  const admin = server.bootstrapToken ?? '';
  const token = async (body: Record<string, string>): Promise<string> => {
    const res = await api(base, admin, 'POST', '/v1/tokens', body);
    if (res.status !== 201) throw new Error(`token create answered ${res.status}: ${res.text}`);
    return res.json.token as string;
  };
  t.context = {
    server,
    root,
    dataDir,
    base,
    admin,
    clock,
    viewer: await token({ role: 'viewer' }),
    renderer: await token({ role: 'renderer' }),
    agent: await detachedAgentToken(base, admin, 'some-agent'),
  };
});

test.after.always(async (t) => {
  await t.context.server?.close();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

/** Asserts an error response: status, JSON content type and `{"error": {"code", "message"}}`. */
function assertError(t: ExecutionContext, res: ApiResult, status: number, code: string, message?: RegExp): void {
  t.is(res.status, status, res.text);
  t.regex(res.headers.get('content-type') ?? '', /^application\/json/);
  t.is(res.json?.error?.code, code, res.text);
  t.is(typeof res.json?.error?.message, 'string');
  t.true((res.json?.error?.message ?? '').length > 0);
  if (message) t.regex(res.json.error.message as string, message);
}

const call = (t: ExecutionContext<Ctx>, method: string, p: string, body?: unknown, headers?: Record<string, string>) =>
  api(t.context.base, t.context.admin, method, p, body, headers);

const listNames = async (t: ExecutionContext<Ctx>): Promise<string[]> =>
  ((await call(t, 'GET', '/v1/secrets')).json.items as { name: string }[]).map((i) => i.name);

/** Sends raw bytes with full control of headers (and optional chunked encoding). */
function rawRequest(
  base: string,
  method: string,
  p: string,
  headers: http.OutgoingHttpHeaders,
  body: Buffer,
): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const url = new URL(p, base);
    const req = http.request({ method, host: url.hostname, port: url.port, path: url.pathname, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }),
      );
    });
    // The server may answer and close before the whole body is sent: that answer is what we want.
    req.on('error', reject);
    req.end(body);
  });
}

// ---- authentication -------------------------------------------------------------------------

const unauthenticated: { what: string; header: string | undefined }[] = [
  { what: 'no Authorization header', header: undefined },
  { what: 'a Basic scheme', header: 'Basic dXNlcjpwYXNz' },
  { what: 'an empty bearer', header: 'Bearer ' },
  { what: 'a malformed token', header: 'Bearer not-a-pai-token' },
  { what: 'a well-formed unknown token', header: `Bearer pai_0123456789abcdef_${'A'.repeat(43)}` },
  { what: 'an oversized bearer', header: `Bearer ${'x'.repeat(600)}` },
];

for (const { what, header } of unauthenticated) {
  test.serial(`401 with WWW-Authenticate for ${what}`, async (t) => {
    for (const [method, p] of [
      ['GET', '/v1/secrets'],
      ['POST', '/v1/secrets'],
      ['GET', '/v1/secrets/anything'],
      ['GET', '/v1/tokens'],
      ['GET', '/metrics'],
    ] as const) {
      const res = await api(
        t.context.base,
        undefined,
        method,
        p,
        undefined,
        header === undefined ? {} : { authorization: header },
      );
      assertError(t, res, 401, 'unauthenticated');
      t.is(res.headers.get('www-authenticate'), 'Bearer realm="pai"', `${method} ${p}`);
    }
  });
}

test.serial('a wrong token changes nothing', async (t) => {
  const res = await api(t.context.base, `${t.context.admin.slice(0, -1)}X`, 'POST', '/v1/secrets', {
    name: 'sneaky',
    data: { k: 'v' },
  });
  assertError(t, res, 401, 'unauthenticated', /^invalid, expired or revoked token$/);
  t.false((await listNames(t)).includes('sneaky'));
});

test.serial('health endpoints need no token; readiness reflects the store', async (t) => {
  const health = await api(t.context.base, undefined, 'GET', '/healthz');
  t.is(health.status, 200);
  t.deepEqual(health.json, { status: 'ok' });
  const ready = await api(t.context.base, undefined, 'GET', '/readyz');
  t.is(ready.status, 200);
  t.deepEqual(ready.json, { status: 'ready' });
});

test.serial('an expired token is refused with the same message as an unknown one', async (t) => {
  const created = await call(t, 'POST', '/v1/tokens', { role: 'viewer', ttl: '1h' });
  t.is(created.status, 201);
  t.is(typeof created.json.expiresAt, 'string');
  const token = created.json.token as string;
  t.is((await api(t.context.base, token, 'GET', '/v1/secrets')).status, 200);
  t.context.clock.offsetMs = 2 * 3_600_000;
  try {
    assertError(
      t,
      await api(t.context.base, token, 'GET', '/v1/secrets'),
      401,
      'unauthenticated',
      /^invalid, expired or revoked token$/,
    );
    t.is((await call(t, 'GET', '/v1/secrets')).status, 200, 'the first token (90 days) still works');
  } finally {
    t.context.clock.offsetMs = 0;
  }
});

// ---- roles ----------------------------------------------------------------------------------

test.serial('403 for roles that may not write, and nothing changes', async (t) => {
  await call(t, 'POST', '/v1/secrets', { name: 'guarded', data: { k: 'v' } });
  const writes: [string, string, unknown][] = [
    ['POST', '/v1/secrets', { name: 'by-viewer', data: { k: 'v' } }],
    ['PUT', '/v1/secrets/guarded', { data: { k: 'changed' } }],
    ['PATCH', '/v1/secrets/guarded', { data: { k2: 'added' } }],
    ['DELETE', '/v1/secrets/guarded', undefined],
    ['POST', '/v1/tokens', { role: 'admin' }],
    ['GET', '/v1/tokens', undefined],
    ['POST', '/v1/admin/master-key/rotate', {}],
  ];
  for (const [role, token] of [
    ['viewer', t.context.viewer],
    ['renderer', t.context.renderer],
  ] as const) {
    for (const [method, p, body] of writes) {
      const res = await api(t.context.base, token, method, p, body);
      assertError(t, res, 403, 'forbidden', new RegExp(`^role ${role} may not ${method} `));
    }
  }
  // An agent token (pai_agt_) is refused by the admin API from its prefix, before any lookup.
  for (const [method, p, body] of writes) {
    assertError(t, await api(t.context.base, t.context.agent, method, p, body), 401, 'unauthenticated');
  }
  const guarded = await call(t, 'GET', '/v1/secrets/guarded');
  t.is(guarded.json.version, 1);
  t.deepEqual(guarded.json.keys, ['k']);
  t.false((await listNames(t)).includes('by-viewer'));
});

test.serial('viewers read metadata; renderers and agents may not list secrets', async (t) => {
  t.is((await api(t.context.base, t.context.viewer, 'GET', '/v1/secrets')).status, 200);
  t.is((await api(t.context.base, t.context.viewer, 'GET', '/v1/secrets/guarded')).status, 200);
  assertError(t, await api(t.context.base, t.context.renderer, 'GET', '/v1/secrets'), 403, 'forbidden');
  assertError(t, await api(t.context.base, t.context.agent, 'GET', '/v1/secrets/guarded'), 401, 'unauthenticated');
});

test.serial('/metrics: admin and viewer tokens only (an agent token is for the gateway, never the admin API)', async (t) => {
  t.is((await api(t.context.base, t.context.viewer, 'GET', '/metrics')).status, 200);
  assertError(t, await api(t.context.base, t.context.agent, 'GET', '/metrics'), 401, 'unauthenticated');
  assertError(t, await api(t.context.base, t.context.renderer, 'GET', '/metrics'), 403, 'forbidden');
});

// ---- routing --------------------------------------------------------------------------------

test.serial('404 for unknown paths and unknown secrets', async (t) => {
  assertError(t, await call(t, 'GET', '/v1/nothing-here'), 404, 'not_found');
  assertError(t, await call(t, 'GET', '/v2/secrets'), 404, 'not_found');
  assertError(t, await call(t, 'GET', '/v1/secrets/no-such-secret'), 404, 'not_found', /^secret "no-such-secret" not found$/);
  assertError(t, await call(t, 'PUT', '/v1/secrets/no-such-secret', { data: { k: 'v' } }), 404, 'not_found');
  assertError(t, await call(t, 'PATCH', '/v1/secrets/no-such-secret', { data: { k: 'v' } }), 404, 'not_found');
  assertError(t, await call(t, 'DELETE', '/v1/secrets/no-such-secret'), 404, 'not_found');
  t.false((await listNames(t)).includes('no-such-secret'), 'PUT and PATCH never create');
});

test.serial('405 with Allow for a known path and another method', async (t) => {
  const list = await call(t, 'DELETE', '/v1/secrets');
  assertError(t, list, 405, 'method_not_allowed');
  t.is(list.headers.get('allow'), 'GET, POST');
  const one = await call(t, 'POST', '/v1/secrets/guarded', { data: {} });
  assertError(t, one, 405, 'method_not_allowed');
  t.is(one.headers.get('allow'), 'GET, PUT, PATCH, DELETE');
});

test.serial('names in the path are validated before they reach the store', async (t) => {
  for (const p of ['/v1/secrets/Bad_Name', '/v1/secrets/..%2Fetc', `/v1/secrets/${'a'.repeat(64)}`, '/v1/secrets/a%2Fb']) {
    assertError(t, await call(t, 'GET', p), 422, 'invalid', /^invalid secret name /);
  }
  assertError(t, await call(t, 'GET', '/v1/secrets/%E0%A4%A'), 400, 'bad_request', /percent-encoding/);
});

// ---- bodies ---------------------------------------------------------------------------------

test.serial('415 for a body that is not declared as JSON', async (t) => {
  const body = JSON.stringify({ name: 'typed', data: { k: 'v' } });
  assertError(t, await call(t, 'POST', '/v1/secrets', body, { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
  assertError(t, await call(t, 'POST', '/v1/secrets', body), 415, 'unsupported_media_type');
  assertError(
    t,
    await call(t, 'POST', '/v1/secrets', body, { 'content-type': 'application/x-www-form-urlencoded' }),
    415,
    'unsupported_media_type',
  );
  const ok = await call(t, 'POST', '/v1/secrets', body, { 'content-type': 'Application/JSON; charset=utf-8' });
  t.is(ok.status, 201, 'parameters and case in the media type are fine');
});

const badBodies: { what: string; body: string | Buffer; code: string; status: number; message: RegExp }[] = [
  { what: 'malformed JSON', body: '{"name": "x", "data": {', status: 400, code: 'bad_request', message: /not valid JSON/ },
  { what: 'an empty body', body: '', status: 400, code: 'bad_request', message: /not valid JSON/ },
  { what: 'a JSON array', body: '[{"name":"x"}]', status: 400, code: 'bad_request', message: /must be a JSON object/ },
  { what: 'a JSON string', body: '"x"', status: 400, code: 'bad_request', message: /must be a JSON object/ },
  { what: 'null', body: 'null', status: 400, code: 'bad_request', message: /must be a JSON object/ },
  {
    what: 'invalid UTF-8',
    body: Buffer.concat([Buffer.from('{"name":"utf","data":{"k":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}')]),
    status: 400,
    code: 'bad_request',
    message: /not valid UTF-8/,
  },
  {
    what: 'nesting 33 levels deep',
    body: `{"name":"deep","data":{"k":"v"},"x":${'['.repeat(32)}${']'.repeat(32)}}`,
    status: 400,
    code: 'bad_request',
    message: /nests deeper than 32/,
  },
  {
    what: 'nesting 100,000 levels deep',
    body: `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
    status: 400,
    code: 'bad_request',
    message: /nests deeper than 32/,
  },
  {
    what: 'a numeric name',
    body: '{"name":5,"data":{"k":"v"}}',
    status: 422,
    code: 'invalid',
    message: /^name must be a string$/,
  },
  { what: 'no name', body: '{"data":{"k":"v"}}', status: 422, code: 'invalid', message: /^name is required$/ },
  { what: 'data as a list', body: '{"name":"x","data":["v"]}', status: 422, code: 'invalid', message: /^data must be an object/ },
  {
    what: 'data as a string',
    body: '{"name":"x","data":"k=v"}',
    status: 422,
    code: 'invalid',
    message: /^data must be an object/,
  },
  {
    what: 'a numeric value',
    body: '{"name":"x","data":{"k":1}}',
    status: 422,
    code: 'invalid',
    message: /^data\.k must be a string$/,
  },
  {
    what: 'a null value',
    body: '{"name":"x","data":{"k":null}}',
    status: 422,
    code: 'invalid',
    message: /^data\.k must be a string$/,
  },
  {
    what: 'binaryData not base64',
    body: '{"name":"x","binaryData":{"k":"@@@@"}}',
    status: 422,
    code: 'invalid',
    message: /must be base64/,
  },
  {
    what: 'binaryData badly padded',
    body: '{"name":"x","binaryData":{"k":"abc"}}',
    status: 422,
    code: 'invalid',
    message: /must be base64/,
  },
  {
    what: 'a key in data and binaryData',
    body: '{"name":"x","data":{"k":"v"},"binaryData":{"k":"dg=="}}',
    status: 422,
    code: 'invalid',
    message: /given twice/,
  },
  {
    what: 'an unknown field',
    body: '{"name":"x","data":{"k":"v"},"stringData":{}}',
    status: 422,
    code: 'invalid',
    message: /unknown field "stringData"/,
  },
  {
    what: 'an invalid name',
    body: '{"name":"Not_DNS","data":{"k":"v"}}',
    status: 422,
    code: 'invalid',
    message: /^invalid secret name "Not_DNS"/,
  },
  {
    what: 'a 64-character name',
    body: `{"name":"${'a'.repeat(64)}","data":{"k":"v"}}`,
    status: 422,
    code: 'invalid',
    message: /at most 63/,
  },
  {
    what: 'an invalid key',
    body: '{"name":"x","data":{"bad key":"v"}}',
    status: 422,
    code: 'invalid',
    message: /^invalid key "bad key"/,
  },
  {
    what: 'the key ".."',
    body: '{"name":"x","data":{"..":"v"}}',
    status: 422,
    code: 'invalid',
    message: /must not be "\." or "\.\."/,
  },
  { what: 'no keys', body: '{"name":"x","data":{}}', status: 422, code: 'invalid', message: /at least one key/ },
];

for (const { what, body, status, code, message } of badBodies) {
  test.serial(`POST /v1/secrets with ${what} answers ${status} ${code} and creates nothing`, async (t) => {
    const before = await listNames(t);
    const res = await call(t, 'POST', '/v1/secrets', body, { 'content-type': 'application/json' });
    assertError(t, res, status, code, message);
    t.deepEqual(await listNames(t), before);
  });
}

test.serial('413 for a body over 4 MiB, declared or streamed, and nothing is created', async (t) => {
  const big = Buffer.from(JSON.stringify({ name: 'huge', data: { k: 'x'.repeat(4 * 1024 * 1024) } }));
  const declared = await rawRequest(
    t.context.base,
    'POST',
    '/v1/secrets',
    { authorization: `Bearer ${t.context.admin}`, 'content-type': 'application/json', 'content-length': big.length },
    big,
  );
  t.is(declared.status, 413);
  t.is(JSON.parse(declared.text).error.code, 'too_large');
  const streamed = await rawRequest(
    t.context.base,
    'POST',
    '/v1/secrets',
    { authorization: `Bearer ${t.context.admin}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    big,
  );
  t.is(streamed.status, 413);
  t.regex(JSON.parse(streamed.text).error.message as string, /exceeds the limit of 4194304 bytes/);
  t.false((await listNames(t)).includes('huge'));
});

test.serial('413 for a secret over 1 MiB; exactly 1 MiB is accepted', async (t) => {
  const mib = 1024 * 1024;
  const over = await call(t, 'POST', '/v1/secrets', { name: 'too-big', data: { a: 'x'.repeat(mib - 10), b: 'y'.repeat(11) } });
  assertError(t, over, 413, 'too_large', /holds 1048577 bytes; the limit is 1048576/);
  t.false((await listNames(t)).includes('too-big'));
  const exact = await call(t, 'POST', '/v1/secrets', {
    name: 'just-fits',
    binaryData: { a: Buffer.alloc(mib, 7).toString('base64') },
  });
  t.is(exact.status, 201);
  const grow = await call(t, 'PATCH', '/v1/secrets/just-fits', { data: { b: 'z' } });
  assertError(t, grow, 413, 'too_large', /would hold 1048577 bytes/);
  t.is((await call(t, 'GET', '/v1/secrets/just-fits')).json.version, 1);
});

// ---- create, read, replace, patch, delete ---------------------------------------------------

test.serial('create answers 201 with metadata only; a second create is 409', async (t) => {
  const res = await call(t, 'POST', '/v1/secrets', { name: 'gemini-key', data: { 'api-key': 'AIzaSy-test-value' } });
  t.is(res.status, 201);
  t.deepEqual(Object.keys(res.json).sort(), ['createdAt', 'keys', 'name', 'updatedAt', 'version']);
  t.is(res.json.name, 'gemini-key');
  t.deepEqual(res.json.keys, ['api-key']);
  t.is(res.json.version, 1);
  t.false(res.text.includes('AIzaSy-test-value'));
  const again = await call(t, 'POST', '/v1/secrets', { name: 'gemini-key', data: { 'api-key': 'other' } });
  assertError(t, again, 409, 'already_exists', /^secret "gemini-key" already exists$/);
  t.is(
    (await call(t, 'GET', '/v1/secrets/gemini-key')).json.keySizes['api-key'],
    'AIzaSy-test-value'.length,
    'the original is kept',
  );
});

test.serial('list and describe show key names, sizes, times and versions', async (t) => {
  await call(t, 'POST', '/v1/secrets', {
    name: 'aws-creds',
    data: { access_key_id: 'AKIAIOSFODNN7EXAMPLE' },
    binaryData: { secret_access_key: Buffer.from('wJalrXUtnFEMI/K7MDENG').toString('base64') },
  });
  const list = await call(t, 'GET', '/v1/secrets');
  t.is(list.status, 200);
  const names = (list.json.items as { name: string }[]).map((i) => i.name);
  t.deepEqual(names, [...names].sort(), 'sorted by name');
  const item = (list.json.items as Record<string, unknown>[]).find((i) => i['name'] === 'aws-creds');
  t.deepEqual(item?.['keys'], ['access_key_id', 'secret_access_key']);
  t.is(item?.['version'], 1);
  t.false(Number.isNaN(Date.parse(String(item?.['createdAt']))));
  const one = await call(t, 'GET', '/v1/secrets/aws-creds');
  t.deepEqual(one.json.keySizes, { access_key_id: 20, secret_access_key: 21 });
  t.deepEqual(one.json.referencedBy, []);
  t.is(one.json.createdAt, item?.['createdAt']);
});

test.serial('PUT replaces every key and bumps the version; a mismatched name is refused', async (t) => {
  const before = (await call(t, 'GET', '/v1/secrets/aws-creds')).json;
  const res = await call(t, 'PUT', '/v1/secrets/aws-creds', { data: { access_key_id: 'AKIANEW', session_token: 'tok' } });
  t.is(res.status, 200);
  t.deepEqual(res.json.keys, ['access_key_id', 'session_token']);
  t.is(res.json.version, before.version + 1);
  t.is(res.json.createdAt, before.createdAt);
  t.true(Date.parse(res.json.updatedAt as string) >= Date.parse(before.updatedAt as string));
  assertError(
    t,
    await call(t, 'PUT', '/v1/secrets/aws-creds', { name: 'other', data: { k: 'v' } }),
    422,
    'invalid',
    /does not match the path/,
  );
  assertError(t, await call(t, 'PUT', '/v1/secrets/aws-creds', { data: {} }), 422, 'invalid', /at least one key/);
  assertError(
    t,
    await call(t, 'PUT', '/v1/secrets/aws-creds', { data: { k: 'v' }, remove: ['k'] }),
    422,
    'invalid',
    /unknown field "remove"/,
  );
  t.is((await call(t, 'GET', '/v1/secrets/aws-creds')).json.version, before.version + 1, 'refused writes change nothing');
});

test.serial('PATCH sets, overwrites and removes keys; refuses what would break the secret', async (t) => {
  await call(t, 'POST', '/v1/secrets', { name: 'patchy', data: { a: '1', b: '22' } });
  const set = await call(t, 'PATCH', '/v1/secrets/patchy', {
    data: { c: '333' },
    binaryData: { a: Buffer.from('4444').toString('base64') },
  });
  t.is(set.status, 200);
  t.deepEqual(set.json.keys, ['a', 'b', 'c']);
  t.is(set.json.version, 2);
  t.deepEqual((await call(t, 'GET', '/v1/secrets/patchy')).json.keySizes, { a: 4, b: 2, c: 3 });
  const removed = await call(t, 'PATCH', '/v1/secrets/patchy', { remove: ['b'] });
  t.deepEqual(removed.json.keys, ['a', 'c']);
  t.is(removed.json.version, 3);

  const refused: [unknown, RegExp][] = [
    [{}, /must set or remove at least one key/],
    [{ data: {}, remove: [] }, /must set or remove at least one key/],
    [{ remove: ['nope'] }, /has no such key/],
    [{ data: { a: 'x' }, remove: ['a'] }, /both set and removed/],
    [{ remove: ['a', 'c'] }, /must keep at least one key/],
    [{ remove: 'a' }, /remove must be a list/],
    [{ remove: ['a', 'a'] }, /lists a key twice/],
    [{ remove: [1] }, /remove must be a list/],
    [{ data: { 'bad key': 'v' } }, /invalid key "bad key"/],
    [{ name: 'patchy', data: { d: 'v' } }, /unknown field "name"/],
  ];
  for (const [body, message] of refused) {
    assertError(t, await call(t, 'PATCH', '/v1/secrets/patchy', body), 422, 'invalid', message);
  }
  const after = (await call(t, 'GET', '/v1/secrets/patchy')).json;
  t.is(after.version, 3, 'no refused patch wrote anything');
  t.deepEqual(after.keySizes, { a: 4, c: 3 });
});

test.serial('DELETE removes a secret; a re-created one continues the version sequence', async (t) => {
  const res = await call(t, 'DELETE', '/v1/secrets/patchy');
  t.is(res.status, 200);
  t.deepEqual(res.json, { deleted: 'patchy', broken: [] });
  assertError(t, await call(t, 'GET', '/v1/secrets/patchy'), 404, 'not_found');
  assertError(t, await call(t, 'DELETE', '/v1/secrets/patchy'), 404, 'not_found');
  const again = await call(t, 'POST', '/v1/secrets', { name: 'patchy', data: { z: 'v' } });
  t.is(again.status, 201);
  t.is(again.json.version, 4);
  assertError(t, await call(t, 'DELETE', '/v1/secrets/patchy?force=maybe'), 422, 'invalid', /force must be true or false/);
  t.is((await call(t, 'DELETE', '/v1/secrets/patchy?force=true')).status, 200);
});

test.serial('writes are audited by key name and outcome', (t) => {
  const lines = fs
    .readFileSync(path.join(t.context.dataDir, 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const patchy = lines.filter((l) => l['name'] === 'patchy');
  t.deepEqual(patchy.map((l) => [l['action'], l['outcome']]).slice(0, 3), [
    ['secret.create', 'ok'],
    ['secret.patch', 'ok'],
    ['secret.patch', 'ok'],
  ]);
  t.true(patchy.some((l) => l['action'] === 'secret.delete' && (l['detail'] as { force?: boolean } | undefined)?.force === true));
  const conflict = lines.find((l) => l['name'] === 'gemini-key' && l['outcome'] === 'error');
  t.is(conflict?.['code'], 'already_exists');
  t.deepEqual(conflict?.['keys'], ['api-key']);
  t.is(fs.statSync(path.join(t.context.dataDir, 'audit.log')).mode & 0o777, 0o600);
});

// ---- tokens ---------------------------------------------------------------------------------

test.serial('tokens: create shows the token once, list never does, revoke takes effect', async (t) => {
  const created = await call(t, 'POST', '/v1/tokens', { role: 'viewer', description: 'ci reader' });
  t.is(created.status, 201);
  const { id, token } = created.json as { id: string; token: string };
  t.regex(token, /^pai_tok_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/, "Pai's prefix for API tokens");
  t.is(created.json.role, 'viewer');
  const list = await call(t, 'GET', '/v1/tokens');
  t.is(list.status, 200);
  const item = (list.json.items as Record<string, unknown>[]).find((i) => i['id'] === id);
  t.is(item?.['description'], 'ci reader');
  t.false('token' in (item ?? {}) || 'hash' in (item ?? {}));
  t.false(list.text.includes(token.slice(22)), 'no token text in the listing');

  t.is((await api(t.context.base, token, 'GET', '/v1/secrets')).status, 200);
  const revoked = await call(t, 'DELETE', `/v1/tokens/${id}`);
  t.deepEqual(revoked.json, { deleted: id });
  assertError(t, await api(t.context.base, token, 'GET', '/v1/secrets'), 401, 'unauthenticated');
  assertError(t, await call(t, 'DELETE', `/v1/tokens/${id}`), 404, 'not_found');
  assertError(t, await call(t, 'DELETE', '/v1/tokens/not-an-id'), 404, 'not_found');
  t.false(((await call(t, 'GET', '/v1/tokens')).json.items as { id: string }[]).some((i) => i.id === id));
});

test.serial('tokens: bad create bodies are refused by field', async (t) => {
  const cases: [unknown, string][] = [
    [{}, 'role'],
    [{ role: 'root' }, 'role'],
    [{ role: 'agent' }, 'agent'],
    [{ role: 'viewer', agent: 'x' }, 'agent'],
    [{ role: 'agent', agent: 'Not_DNS' }, 'agent'],
    [{ role: 'viewer', ttl: 'forever' }, 'ttl'],
    [{ role: 'viewer', ttl: '400d' }, 'ttl'],
    [{ role: 'viewer', description: 'x'.repeat(201) }, 'description'],
    [{ role: 'viewer', scope: 'all' }, 'scope'],
  ];
  const before = ((await call(t, 'GET', '/v1/tokens')).json.items as unknown[]).length;
  for (const [body, field] of cases) {
    const res = await call(t, 'POST', '/v1/tokens', body);
    assertError(t, res, 422, 'invalid');
    t.is(res.json.error.field, field, JSON.stringify(body));
  }
  // An agent token needs its agent (it is bound to that agent, not to any later one of its name).
  const unborn = await call(t, 'POST', '/v1/tokens', { role: 'agent', agent: 'unborn-bot' });
  assertError(t, unborn, 422, 'broken_reference');
  t.is(unborn.json.error.field, 'agent');
  t.regex(unborn.json.error.message, /agent "unborn-bot" does not exist/);
  t.is(((await call(t, 'GET', '/v1/tokens')).json.items as unknown[]).length, before);
});

// ---- metrics --------------------------------------------------------------------------------

test.serial('/metrics counts requests by route pattern, never by secret name', async (t) => {
  const res = await call(t, 'GET', '/metrics');
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain/);
  t.regex(res.text, /pai_admin_requests_total\{method="POST",route="\/v1\/secrets",status="201"\} \d+/);
  // Failed requests count under their route too, not as "unmatched".
  t.regex(res.text, /pai_admin_requests_total\{method="GET",route="\/v1\/secrets\/:name",status="404"\} \d+/);
  t.regex(res.text, /pai_admin_requests_total\{method="POST",route="\/v1\/secrets",status="403"\} \d+/);
  t.regex(res.text, /pai_admin_requests_total\{method="PATCH",route="\/v1\/secrets\/:name",status="422"\} \d+/);
  t.regex(res.text, /pai_admin_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
  t.regex(res.text, /pai_store_requests_total\{backend="local",op="createSecret",result="already_exists"\} \d+/);
  for (const name of ['gemini-key', 'aws-creds', 'no-such-secret', 'just-fits']) t.false(res.text.includes(name), name);
});
