/**
 * A local store written by the code before namespaces (test/fixtures/store-v1, see its README),
 * opened by this code: everything moves into namespace `default` with nothing lost, serves the
 * same injections, lists the same resources, keeps its tokens, and every document row gains its
 * MAC (so a row inserted afterwards without the master key is refused).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import test from 'ava';
import { TokenService } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { startServer, type RunningServer } from '../src/main.js';
import { parseResource } from '../src/resources/validate.js';
import { LocalStore } from '../src/store/local/sqlite-store.js';
import { api } from './helpers/api.js';
import { authClient, check, checkRequest, denialBody, memoryLogger } from './helpers/injector.js';
import { tempDir } from './helpers/process.js';
import { caBundleEnv } from '../src/resources/agent-trust.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'store-v1');
const tokens = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'tokens.json'), 'utf8')) as { admin: string; agent: string };

/** A private copy of the fixture (git keeps no file modes: the store insists on 0700 / 0600). */
function copyFixture(): string {
  const dir = tempDir('pai-migrate-');
  for (const file of ['pai.db', 'master.key']) {
    fs.copyFileSync(path.join(FIXTURE, file), path.join(dir, file));
    fs.chmodSync(path.join(dir, file), 0o600);
  }
  fs.chmodSync(dir, 0o700);
  return dir;
}

test('the first layout opens: secrets, versions, tombstones and values in namespace default', async (t) => {
  const dir = copyFixture();
  const store = LocalStore.open({ dataDir: dir, masterKeyFile: path.join(dir, 'master.key') });
  t.teardown(() => store.close());
  const secrets = await store.listSecrets('default');
  t.deepEqual(
    secrets.map((s) => [s.name, s.version, s.keys.map((k) => k.name)]),
    [
      ['aws-creds', 1, ['access_key_id', 'secret_access_key']],
      ['gemini-key', 1, ['api-key']],
      ['github-pat', 2, ['token']],
      ['search', 1, ['token']],
      ['slack-credentials', 1, ['webhook-url']],
      ['tg', 1, ['token']],
    ],
  );
  t.is(
    (await store.readSecret('default', 'github-pat')).data.get('token')?.toString(),
    'ghp_FIXTUREv1githubTOKEN1111111111111111',
  );
  // The deleted secret's tombstone moved too: re-created, it never reuses version 1.
  t.is((await store.createSecret('default', 'deleted-once', new Map([['k', Buffer.from('again')]]))).version, 2);
  t.deepEqual(await store.listNamespaces(), ['default']);
  t.deepEqual(await store.listSecrets('team-a'), []);
  const agents = await store.listDocs('agents', 'default');
  t.deepEqual(
    agents.map((d) => d.name),
    ['triage-bot'],
  );
  const agent = parseResource(agents[0]?.body, 'stored');
  t.is(agent.kind, 'Agent');
  t.deepEqual(
    (await store.listDocs('providers', 'default')).map((d) => d.name),
    ['github', 's3', 'serper', 'telegram'],
  );
  t.deepEqual(store.integrityReport(), []);
});

test('the first layout keeps its tokens: the admin token on the admin API, the agent token for its agent', async (t) => {
  const dir = copyFixture();
  const store = LocalStore.open({ dataDir: dir, masterKeyFile: path.join(dir, 'master.key') });
  t.teardown(() => store.close());
  const service = new TokenService({ store });
  t.is((await service.verify(tokens.admin, { surface: 'admin' })).role, 'admin');
  const agent = await service.verify(tokens.agent, { surface: 'gateway', role: 'agent' });
  t.deepEqual([agent.agent, agent.agentNamespace], ['triage-bot', 'default']);
});

