/**
 * Issue 12 on both stores, through the real binary: two namespaces holding same-named secrets,
 * Providers and Agents, each agent injected with its own namespace's credential only, a reference
 * across namespaces refused (422, nothing applied), and `pai create model-provider --api-key -`
 * whose key is in no output, process listing, log or audit record (canary). One `pai serve` on the
 * Vault double (vault/ policies enforced) and one on the embedded store run the same steps.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import type { AuthorizationClient } from '../src/generated/envoy/service/auth/v3/Authorization.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import { type CliTarget, assertOk, file, pai } from './helpers/cli-target.js';
import { authClient, check, checkRequest, denialBody } from './helpers/injector.js';
import { adminToken, runPai, startServe, tempDir } from './helpers/process.js';
import { ALL_IN_ONE_POLICIES, vaultServeEnv } from './helpers/vault-serve.js';
import { type VaultDouble, startVaultDouble } from './vault-double/server.js';

interface Store {
  readonly name: 'vault' | 'local';
  readonly target: CliTarget;
  readonly injector: AuthorizationClient;
}

interface Ctx {
  root: string;
  double: VaultDouble;
  stores: Store[];
}

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const root = tempDir('pai-ns-stores-');
  const double = await startVaultDouble();
  t.context = { root, double, stores: [] };
  const token = double.createToken({ policies: ALL_IN_ONE_POLICIES });
  for (const name of ['vault', 'local'] as const) {
    const server = await startServe({
      dataDir: path.join(root, name),
      env: name === 'vault' ? vaultServeEnv(double, token, { PAI_CACHE_TTL: '1s' }) : { PAI_CACHE_TTL: '1s' },
    });
    const files = path.join(root, `${name}-files`);
    fs.mkdirSync(files);
    const target: CliTarget = { root, server, token: adminToken(server.dataDir), files, expected: new Map() };
    t.context.stores.push({ name, target, injector: authClient(server.injectorAddress()) });
  }
});

test.after.always(async (t) => {
  for (const s of t.context.stores) {
    s.injector.close();
    await s.target.server.stop();
  }
  await t.context.double?.close();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

const manifest = (ns: string): string => `apiVersion: pai.io/v1
kind: Provider
metadata: {name: github, namespace: ${ns}}
spec:
  type: github
  auth: {type: pat, secretRef: github-pat}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: bot, namespace: ${ns}}
spec:
  providers: [github]
`;

test.serial('two namespaces with the same names: each agent gets its own credential only', async (t) => {
  for (const { name, target, injector } of t.context.stores) {
    for (const ns of ['team-a', 'team-b']) {
      assertOk(
        t,
        await pai(target, ['add', 'secret', 'github-pat', '-n', ns, '--from-literal', 'token'], `ghp_${ns}_value\n`),
        `secret/github-pat created\n`,
      );
      const applied = await pai(target, ['apply', '-f', file(target, `${ns}.yaml`, manifest(ns))]);
      t.is(applied.code, 0, `${name}: ${applied.stderr}`);
    }
    assertOk(t, await pai(target, ['get', 'secrets', '-n', 'team-a', '-o', 'name']), 'secret/github-pat\n');
    assertOk(t, await pai(target, ['get', 'secrets', '-o', 'name']), '');
    for (const ns of ['team-a', 'team-b']) {
      const res = await check(
        injector,
        checkRequest({ authority: 'api.github.com', contextExtensions: { 'pai.agent': 'bot', 'pai.namespace': ns } }),
      );
      t.deepEqual(
        res.ok_response?.headers?.map((h) => [h.header?.key, h.header?.value]),
        [['authorization', `Bearer ghp_${ns}_value`]],
        `${name}: bot in ${ns}`,
      );
    }
    // The same agent name in a namespace that has no such agent, and in the default namespace.
    for (const extensions of [{ 'pai.agent': 'bot', 'pai.namespace': 'team-c' }, { 'pai.agent': 'bot' }]) {
      const res = await check(injector, checkRequest({ authority: 'api.github.com', contextExtensions: extensions }));
      t.is(denialBody(res)?.error.code, 'unknown_agent', `${name}: ${JSON.stringify(extensions)}`);
    }
  }
});

test.serial('a reference to another namespace is refused (422), and nothing of the document is applied', async (t) => {
  for (const { name, target } of t.context.stores) {
    const doc = `apiVersion: pai.io/v1
kind: Agent
metadata: {name: borrower, namespace: team-c}
spec:
  providers: [github]
`;
    const r = await pai(target, ['apply', '-f', file(target, 'borrower.yaml', doc)]);
    t.is(r.code, 1, name);
    t.regex(
      r.stderr,
      /Agent "borrower" in namespace "team-c" has broken references: spec\.providers\[0\]: Provider "github" does not exist/,
    );
    const got = await pai(target, ['get', 'agents', '-n', 'team-c', '-o', 'name']);
    t.is(got.stdout, '', `${name}: nothing applied`);
    // -n naming another namespace than the document's own is refused before anything is sent.
    const conflict = await pai(target, ['apply', '-n', 'team-a', '-f', file(target, 'b.yaml', manifest('team-b'))]);
    t.is(conflict.code, 1);
    t.regex(conflict.stderr, /is in namespace team-b, but -n says team-a/);
  }
});

test.serial(
  'pai create model-provider --api-key - : the key is stored, and is in no output, cmdline, log or audit record',
  async (t) => {
    for (const { name, target } of t.context.stores) {
      const canary = `sk-${makeCanary(`mp-${name}`).replace(/[^A-Za-z0-9_-]/g, '_')}`;
      let cmdline = '';
      const r = await runPai(
        [
          'create',
          'model-provider',
          'openai',
          '-n',
          'team-a',
          '--provider',
          'openai',
          '--api-key',
          '-',
          '--allowed-models',
          'gpt-4o',
        ],
        target.server.env,
        `${canary}\n`,
        {
          onSpawn: (child) => {
            cmdline = fs.readFileSync(`/proc/${child.pid ?? 0}/cmdline`, 'latin1');
          },
        },
      );
      t.is(r.code, 0, `${name}: ${r.stderr}`);
      t.regex(r.stdout, /secret\/openai-key created/);
      t.regex(r.stdout, /modelprovider\/openai created/);
      const described = await pai(target, ['describe', 'secret', 'openai-key', '-n', 'team-a']);
      t.regex(described.stdout, new RegExp(`api-key {2}${canary.length} bytes`));
      const table = await pai(target, ['get', 'model-providers', '-n', 'team-a']);
      t.regex(table.stdout, /^NAME {4}PROVIDER {2}ENDPOINT +MAX\/DAY {2}LAST USED {2}AGE\nopenai {2}openai /);
      const audit = fs.readFileSync(path.join(target.server.dataDir, 'audit.log'), 'utf8');
      for (const [where, text] of [
        ['stdout', r.stdout],
        ['stderr', r.stderr],
        ['cmdline', cmdline],
        ['describe', described.stdout],
        ['server log', target.server.stdout() + target.server.stderr()],
        ['audit log', audit],
      ] as const) {
        t.deepEqual(findCanary(text, canary), [], `${name}: the key is not in the ${where}`);
      }
    }
  },
);
