/**
 * `pai render gateway` (issue 8): the pure renderer (src/resources/gateway-config.ts) against
 * Envoy's config protos and against the hand-written envoy/gateway.yaml, and the real CLI binary
 * against a running `pai serve`: render from the store, agent token create / list / revoke, and no
 * token or key in anything the CLI prints but the one `create token` line.
 */
import { readFileSync } from 'node:fs';
import anyTest, { type TestFn } from 'ava';
import { parse } from 'yaml';
import { type GatewayRenderOptions, renderGatewayConfig } from '../src/resources/gateway-config.js';
import type { ModelProvider } from '../src/resources/types.js';
import { parseResource } from '../src/resources/validate.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import { validateEnvoyBootstrap } from './helpers/envoy-schema.js';
import { Admin, resource } from './helpers/injector.js';
import { type ServeHandle, adminToken, runPai, startServe } from './helpers/process.js';

/** The secret part of a `pai_<16 hex id>_<43 base64url>` token (which may itself contain `_`). */
function secretPartOf(token: string): string {
  return /^pai_(?:tok_|agt_)?[0-9a-f]{16}_(.+)$/.exec(token)?.[1] ?? '';
}

interface Context {
  server: ServeHandle;
  admin: Admin;
  key: string;
}
const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  const server = await startServe();
  const admin = new Admin(server.adminUrl, adminToken(server.dataDir));
  const key = makeCanary('render');
  await admin.createSecret('k', { 'api-key': key });
  await admin.createSecret('aws', { access_key_id: makeCanary('akid'), secret_access_key: makeCanary('aws') });
  const ref = { apiKeySecretRef: { name: 'k', key: 'api-key' } };
  await admin.apply(
    resource('ModelProvider', 'openai', { type: 'openai', ...ref }),
    resource('ModelProvider', 'anthropic', { type: 'anthropic', ...ref }),
    resource('ModelProvider', 'gemini', { type: 'gemini', ...ref }),
    resource('Agent', 'bot', { modelProviders: ['openai'] }),
  );
  t.context = { server, admin, key };
});
test.after.always(async (t) => {
  await t.context.server?.stop();
});

const ENVOY_GATEWAY = readFileSync(new URL('../envoy/gateway.yaml', import.meta.url), 'utf8');

function mp(name: string, spec: Record<string, unknown>): ModelProvider {
  const r = parseResource(resource('ModelProvider', name, { apiKeySecretRef: { name: 'k', key: 'api-key' }, ...spec }), name);
  if (r.kind !== 'ModelProvider') throw new Error('not a ModelProvider');
  return r;
}

const THREE = [mp('openai', { type: 'openai' }), mp('anthropic', { type: 'anthropic' }), mp('gemini', { type: 'gemini' })];

/** Every value of `key` anywhere in a parsed tree. */
function valuesOf(tree: unknown, key: string): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        if (k === key) out.push(item);
        walk(item);
      }
    }
  };
  walk(tree);
  return out;
}

type Tree = Record<string, unknown>;
const routes = (tree: unknown): Tree[] => valuesOf(tree, 'routes').flat() as Tree[];
const clusters = (tree: unknown): Tree[] => valuesOf(tree, 'clusters').flat() as Tree[];
const named = (list: Tree[], name: string): Tree | undefined => list.find((x) => x['name'] === name);
const listenerTls = (tree: unknown): Tree =>
  valuesOf(valuesOf(tree, 'listeners'), 'transport_socket').map((s) => (s as Tree)['typed_config'])[0] as Tree;

// ---------------------------------------------------------------------------------------------
// The renderer.

test('for the three example providers the rendered bootstrap equals envoy/gateway.yaml', (t) => {
  const rendered = renderGatewayConfig(THREE);
  t.deepEqual(parse(rendered.yaml), parse(ENVOY_GATEWAY));
  t.deepEqual(rendered.config, parse(ENVOY_GATEWAY));
});