test('after the migration, a document row written without the master key is refused and reported', async (t) => {
  const dir = copyFixture();
  await LocalStore.open({ dataDir: dir, masterKeyFile: path.join(dir, 'master.key') }).close();
  const db = new Database(path.join(dir, 'pai.db'));
  const admin = db.prepare("SELECT * FROM docs WHERE kind = 'tokens'").get() as Record<string, unknown>;
  // A copy of the admin token's row under another id, with a forged MAC: what write access to pai.db gives.
  db.prepare(
    'INSERT INTO docs (kind, namespace, name, version, body, mac, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  ).run(
    'tokens',
    '',
    'tffffffffffffffff',
    1,
    String(admin['body']).replace(/"id":"[0-9a-f]+"/, '"id":"ffffffffffffffff"'),
    Buffer.alloc(32, 1),
    Date.now(),
    Date.now(),
  );
  db.prepare(
    "UPDATE docs SET body = replace(body, 'github-pat', 'gemini-key') WHERE kind = 'providers' AND name = 'github'",
  ).run();
  db.close();
  const store = LocalStore.open({ dataDir: dir, masterKeyFile: path.join(dir, 'master.key') });
  t.teardown(() => store.close());
  await t.throwsAsync(store.getClusterDoc('tokens', 'tffffffffffffffff'), { code: 'integrity' });
  await t.throwsAsync(store.getDoc('providers', 'default', 'github'), { code: 'integrity' });
  t.false((await store.listDocs('providers', 'default')).some((d) => d.name === 'github'));
  t.deepEqual(
    store
      .integrityReport()
      .map((r) => `${r.kind}/${r.name}`)
      .sort(),
    ['providers/github', 'tokens/tffffffffffffffff'],
  );
  await store.close();
  // pai serve says so once at start, by kind and name, and the forged admin token gets nowhere.
  const { logger, text } = memoryLogger('info');
  const config = loadConfig({ HOME: dir, PAI_DATA_DIR: dir, PAI_ADMIN_LISTEN: '127.0.0.1:0' });
  const running = await startServer(config, { role: 'admin', logger });
  t.teardown(() => running.close());
  t.regex(text(), /fail their integrity check/);
  t.regex(text(), /"providers\/default\/github"/);
  t.regex(text(), /"tokens\/tffffffffffffffff"/);
  const forged = `pai_ffffffffffffffff_${'A'.repeat(43)}`;
  t.is((await api(`http://${running.adminAddress ?? ''}`, forged, 'GET', '/v1/secrets')).status, 401);
});

test('pai serve on the migrated store serves the same injections and lists the same resources', async (t) => {
  const dir = copyFixture();
  const config = loadConfig({ HOME: dir, PAI_DATA_DIR: dir, PAI_ADMIN_LISTEN: '127.0.0.1:0' });
  const running: RunningServer = await startServer(config, { role: 'all', logger: silentLogger() });
  const client = authClient(running.injectorAddress ?? '');
  t.teardown(async () => {
    client.close();
    await running.close();
  });
  // A store from before the owner role gets an owner token (config.yaml); its admin token stays valid.
  t.regex(running.bootstrapToken ?? '', /^pai_tok_[0-9a-f]{16}_/, 'a store without an owner gets one');
  const base = `http://${running.adminAddress ?? ''}`;
  const listed = await api(base, tokens.admin, 'GET', '/v1/namespaces/default/providers');
  t.is(listed.status, 200);
  const names = (listed.json as { items: { resource: { metadata: { name: string }; apiVersion: string } }[] }).items.map(
    (i) => `${i.resource.apiVersion} ${i.resource.metadata.name}`,
  );
  t.deepEqual(names, ['pai.io/v1 github', 'pai.io/v1 s3', 'pai.io/v1 serper', 'pai.io/v1 telegram'], 'printed in Pai form');
  const github = await check(client, checkRequest({ authority: 'api.github.com', path: '/user', agent: 'triage-bot' }));
  t.deepEqual(
    github.ok_response?.headers?.map((h) => [h.header?.key, h.header?.value]),
    [['authorization', 'Bearer ghp_FIXTUREv1githubTOKEN1111111111111111']],
  );
  const serper = await check(client, checkRequest({ authority: 'google.serper.dev', path: '/search', agent: 'triage-bot' }));
  t.deepEqual(
    serper.ok_response?.headers?.map((h) => [h.header?.key, h.header?.value]),
    [['x-api-key', 'srchFIXTUREv1serperKEY00000000']],
    'the earlier dialect had no prefix on a custom header, and still has none',
  );
  const gemini = await check(client, checkRequest({ authority: 'generativelanguage.googleapis.com', agent: 'triage-bot' }));
  t.is(gemini.ok_response?.headers?.[0]?.header?.value, 'AIzaFIXTUREv1geminiKEY000000000000000');
  const otherNs = await check(
    client,
    checkRequest({ authority: 'api.github.com', contextExtensions: { 'pai.agent': 'triage-bot', 'pai.namespace': 'team-a' } }),
  );
  t.is(denialBody(otherNs)?.error.code, 'unknown_agent', 'the agent lives in default only');
  // Rendering env takes the owner (or a renderer) since the owner role: the old admin token gets 403.
  t.is((await api(base, tokens.admin, 'GET', '/v1/agents/triage-bot/env?format=json')).status, 403);
  const env = await api(base, running.bootstrapToken ?? '', 'GET', '/v1/agents/triage-bot/env?format=json');
  t.is(env.status, 200);
  t.deepEqual((env.json as { items: unknown[] }).items, [
    { name: 'SLACK_WEBHOOK', value: 'https://hooks.slack.example/FIXTUREv1' },
    ...caBundleEnv(),
  ]);
});
