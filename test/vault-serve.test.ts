/**
 * `pai serve` with PAI_STORE=vault, against the Vault double started in this process (the
 * policies of vault/ enforced, a token holding what an all-in-one process needs): the real `pai`
 * binary runs the CLI flows of the secrets and resources issues unchanged (the shared flows of
 * test/helpers/), the resource flows print exactly what they print on the local store, and the
 * injector injects what the CLI stored, through its unix socket. Then a second `pai serve --role
 * admin` replica on the same Vault serves the same secrets to the same admin token.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import YAML from 'yaml';
import type { AuthorizationClient } from '../src/generated/envoy/service/auth/v3/Authorization.js';
import type { CheckResponse__Output } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { EXAMPLES, GITHUB_TOKEN, RESOURCE_FLOWS, SLACK_WEBHOOK, normalizedTranscript } from './helpers/cli-resource-flows.js';
import { SECRET_FLOWS } from './helpers/cli-secret-flows.js';
import { type CliTarget, assertOk, createExisting, pai } from './helpers/cli-target.js';
import { authClient, check, checkRequest } from './helpers/injector.js';
import { type ServeHandle, adminToken, cleanEnv, runPai, startServe, tempDir, waitForStderr } from './helpers/process.js';
import { ALL_IN_ONE_POLICIES, assertStoreHolds, openVaultStore, vaultServeEnv } from './helpers/vault-serve.js';
import { type VaultDouble, startVaultDouble } from './vault-double/server.js';

interface Ctx {
  root: string;
  double: VaultDouble;
  /** `pai serve` (role all) on the Vault store, PAI_CACHE_TTL 1s. */
  vault: CliTarget;
  /** `pai serve` on the local store, to compare the resource flows' output with. */
  local: CliTarget;
  injector: AuthorizationClient;
  /** Servers the tests start (a second replica), stopped by test.after.always: the array is shared, the context is not. */
  extraServers: ServeHandle[];
}

const test = anyTest as TestFn<Ctx>;
const CACHE_TTL_MS = 1000;

function target(root: string, server: ServeHandle, name: string): CliTarget {
  const files = path.join(root, `${name}-files`);
  fs.mkdirSync(files);
  return { root, server, token: adminToken(server.dataDir), files, expected: new Map(), transcript: [] };
}

test.before(async (t) => {
  const root = tempDir('pai-vault-serve-');
  const double = await startVaultDouble();
  t.context = { root, double, extraServers: [] } as unknown as Ctx;
  const token = double.createToken({ policies: ALL_IN_ONE_POLICIES });
  const started = await Promise.allSettled([
    startServe({
      dataDir: path.join(root, 'vault'),
      // Usage counts flushed only at shutdown: the flows print LAST USED, which must not depend on timing.
      env: vaultServeEnv(double, token, { PAI_CACHE_TTL: `${CACHE_TTL_MS}ms`, PAI_USAGE_FLUSH: '0' }),
    }),
    startServe({ dataDir: path.join(root, 'local'), env: { PAI_USAGE_FLUSH: '0' } }),
  ]);
  const [vault, local] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  // Whatever started is in the context, so that test.after.always stops it even if the other failed.
  if (vault) t.context.vault = { server: vault } as CliTarget;
  if (local) t.context.local = { server: local } as CliTarget;
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  if (!vault || !local) return;
  t.context.vault = target(root, vault, 'vault');
  t.context.local = target(root, local, 'local');
  t.context.injector = authClient(vault.injectorAddress());
  await createExisting(t.context.vault);
});

