/**
 * Token lifetimes (issue 16, item 7): new API tokens expire by default (PAI_TOKEN_DEFAULT_TTL, 90
 * days), the first one included; `--ttl` sets another; agent tokens keep living with their agent.
 * On one machine the local user is never locked out: `pai serve` renews the token of config.yaml
 * that it made once it has expired (or within 7 days of it), revoking the old one, and gives a
 * store without a live owner token one. In-process `pai serve --role admin` with a movable clock,
 * restarted on the same data directory; the CLI runs as a child against it.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import YAML from 'yaml';
import { ConfigError, loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { type RunningServer, startServer } from '../src/main.js';
import { api } from './helpers/api.js';
import { cleanEnv, runPai, tempDir } from './helpers/process.js';

const DAY = 86_400_000;

interface Ctx {
  root: string;
}
const test = anyTest as TestFn<Ctx>;

test.before((t) => {
  t.context = { root: tempDir('pai-token-expiry-') };
});
test.after.always((t) => {
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

/** One machine: a data dir and a clock, and `pai serve` (in this process) started on them as often as needed. */
class Machine {
  offsetMs = 0;
  server: RunningServer | undefined;
  constructor(
    readonly dataDir: string,
    readonly env: Record<string, string> = {},
  ) {}

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  async start(): Promise<RunningServer> {
    const config = loadConfig({ PAI_DATA_DIR: this.dataDir, PAI_ADMIN_LISTEN: '127.0.0.1:0', HOME: this.dataDir, ...this.env });
    this.server = await startServer(config, { role: 'admin', logger: silentLogger(), now: () => this.now() });
    return this.server;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  get base(): string {
    return `http://${this.server?.adminAddress ?? ''}`;
  }

  /** The token config.yaml holds. */
  configToken(): string {
    return (YAML.parse(fs.readFileSync(path.join(this.dataDir, 'config.yaml'), 'utf8')) as { token: string }).token;
  }
}

async function machine(t: ExecutionContext<Ctx>, env: Record<string, string> = {}): Promise<Machine> {
  const m = new Machine(path.join(fs.mkdtempSync(path.join(t.context.root, 'm-')), 'data'), env);
  t.teardown(() => m.stop());
  await m.start();
  return m;
}

/** expiresAt of a token record, in ms after `from`. */
const expiresIn = (record: { expiresAt?: string }, from: Date): number | undefined =>
  record.expiresAt === undefined ? undefined : Date.parse(record.expiresAt) - from.getTime();

const near = (t: ExecutionContext, actual: number | undefined, expected: number, what: string): void => {
  t.true(actual !== undefined && Math.abs(actual - expected) < 60_000, `${what}: expires in ${actual} ms, expected ~${expected}`);
};

test('PAI_TOKEN_DEFAULT_TTL is a duration above 0 and at most 366 days', (t) => {
  for (const bad of ['0', '0s', '367d', 'forever']) {
    const err = t.throws(() => loadConfig({ HOME: '/nonexistent', PAI_TOKEN_DEFAULT_TTL: bad }), { instanceOf: ConfigError });
    t.is(err?.variable, 'PAI_TOKEN_DEFAULT_TTL');
  }
  t.is(loadConfig({ HOME: '/nonexistent' }).tokenDefaultTtlMs, 90 * DAY);
  t.is(loadConfig({ HOME: '/nonexistent', PAI_TOKEN_DEFAULT_TTL: '12h' }).tokenDefaultTtlMs, 12 * 3_600_000);
});

test('new API tokens expire after 90 days by default, the first one included; agent tokens do not', async (t) => {
  const m = await machine(t);
  const owner = m.server?.bootstrapToken ?? '';
  const items = (await api(m.base, owner, 'GET', '/v1/tokens')).json.items as { role: string; expiresAt?: string }[];
  t.is(items.length, 1);
  t.is(items[0]?.role, 'owner');
  near(t, expiresIn(items[0] ?? {}, m.now()), 90 * DAY, 'the first token');
  for (const role of ['owner', 'admin', 'viewer', 'renderer']) {
    const made = await api(m.base, owner, 'POST', '/v1/tokens', { role });
    t.is(made.status, 201);
    near(t, expiresIn(made.json, m.now()), 90 * DAY, role);
  }
  const ttl = await api(m.base, owner, 'POST', '/v1/tokens', { role: 'viewer', ttl: '12h' });
  near(t, expiresIn(ttl.json, m.now()), 12 * 3_600_000, 'ttl 12h');
  const agent = { apiVersion: 'pai/v1', kind: 'Agent', metadata: { name: 'gw-bot' }, spec: {} };
  t.is((await api(m.base, owner, 'PUT', '/v1/agents/gw-bot', agent)).status, 201);
  const agentToken = await api(m.base, owner, 'POST', '/v1/tokens', { role: 'agent', agent: 'gw-bot' });
  t.is(agentToken.json.expiresAt, undefined, 'an agent token lives as long as its agent');
});

test('PAI_TOKEN_DEFAULT_TTL changes the default; pai create token --ttl sets a lifetime, and says when it ends', async (t) => {
  const m = await machine(t, { PAI_TOKEN_DEFAULT_TTL: '2h' });
  const env = cleanEnv({ PAI_SERVER: m.base, PAI_TOKEN: m.server?.bootstrapToken ?? '' });
  const byDefault = await runPai(['create', 'token', '--role', 'viewer'], env);
  t.is(byDefault.code, 0, byDefault.stderr);
  const defaultEnd = /expires (\S+)\)/.exec(byDefault.stderr)?.[1];
  near(t, defaultEnd === undefined ? undefined : Date.parse(defaultEnd) - Date.now(), 2 * 3_600_000, 'default 2h');
  const withTtl = await runPai(['create', 'token', '--role', 'viewer', '--ttl', '30m'], env);
  t.is(withTtl.code, 0, withTtl.stderr);
  const ttlEnd = /expires (\S+)\)/.exec(withTtl.stderr)?.[1];
  near(t, ttlEnd === undefined ? undefined : Date.parse(ttlEnd) - Date.now(), 30 * 60_000, '--ttl 30m');
  const tooLong = await runPai(['create', 'token', '--role', 'viewer', '--ttl', '400d'], env);
  t.is(tooLong.code, 1);
  t.regex(tooLong.stderr, /ttl must be a duration such as 30d, 12h or 90m, at most 366d/);
});