const variants: { name: string; mps: ModelProvider[]; options?: GatewayRenderOptions }[] = [
  { name: 'defaults', mps: THREE },
  { name: 'no ModelProvider at all', mps: [] },
  { name: 'client certificates optional', mps: THREE, options: { clientCertificates: 'optional' } },
  { name: 'tokens only', mps: THREE, options: { clientCertificates: 'none', port: 8443 } },
  {
    name: 'base URL with a path and a port, an IPv4 host, and plain http on loopback',
    mps: [
      mp('compat', { type: 'openai-compatible', baseUrl: 'https://llm.example.com:8443/v1/' }),
      mp('ip', { type: 'openai-compatible', baseUrl: 'https://10.1.2.3/api' }),
      mp('local', { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:11434/v1' }),
    ],
    options: { injectorSocket: '/run/pai/inj.sock', trustDomain: 'example.org', tlsDir: '/certs/' },
  },
  {
    name: 'a bedrock provider beside the others',
    mps: [...THREE, mp('bedrock', { type: 'bedrock', apiKeySecretRef: { name: 'aws' } })],
  },
];

for (const v of variants) {
  test(`rendered bootstrap is valid Envoy config and fails closed: ${v.name}`, (t) => {
    const { yaml } = renderGatewayConfig(v.mps, v.options);
    t.deepEqual(validateEnvoyBootstrap(yaml), []);
    const tree: unknown = parse(yaml);
    t.deepEqual(valuesOf(tree, 'failure_mode_allow'), [false]);
    t.deepEqual(valuesOf(tree, 'retry_policy'), []);
    t.deepEqual(valuesOf(tree, 'internal_redirect_policy'), []);
    t.deepEqual(valuesOf(tree, 'pai.agent'), [], 'nothing per agent in the gateway');
    for (const r of routes(tree)) {
      const mode = valuesOf(r, 'pai.mode');
      if ('route' in r) t.deepEqual(mode, ['gateway'], `${String(r['name'])} is checked in gateway mode`);
      else t.deepEqual(valuesOf(r, 'disabled'), [true]);
    }
  });
}

test('routes strip /NAME/ to the base path, rewrite Host, and name the provider; clusters pin TLS to the host', (t) => {
  const { config, skipped } = renderGatewayConfig(variants[4]?.mps ?? [], variants[4]?.options);
  t.deepEqual(skipped, []);
  const expect = [
    {
      name: 'compat',
      prefix_rewrite: '/v1/',
      host: 'llm.example.com:8443',
      address: 'llm.example.com',
      port: 8443,
      sni: 'llm.example.com',
      san: 'DNS',
    },
    { name: 'ip', prefix_rewrite: '/api/', host: '10.1.2.3', address: '10.1.2.3', port: 443, sni: undefined, san: 'IP_ADDRESS' },
    {
      name: 'local',
      prefix_rewrite: '/v1/',
      host: '127.0.0.1:11434',
      address: '127.0.0.1',
      port: 11434,
      sni: undefined,
      san: undefined,
    },
  ];
  for (const e of expect) {
    const r = named(routes(config), `modelprovider_${e.name}`);
    t.deepEqual(valuesOf(r, 'prefix'), [`/${e.name}/`]);
    t.deepEqual(valuesOf(r, 'prefix_rewrite'), [e.prefix_rewrite]);
    t.deepEqual(valuesOf(r, 'host_rewrite_literal'), [e.host]);
    t.deepEqual(valuesOf(r, 'pai.modelprovider'), [e.name]);
    const c = named(clusters(config), `modelprovider_${e.name}`);
    t.deepEqual(valuesOf(c, 'socket_address'), [{ address: e.address, port_value: e.port }]);
    t.deepEqual(valuesOf(c, 'sni'), e.sni === undefined ? [] : [e.sni]);
    t.deepEqual(valuesOf(c, 'san_type'), e.san === undefined ? [] : [e.san]);
    t.deepEqual(valuesOf(c, 'exact'), e.san === undefined ? [] : [e.address]);
  }
  t.deepEqual(valuesOf(named(clusters(config), 'pai_injector'), 'pipe'), [{ path: '/run/pai/inj.sock' }]);
  t.deepEqual(valuesOf(listenerTls(config), 'prefix'), ['spiffe://example.org/agent/']);
  t.deepEqual(valuesOf(listenerTls(config), 'filename'), ['/certs/tls.crt', '/certs/tls.key', '/certs/agents-ca.crt']);
});

test('client certificate modes: required and optional verify agent certificates; none asks for none', (t) => {
  const tls = (mode: 'required' | 'optional' | 'none'): Tree =>
    listenerTls(renderGatewayConfig(THREE, { clientCertificates: mode }).config);
  t.deepEqual(valuesOf(tls('required'), 'require_client_certificate'), [true]);
  t.deepEqual(valuesOf(tls('optional'), 'require_client_certificate'), [false]);
  t.deepEqual(valuesOf(tls('none'), 'require_client_certificate'), []);
  t.is(valuesOf(tls('optional'), 'validation_context').length, 1);
  t.deepEqual(valuesOf(tls('none'), 'validation_context'), [], 'no client certificate is requested, so no principal can appear');
});

test('bedrock is left out (SigV4 needs ext_proc) and said so', (t) => {
  const rendered = renderGatewayConfig(variants[5]?.mps ?? []);
  t.deepEqual(rendered.skipped, [{ name: 'bedrock', reason: 'bedrock signs requests with SigV4, which needs ext_proc' }]);
  t.is(named(routes(rendered.config), 'modelprovider_bedrock'), undefined);
  t.regex(rendered.yaml, /Not routed: ModelProvider bedrock/);
});

// ---------------------------------------------------------------------------------------------
// The CLI, end to end.

test('pai render gateway prints the bootstrap from the store (yaml and json), and no value', async (t) => {
  const { server, key } = t.context;
  const yaml = await runPai(['render', 'gateway'], server.env);
  t.is(yaml.code, 0, yaml.stderr);
  t.deepEqual(parse(yaml.stdout), parse(ENVOY_GATEWAY), 'the store holds the three example providers');
  t.deepEqual(validateEnvoyBootstrap(yaml.stdout), []);
  const json = await runPai(['render', 'gateway', '-o', 'json', '--client-cert', 'none', '--port', '9000'], server.env);
  t.is(json.code, 0, json.stderr);
  const tree = JSON.parse(json.stdout) as unknown;
  t.deepEqual(valuesOf(valuesOf(tree, 'listeners'), 'port_value'), [9000]);
  t.deepEqual(valuesOf(tree, 'require_client_certificate'), []);
  for (const out of [yaml, json]) t.deepEqual(findCanary(out.stdout + out.stderr, key), []);
});

test('pai render gateway refuses bad options with exit 2', async (t) => {
  for (const args of [
    ['--client-cert', 'maybe'],
    ['--port', '70000'],
    ['--injector-socket', 'relative.sock'],
    ['--trust-domain', 'Bad Domain'],
    ['-o', 'toml'],
  ]) {
    const res = await runPai(['render', 'gateway', ...args], t.context.server.env);
    t.is(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    t.is(res.stdout, '');
  }
});

test('pai create token AGENT --ttl prints the token once; get tokens never shows it; delete token revokes it', async (t) => {
  const env = t.context.server.env;
  const created = await runPai(['create', 'token', 'bot', '--ttl', '30d'], env);
  t.is(created.code, 0, created.stderr);
  const token = created.stdout.trim();
  t.regex(token, /^pai_agt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  const id = token.split('_')[2] ?? '';
  t.regex(created.stderr, new RegExp(`token ${id} created \\(role agent, agent bot, expires `));
  for (const format of ['table', 'json', 'yaml', 'name']) {
    const listed = await runPai(['get', 'tokens', '-o', format], env);
    t.is(listed.code, 0);
    t.true(listed.stdout.includes(id), format);
    t.deepEqual(findCanary(listed.stdout, token), [], `${format}: no token`);
    t.deepEqual(findCanary(listed.stdout, secretPartOf(token)), [], `${format}: no secret part`);
  }
  const table = (await runPai(['get', 'tokens'], env)).stdout;
  t.regex(table, /ID\s+ROLE\s+AGENT\s+AGE\s+EXPIRES\s+LAST USED/);
  t.regex(table, new RegExp(`${id}\\s+agent\\s+bot\\s+\\S+\\s+(29d|30d)\\s+<never>`));
  const deleted = await runPai(['delete', 'token', id], env);
  t.is(deleted.code, 0, deleted.stderr);
  t.false((await runPai(['get', 'tokens'], env)).stdout.includes(id));
  const again = await runPai(['delete', 'token', id], env);
  t.is(again.code, 1);
  // No token for an agent that does not exist: it would speak for any agent later given that name.
  const unborn = await runPai(['create', 'token', 'unborn-bot'], env);
  t.is(unborn.code, 1);
  t.is(unborn.stdout, '');
  t.regex(unborn.stderr, /agent "unborn-bot" does not exist: apply the Agent first/);
  // The server's log and audit log never saw the token either.
  t.deepEqual(findCanary(t.context.server.stderr(), token), []);
  t.deepEqual(findCanary(readFileSync(`${t.context.server.dataDir}/audit.log`, 'utf8'), token), []);
});
