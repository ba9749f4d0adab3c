/**
 * An admin cannot obtain secret values (issue 16, item 4): env rendering is for renderer and owner
 * tokens, and renderer (and owner) tokens are created by owners only; the first token of a store
 * is the owner. The attack the review used — an admin points an Agent's env at any secret, mints a
 * renderer token, renders — is refused at each step, audited, and leaves nothing behind. In-process
 * `pai serve --role admin` on port 0; failure cases first.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { type RunningServer, startServer } from '../src/main.js';
import { type ApiResult, api } from './helpers/api.js';
import { auditRecords } from './helpers/resources-api.js';
import { tempDir } from './helpers/process.js';

interface Ctx {
  server: RunningServer;
  root: string;
  dataDir: string;
  base: string;
  owner: string;
  admin: string;
  adminId: string;
}
const test = anyTest as TestFn<Ctx>;

const VALUE = 'CANARY-roles-secret-value-5d1e';

test.before(async (t) => {
  const root = tempDir('pai-roles-');
  const dataDir = path.join(root, 'data');
  const config = loadConfig({ PAI_DATA_DIR: dataDir, PAI_ADMIN_LISTEN: '127.0.0.1:0', HOME: root });
  const server = await startServer(config, { role: 'admin', logger: silentLogger() });
  const base = `http://${server.adminAddress ?? ''}`;
  const owner = server.bootstrapToken ?? '';
  const made = await api(base, owner, 'POST', '/v1/tokens', { role: 'admin', description: 'ordinary admin' });
  if (made.status !== 201) throw new Error(`setup: ${made.text}`);
  t.context = { server, root, dataDir, base, owner, admin: made.json.token as string, adminId: made.json.id as string };
  const secret = await api(base, owner, 'POST', '/v1/secrets', { name: 'crown-jewels', data: { key: VALUE } });
  if (secret.status !== 201) throw new Error(`setup: ${secret.text}`);
});

test.after.always(async (t) => {
  await t.context.server?.close();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

const as = (t: ExecutionContext<Ctx>, token: string, method: string, p: string, body?: unknown): Promise<ApiResult> =>
  api(t.context.base, token, method, p, body);

function forbidden(t: ExecutionContext<Ctx>, res: ApiResult, message: RegExp): void {
  t.is(res.status, 403, res.text);
  t.is(res.json?.error?.code, 'forbidden');
  t.regex(res.json?.error?.message ?? '', message);
  t.false(res.text.includes(VALUE), 'no value in a refusal');
}

const tokenIds = async (t: ExecutionContext<Ctx>): Promise<string[]> =>
  ((await as(t, t.context.owner, 'GET', '/v1/tokens')).json.items as { id: string }[]).map((i) => i.id).sort();

test.serial(
  'the review’s path is closed: an admin can point an Agent at any secret, but neither render nor mint a renderer',
  async (t) => {
    const { admin } = t.context;
    const agent = {
      apiVersion: 'pai/v1',
      kind: 'Agent',
      metadata: { name: 'exfil-bot' },
      spec: { env: [{ name: 'LOOT', secretRef: { name: 'crown-jewels', key: 'key' } }] },
    };
    t.is((await as(t, admin, 'PUT', '/v1/agents/exfil-bot', agent)).status, 201, 'resources stay the admin’s');
    const before = await tokenIds(t);
    for (const format of ['json', 'dotenv']) {
      forbidden(
        t,
        await as(t, admin, 'GET', `/v1/agents/exfil-bot/env?format=${format}`),
        /^role admin may not GET \/v1\/agents\/:name\/env$/,
      );
    }
    forbidden(
      t,
      await as(t, admin, 'POST', '/v1/tokens', { role: 'renderer' }),
      /^role admin may not create renderer tokens: renderer tokens read secret values through env rendering; only an owner token may$/,
    );
    forbidden(
      t,
      await as(t, admin, 'POST', '/v1/tokens', { role: 'owner' }),
      /^role admin may not create owner tokens: owner tokens can create renderer tokens; only an owner token may$/,
    );
    t.deepEqual(await tokenIds(t), before, 'no token was created');
    const refusals = auditRecords(t.context.dataDir).filter(
      (r) => r.action === 'token.create' && r.outcome === 'error' && r.actor.role === 'admin',
    );
    t.deepEqual(
      refusals.map((r) => [r.code, r.detail?.['role']]),
      [
        ['forbidden', 'renderer'],
        ['forbidden', 'owner'],
      ],
      'each refusal is audited with the role asked for',
    );
  },
);

test.serial('an admin may not revoke an owner token, but may revoke a renderer token (incident response)', async (t) => {
  const owners = ((await as(t, t.context.owner, 'GET', '/v1/tokens')).json.items as { id: string; role: string }[]).filter(
    (i) => i.role === 'owner',
  );
  t.is(owners.length, 1);
  forbidden(
    t,
    await as(t, t.context.admin, 'DELETE', `/v1/tokens/${owners[0]?.id ?? ''}`),
    /^role admin may not revoke owner tokens/,
  );
  t.is((await as(t, t.context.owner, 'GET', '/v1/secrets')).status, 200, 'the owner token still works');
  const renderer = await as(t, t.context.owner, 'POST', '/v1/tokens', { role: 'renderer' });
  t.is(renderer.status, 201);
  t.is((await as(t, t.context.admin, 'DELETE', `/v1/tokens/${renderer.json.id as string}`)).status, 200);
  t.is((await as(t, renderer.json.token as string, 'GET', '/v1/agents/exfil-bot/env')).status, 401);
});

test.serial('an admin still creates admin, viewer and agent tokens', async (t) => {
  for (const role of ['admin', 'viewer']) t.is((await as(t, t.context.admin, 'POST', '/v1/tokens', { role })).status, 201, role);
  const agent = { apiVersion: 'pai/v1', kind: 'Agent', metadata: { name: 'gateway-bot' }, spec: {} };
  t.is((await as(t, t.context.admin, 'PUT', '/v1/agents/gateway-bot', agent)).status, 201);
  t.is((await as(t, t.context.admin, 'POST', '/v1/tokens', { role: 'agent', agent: 'gateway-bot' })).status, 201);
});

test.serial(
  'the first token is the owner: it mints renderer and owner tokens, renders, and admin routes are open to it',
  async (t) => {
    const { owner } = t.context;
    const items = (await as(t, owner, 'GET', '/v1/tokens')).json.items as { role: string; bootstrap?: boolean }[];
    t.true(items.some((i) => i.role === 'owner' && i.bootstrap === true));
    const renderer = await as(t, owner, 'POST', '/v1/tokens', { role: 'renderer' });
    t.is(renderer.status, 201);
    const rendered = await as(t, renderer.json.token as string, 'GET', '/v1/agents/exfil-bot/env');
    t.is(rendered.status, 200);
    t.is(rendered.json.items[0].value, VALUE);
    t.is((await as(t, owner, 'GET', '/v1/agents/exfil-bot/env')).status, 200, 'the owner renders too');
    t.is((await as(t, owner, 'POST', '/v1/tokens', { role: 'owner', ttl: '1d' })).status, 201);
    t.is((await as(t, owner, 'GET', '/metrics')).status, 200);
    const audit = auditRecords(t.context.dataDir).filter((r) => r.action === 'token.create' && r.outcome === 'ok');
    t.true(audit.some((r) => r.detail?.['role'] === 'renderer' && r.actor.role === 'owner'));
  },
);