test('one machine: an expired first token is replaced at the next start, the old one revoked', async (t) => {
  const m = await machine(t);
  const first = m.configToken();
  t.is(m.server?.bootstrapToken, first);
  await m.stop();
  m.offsetMs = 91 * DAY;
  await m.start();
  const second = m.configToken();
  t.not(second, first, 'config.yaml holds a new token');
  t.is(m.server?.bootstrapToken, second);
  t.is((await api(m.base, second, 'GET', '/v1/secrets')).status, 200);
  t.is((await api(m.base, first, 'GET', '/v1/secrets')).status, 401);
  const items = (await api(m.base, second, 'GET', '/v1/tokens')).json.items as { role: string; bootstrap?: boolean }[];
  t.deepEqual(
    items.map((i) => [i.role, i.bootstrap]),
    [['owner', true]],
    'one token: the renewed owner (the expired one is revoked)',
  );
  // The CLI of the machine just works.
  const cli = await runPai(['get', 'secrets'], cleanEnv({ PAI_DATA_DIR: m.dataDir }));
  t.is(cli.code, 0, cli.stderr);
});

test('one machine: the first token is renewed at a start within 7 days of its expiry, not before', async (t) => {
  const m = await machine(t);
  const first = m.configToken();
  await m.stop();
  m.offsetMs = 60 * DAY;
  await m.start();
  t.is(m.configToken(), first, '30 days before expiry: kept');
  t.is(m.server?.bootstrapToken, undefined);
  await m.stop();
  m.offsetMs = 84 * DAY;
  await m.start();
  const renewed = m.configToken();
  t.not(renewed, first, '6 days before expiry: renewed');
  t.is((await api(m.base, renewed, 'GET', '/v1/secrets')).status, 200);
  t.is((await api(m.base, first, 'GET', '/v1/secrets')).status, 401);
});

test('a store without a live owner token (as before the owner role) gets one in config.yaml; the admin token there stays valid', async (t) => {
  const m = await machine(t);
  const owner = m.configToken();
  const admin = await api(m.base, owner, 'POST', '/v1/tokens', { role: 'admin' });
  const ownerId = ((await api(m.base, owner, 'GET', '/v1/tokens')).json.items as { id: string; role: string }[]).find(
    (i) => i.role === 'owner',
  )?.id;
  // The store now looks like one from before: an admin token in config.yaml, no owner.
  t.is((await api(m.base, owner, 'DELETE', `/v1/tokens/${ownerId ?? ''}`)).status, 200);
  const file = path.join(m.dataDir, 'config.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(owner, admin.json.token as string));
  await m.stop();
  // Past the first start's claim (a fresh claim means another process is creating the first token).
  m.offsetMs = 2 * 60_000;
  await m.start();
  const now = m.configToken();
  t.not(now, admin.json.token);
  const items = (await api(m.base, now, 'GET', '/v1/tokens')).json.items as { role: string }[];
  t.deepEqual(items.map((i) => i.role).sort(), ['admin', 'owner']);
  t.is((await api(m.base, admin.json.token as string, 'GET', '/v1/secrets')).status, 200, 'the admin token still works');
  await m.stop();
  await m.start();
  t.is(m.configToken(), now, 'and the next start changes nothing');
});
