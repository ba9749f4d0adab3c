/**
 * `pai serve` on PAI_STORE=vault when Vault is sealed at start (a Vault pod restarted without
 * auto-unseal): the process starts anyway and says it is not ready (/readyz 503), the CLI gets a
 * clear 503 naming the sealed Vault, and everything works with the same admin token once Vault is
 * unsealed; the first admin token is made as soon as Vault answers. A Vault that refuses pai (a
 * policy) still stops the process at start, with a message that says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import YAML from 'yaml';
import { authClient, check, checkRequest, denialBody } from './helpers/injector.js';
import { type ServeHandle, adminToken, cleanEnv, runPai, startServe, tempDir, waitForStderr } from './helpers/process.js';
import { ALL_IN_ONE_POLICIES, readyz, vaultServeEnv } from './helpers/vault-serve.js';
import { type VaultDouble, startVaultDouble } from './vault-double/server.js';

interface Ctx {
  root: string;
  double: VaultDouble;
  /** Every server started, stopped by test.after.always (the array is shared, the context is not). */
  servers: ServeHandle[];
}

const test = anyTest as TestFn<Ctx>;

/** Short, so that a sealed Vault turns into 503 quickly: one attempt 500 ms, retries within 1 s. */
const FAST_FAILURE = { PAI_VAULT_TIMEOUT: '500ms', PAI_VAULT_RETRY_BUDGET: '1s' };
const NOT_A_TOKEN = `pai_0123456789abcdef_${'A'.repeat(43)}`;

test.before(async (t) => {
  t.context = { root: tempDir('pai-vault-sealed-'), double: await startVaultDouble(), servers: [] };
});