test.after.always(async (t) => {
  t.context.injector?.close();
  const servers = [t.context.vault?.server, t.context.local?.server, ...(t.context.extraServers ?? [])];
  await Promise.all(servers.map((s) => s?.stop()));
  await t.context.double?.close();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

test.serial('pai serve starts on the Vault store and bootstraps the first admin token into Vault, hashed', async (t) => {
  const { server, token } = t.context.vault;
  t.regex(server.stdout(), /^pai serve: role all, vault store, data in /m);
  t.regex(server.stdout(), /^ {2}created the first admin token \(role owner\); the pai CLI reads it from .*config\.yaml$/m);
  const configFile = path.join(server.dataDir, 'config.yaml');
  t.is(fs.statSync(configFile).mode & 0o777, 0o600);
  t.deepEqual(YAML.parse(fs.readFileSync(configFile, 'utf8')), { server: server.adminUrl, token });
  // Where the record lives (docs/VAULT.md), as an operator with `vault kv get` sees it: a hash, never the token.
  const id = /^pai_tok_([0-9a-f]{16})_/.exec(token)?.[1] ?? '';
  const res = await fetch(`${t.context.double.addr}/v1/pai/data/resources/tokens/t${id}`, {
    headers: { 'X-Vault-Token': t.context.double.rootToken },
  });
  t.is(res.status, 200);
  const stored = JSON.stringify(await res.json());
  t.regex(stored, /"role":"owner"/);
  t.regex(stored, /"hash":"[0-9a-f]{64}"/);
  t.false(stored.includes(token.slice(-43)), 'the token secret is not stored');
  t.true(t.context.double.requestsTo('pai/').length > 0, 'the server really uses the double');
});

for (const flow of SECRET_FLOWS) test.serial(`secrets on Vault: ${flow.title}`, (t) => flow.run(t, t.context.vault));

test.serial('secrets on Vault: Vault holds exactly the bytes the CLI was given', async (t) => {
  const store = await openVaultStore(t.context.double, ['pai-renderer', 'pai-admin']);
  try {
    await assertStoreHolds(t, store, t.context.vault.expected);
  } finally {
    await store.close();
  }
});

// The resource flows expect gemini-key as the seed flow left it; the transcripts compared start here.
test.serial('resources: the local server gets the seed flow’s gemini-key', async (t) => {
  const { vault, local } = t.context;
  assertOk(
    t,
    await pai(local, ['add', 'secret', 'gemini-key', '--from-literal', 'api-key=AIzaSyD-example-key']),
    'secret/gemini-key created\n',
  );
  vault.transcript?.splice(0);
  local.transcript?.splice(0);
});

const checkTriageBot = (t: ExecutionContext<Ctx>, authority: string): Promise<CheckResponse__Output> =>
  check(t.context.injector, checkRequest({ agent: 'triage-bot', authority }));

/** The value of the one header a Check sets, or undefined when it sets none. */
function injected(res: CheckResponse__Output, header: string): string | undefined {
  return res.ok_response?.headers?.find((h) => h.header?.key === header)?.header?.value;
}

/**
 * Checks triage-bot's Gemini request until the injector sets `value` (or the TTL and a margin for a
 * loaded machine have passed); returns the last value seen and when it was first seen.
 */
async function injectedWithin(t: ExecutionContext<Ctx>, value: string): Promise<{ seen: string | undefined; ms: number }> {
  const started = Date.now();
  let seen: string | undefined;
  while (seen !== value && Date.now() - started < CACHE_TTL_MS + 5000) {
    seen = injected(await checkTriageBot(t, 'generativelanguage.googleapis.com'), 'x-goog-api-key');
  }
  return { seen, ms: Date.now() - started };
}

for (const [i, flow] of RESOURCE_FLOWS.entries()) {
  test.serial(`resources on Vault and on the local store: ${flow.title}`, async (t) => {
    t.timeout(60_000);
    await flow.run(t, t.context.vault);
    await flow.run(t, t.context.local);
  });
  if (i === 1) {
    test.serial('injector on Vault: a Check through the unix socket injects what the CLI stored', async (t) => {
      const gemini = await checkTriageBot(t, 'generativelanguage.googleapis.com');
      t.is(gemini.http_response, 'ok_response');
      t.is(injected(gemini, 'x-goog-api-key'), 'AIzaSyD-example-key');
      const github = await checkTriageBot(t, 'api.github.com');
      t.is(injected(github, 'authorization'), `Bearer ${GITHUB_TOKEN}`);
      const elsewhere = await checkTriageBot(t, 'example.org');
      t.is(elsewhere.http_response, 'ok_response');
      t.deepEqual(elsewhere.ok_response?.headers ?? [], [], 'no credential for a host the agent has no provider for');
    });
  }
}

test.serial('resources: the Vault store and the local store print the same CLI transcript', (t) => {
  const { vault, local } = t.context;
  const steps = vault.transcript?.length ?? 0;
  t.true(steps > 30, `${steps} CLI runs compared`);
  t.deepEqual(normalizedTranscript(vault.transcript ?? [], vault), normalizedTranscript(local.transcript ?? [], local));
});

// ---- a second replica --------------------------------------------------------------------------

test.serial('a second `pai serve --role admin` replica serves the same secrets to the same admin token', async (t) => {
  t.timeout(120_000);
  const { double, vault } = t.context;
  const replica = await startServe({
    dataDir: path.join(t.context.root, 'replica'),
    args: ['--role', 'admin'],
    env: vaultServeEnv(double, double.createToken({ policies: ['pai-admin'] })),
  });
  t.context.extraServers.push(replica);
  t.regex(replica.stdout(), /^pai serve: role admin, vault store/m);
  t.notRegex(replica.stdout(), /injector:|created the first admin token/);
  await waitForStderr(
    replica,
    /an owner token exists \(or another pai serve on this store is creating the first one\) but no usable one is in the config file; not creating another/,
  );
  const written: unknown = YAML.parse(fs.readFileSync(path.join(replica.dataDir, 'config.yaml'), 'utf8'));
  t.deepEqual(written, { server: replica.adminUrl }, 'no second admin token is made, none is copied');

  const viaReplica = cleanEnv({ PAI_SERVER: replica.adminUrl, PAI_TOKEN: vault.token });
  const listed = await Promise.all([
    runPai(['get', 'secrets', '-o', 'json'], viaReplica),
    pai(vault, ['get', 'secrets', '-o', 'json']),
  ]);
  assertOk(t, listed[0], /"name": "aws-creds"/);
  t.is(listed[0].stdout, listed[1].stdout, 'both replicas list the same secrets, versions and times');
  const describe = await Promise.all([
    runPai(['describe', 'secret', 'gemini-key'], viaReplica),
    pai(vault, ['describe', 'secret', 'gemini-key']),
  ]);
  t.is(describe[0].stdout.replace(/\(\d+[smhd] ago\)/g, ''), describe[1].stdout.replace(/\(\d+[smhd] ago\)/g, ''));

  // Writes through the replica are served by the first process, and reach its injector within the TTL
  // (there is no change feed between replicas: only the cache TTL bounds the lag).
  assertOk(
    t,
    await runPai(['add', 'secret', 'slack-credentials', '--from-literal', `webhook-url=${SLACK_WEBHOOK}`], viaReplica),
    'secret/slack-credentials created\n',
  );
  assertOk(
    t,
    await runPai(['apply', '-f', EXAMPLES], viaReplica),
    'modelprovider/gemini created\nprovider/github created\nagent/triage-bot created\n',
  );
  assertOk(t, await pai(vault, ['get', 'agents', '-o', 'name']), 'agent/triage-bot\n');
  const applied = await injectedWithin(t, 'AIzaSyD-example-key');
  t.is(applied.seen, 'AIzaSyD-example-key', 'an agent applied through the replica is injected for');
  const rotated = 'AIzaSy-rotated-through-the-replica';
  assertOk(
    t,
    await runPai(['add', 'secret', 'gemini-key', '--from-literal', `api-key=${rotated}`, '--overwrite'], viaReplica),
    'secret/gemini-key configured\n',
  );
  const rotation = await injectedWithin(t, rotated);
  t.log(
    `injected ${applied.ms} ms after the apply and ${rotation.ms} ms after the rotation through the replica (TTL ${CACHE_TTL_MS} ms)`,
  );
  t.is(rotation.seen, rotated);

  // Tokens are shared too: one made through the replica works against the first process.
  const viewer = await runPai(['create', 'token', '--role', 'viewer'], viaReplica);
  t.is(viewer.code, 0, viewer.stderr);
  const asViewer = await runPai(
    ['get', 'secrets', '-o', 'name'],
    cleanEnv({ PAI_SERVER: vault.server.adminUrl, PAI_TOKEN: viewer.stdout.trim() }),
  );
  assertOk(t, asViewer, /^secret\/slack-credentials$/m);
});