test.after.always(async (t) => {
  await Promise.all(t.context.servers.map((s) => s.stop()));
  await t.context.double?.close();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

async function serve(t: { context: Ctx }, dir: string, token: string, args: string[] = []): Promise<ServeHandle> {
  const server = await startServe({
    dataDir: path.join(t.context.root, dir),
    args,
    env: vaultServeEnv(t.context.double, token, FAST_FAILURE),
  });
  t.context.servers.push(server);
  return server;
}

/** The client config file `pai serve` wrote, parsed. */
const configOf = (server: ServeHandle): unknown => YAML.parse(fs.readFileSync(path.join(server.dataDir, 'config.yaml'), 'utf8'));

/** GET /readyz: status and body, timed. */
async function timedReadyz(server: ServeHandle): Promise<{ status: number; body: unknown; ms: number }> {
  const started = Date.now();
  const res = await fetch(new URL('/readyz', server.adminUrl));
  const body: unknown = await res.json();
  return { status: res.status, body, ms: Date.now() - started };
}

test.serial(
  'first start while Vault is sealed: serving, not ready; unsealed: ready, and the first admin token is made',
  async (t) => {
    t.timeout(90_000);
    const { double } = t.context;
    double.seal();
    const server = await serve(t, 'first', double.createToken({ policies: ALL_IN_ONE_POLICIES }));
    t.regex(server.stdout(), /^pai serve: role all, vault store/m);
    t.notRegex(server.stdout(), /created the first admin token/);
    t.regex(server.stderr(), /the store is unavailable: serving anyway \(not ready\)/);
    t.deepEqual(configOf(server), { server: server.adminUrl }, 'no token yet: none could be made');

    const sealed = await timedReadyz(server);
    t.log(`/readyz answered ${sealed.status} in ${sealed.ms} ms while sealed (PAI_VAULT_RETRY_BUDGET 1s)`);
    t.is(sealed.status, 503);
    t.deepEqual(sealed.body, { error: { code: 'store_unavailable', message: 'not ready: the store is unavailable' } });
    const cli = await runPai(['get', 'secrets'], cleanEnv({ PAI_SERVER: server.adminUrl, PAI_TOKEN: NOT_A_TOKEN }));
    t.deepEqual([cli.code, cli.stdout], [1, '']);
    t.is(cli.stderr, 'error: Vault is sealed (read of token "t0123456789abcdef")\n');

    double.unseal();
    const unsealedAt = Date.now();
    t.is(await readyz(server), 200);
    await waitForStderr(server, /the store answers again: admin token bootstrap done/, 60_000);
    t.regex(server.stderr(), /created the first admin token/);
    t.log(`the first admin token was made ${Date.now() - unsealedAt} ms after the unseal (background retry)`);
    t.like(configOf(server), { server: server.adminUrl });
    t.regex(adminToken(server.dataDir), /^pai_tok_[0-9a-f]{16}_\S{43}$/);
    const list = await runPai(['get', 'secrets'], server.env);
    t.deepEqual([list.code, list.stdout, list.stderr], [0, '', 'No secrets found.\n']);
    const add = await runPai(['add', 'secret', 'kept', '--from-literal', 'k=v'], server.env);
    t.deepEqual([add.code, add.stdout, add.stderr], [0, 'secret/kept created\n', '']);
  },
);

test.serial('restart while Vault is sealed: the CLI gets a clear 503; after unseal the same token works', async (t) => {
  t.timeout(90_000);
  const { double } = t.context;
  const first = t.context.servers[0];
  if (!first) return t.fail('needs the server of the previous test');
  const token = adminToken(first.dataDir);
  const tokenId = /^pai_tok_([0-9a-f]{16})_/.exec(token)?.[1] ?? '';
  await first.stop();
  double.seal();
  const server = await serve(t, 'first', double.createToken({ policies: ALL_IN_ONE_POLICIES }));
  t.regex(server.stderr(), /the store is unavailable: serving anyway \(not ready\)/);
  t.is(adminToken(server.dataDir), token, 'the token in the config file is kept, unverified');
  t.is((await timedReadyz(server)).status, 503);
  for (const args of [
    ['get', 'secrets'],
    ['add', 'secret', 'fresh', '--from-literal', 'k=v'],
  ]) {
    const r = await runPai(args, server.env);
    t.deepEqual([r.code, r.stdout], [1, ''], args.join(' '));
    // The first thing the server needs from Vault is the caller's token record.
    t.is(r.stderr, `error: Vault is sealed (read of token "t${tokenId}")\n`);
  }

  double.unseal();
  t.is(await readyz(server), 200);
  const list = await runPai(['get', 'secrets', '-o', 'name'], server.env);
  t.deepEqual([list.code, list.stdout, list.stderr], [0, 'secret/kept\n', '']);
  await waitForStderr(server, /the store answers again: admin token bootstrap done/, 60_000);
  t.is(adminToken(server.dataDir), token, 'the background bootstrap keeps the valid token');
  const tokens = await runPai(['get', 'tokens', '-o', 'json'], server.env);
  t.is(tokens.code, 0, tokens.stderr);
  const items = (JSON.parse(tokens.stdout) as { items: { id: string; role: string }[] }).items;
  t.deepEqual(
    items.map((i) => [i.id, i.role]),
    [[tokenId, 'owner']],
    'no second admin token was made',
  );
});

test.serial('`pai serve --role injector` starts while Vault is sealed and denies 503 until it is unsealed', async (t) => {
  t.timeout(60_000);
  const { double } = t.context;
  double.seal();
  const server = await serve(t, 'injector', double.createToken({ policies: ['pai-injector'] }), ['--role', 'injector']);
  const client = authClient(server.injectorAddress());
  t.teardown(() => client.close());
  const request = checkRequest({ agent: 'any-agent', authority: 'api.github.com' });
  const denied = await check(client, request);
  t.is(denied.http_response, 'denied_response');
  t.deepEqual(denied.denied_response?.status, { code: 'ServiceUnavailable' });
  t.is(denialBody(denied)?.error.code, 'store_unavailable');
  double.unseal();
  // Vault answers again (once the store's retry in flight gets through): the agent is unknown to
  // it, a 403 of pai's own instead of the 503.
  const unsealedAt = Date.now();
  let code: string | undefined = 'store_unavailable';
  while (code === 'store_unavailable' && Date.now() - unsealedAt < 10_000)
    code = denialBody(await check(client, request))?.error.code;
  t.log(`the injector answered from Vault again ${Date.now() - unsealedAt} ms after the unseal`);
  t.is(code, 'unknown_agent');
});

test.serial('a token whose policies refuse pai stops pai serve at start, saying so', async (t) => {
  const { double } = t.context;
  // pai-injector's explicit deny on the admin tokens wins over pai-admin: no all-in-one process with it.
  const token = double.createToken({ policies: [...ALL_IN_ONE_POLICIES, 'pai-injector'] });
  const err = await t.throwsAsync(serve(t, 'refused', token));
  t.regex(err?.message ?? '', /exited with 1 before ready/);
  t.regex(
    err?.message ?? '',
    /^error: Vault denied (list of tokens|write of token "t[0-9a-f]{16}"): permission denied by the policies of pai's Vault token$/m,
  );
});
