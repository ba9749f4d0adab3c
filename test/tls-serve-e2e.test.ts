/**
 * Real TLS end to end through a running `pai serve` (local store) and the `pai` CLI: agents bound to
 * a Provider of every type and five ModelProviders are applied with `pai apply`; each agent's leaf
 * comes over SDS from the server's own injector socket (Envoy's protos); a Node TLS server on
 * loopback presents it the way the sidecar's 8443 listener would; clients that trust only what
 * `pai render ca-bundle` printed (Node tls and https, Node fetch with NODE_EXTRA_CA_CERTS, curl
 * --cacert, Python ssl) connect with SNI api.github.com and every other host the agent is bound to.
 * Refused: an unbound host, an expired leaf (a second server with PAI_LEAF_TTL=1s), another agent's
 * leaf. A binding change pushes a new leaf on an open stream; `pai rotate ca --overlap` keeps the old
 * leaves valid for clients trusting the bundle rendered after it. test/tls-e2e.test.ts covers the
 * same client matrix against the TLS core alone; this one is about the server and the CLI.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import type { SecretDiscoveryServiceClient } from '../src/generated/envoy/service/secret/v3/SecretDiscoveryService.js';
import { type CliTarget, file, pai } from './helpers/cli-target.js';
import { adminToken, startServe, tempDir } from './helpers/process.js';
import { SdsStreamClient, sdsRequest, secretsOf } from './helpers/sds.js';
import { type Client, PYTHON, curl, nodeFetch, nodeHttps, nodeTls, python, startTlsServer } from './helpers/tls-clients.js';
import { TLS_MANIFEST, fetchLeaf, sansOf, sdsClient, seedTlsSecrets } from './helpers/tls-serve.js';

interface Ctx {
  target: CliTarget;
  sds: SecretDiscoveryServiceClient;
  bundle: string;
  clients: Record<string, Client>;
  closers: (() => Promise<unknown> | void)[];
}
const test = anyTest as TestFn<Ctx>;

/** triage-bot's hosts: what its Providers and ModelProviders name (aws from region + services). */
const TRIAGE_HOSTS = [
  '*.amazonaws.com',
  '*.blob.core.windows.net',
  '*.dfs.core.windows.net',
  '*.file.core.windows.net',
  '*.googleapis.com',
  '*.queue.core.windows.net',
  '*.s3.amazonaws.com',
  '*.s3.eu-west-1.amazonaws.com',
  '*.table.core.windows.net',
  'api.github.com',
  'api.openai.com',
  'api.stripe.com',
  'api.telegram.org',
  'generativelanguage.googleapis.com',
  'github.com',
  'mcp.linear.app',
  'my-resource.openai.azure.com',
  'openrouter.ai',
  's3.amazonaws.com',
  's3.eu-west-1.amazonaws.com',
  'slack.com',
  'sqs.eu-west-1.amazonaws.com',
  'storage.googleapis.com',
  'uploads.github.com',
];
/** One concrete name under each wildcard SAN (what an agent calls), and the exact names as they are. */
const concrete = (hosts: readonly string[]): string[] => hosts.map((h) => h.replace(/^\*\./, 'pai-test.'));
/** Names triage-bot's leaf must not certify: unbound, other-bot's, look-alikes, two labels under a wildcard. */
const UNBOUND = ['evil.example.com', 'api.anthropic.com', 'api.github.com.evil.net', 'github.co', 'a.b.blob.core.windows.net'];
const NAME_MISMATCH = /ERR_TLS_CERT_ALTNAME_INVALID|no alternative certificate subject name matches|Hostname mismatch/;

test.before(async (t) => {
  const root = tempDir('pai-tls-serve-');
  const server = await startServe({ dataDir: path.join(root, 'data') });
  const files = path.join(root, 'files');
  fs.mkdirSync(files);
  const target: CliTarget = { root, server, token: adminToken(server.dataDir), files, expected: new Map() };
  const sds = sdsClient(server);
  t.context = { target, sds, bundle: '', clients: {}, closers: [() => sds.close(), () => server.stop()] };
  await seedTlsSecrets(server);
  const applied = await pai(target, ['apply', '-f', file(target, 'agents.yaml', TLS_MANIFEST)]);
  if (applied.code !== 0) throw new Error(`apply: ${applied.stderr}`);
  t.context.bundle = await renderBundle(target, 'bundle.pem');
  const clients: Record<string, Client> = { 'node tls': nodeTls, 'node https': nodeHttps, 'node fetch': nodeFetch(files), curl };
  if (fs.existsSync(PYTHON)) clients['python ssl'] = python;
  t.context.clients = clients;
});

test.after.always(async (t) => {
  for (const close of (t.context.closers ?? []).reverse()) await close();
  if (t.context.target?.root) fs.rmSync(t.context.target.root, { recursive: true, force: true });
});

/** `pai render ca-bundle` into a file; returns its path. */
async function renderBundle(target: CliTarget, name: string): Promise<string> {
  const r = await pai(target, ['render', 'ca-bundle']);
  if (r.code !== 0) throw new Error(`render ca-bundle: ${r.stderr}`);
  return file(target, name, r.stdout);
}

async function serve(t: ExecutionContext<Ctx>, chainPem: string, keyPem: string): Promise<number> {
  const server = await startTlsServer(chainPem, keyPem);
  t.context.closers.push(() => server.close());
  return server.port;
}

/** Every client's outcome for each host: host → client → accepted. */
async function outcomes(t: ExecutionContext<Ctx>, bundle: string, port: number, hosts: readonly string[]) {
  const out: { client: string; host: string; ok: boolean; detail: string }[] = [];
  for (const [client, connect] of Object.entries(t.context.clients)) {
    for (const o of await connect(bundle, port, hosts)) out.push({ client, ...o });
  }
  return out;
}

test.serial('the leaf served over SDS names exactly the hosts `pai render hosts` lists (wildcards aside)', async (t) => {
  const leaf = await fetchLeaf(t.context.sds, 'triage-bot');
  t.deepEqual(leaf.sans, TRIAGE_HOSTS);
  const hosts = await pai(t.context.target, ['render', 'hosts', 'triage-bot']);
  t.is(hosts.code, 0, hosts.stderr);
  const listed = hosts.stdout
    .split('\n')
    .filter((l) => l.startsWith('127.0.0.1 '))
    .map((l) => l.slice('127.0.0.1 '.length))
    .sort();
  t.deepEqual(
    listed,
    TRIAGE_HOSTS.filter((h) => !h.startsWith('*.')),
  );
  const [, caPem] = leaf.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  t.true(new X509Certificate(leaf.chainPem).checkIssued(new X509Certificate(caPem ?? '')), 'leaf, then the pai CA');
  t.true(fs.readFileSync(t.context.bundle, 'utf8').includes(caPem ?? 'none'), 'the CA is in the rendered bundle');
});

test.serial(
  "every client trusting only the rendered bundle accepts triage-bot's leaf for each bound host, and refuses unbound ones",
  async (t) => {
    const leaf = await fetchLeaf(t.context.sds, 'triage-bot');
    const port = await serve(t, leaf.chainPem, leaf.keyPem);
    const accepted = concrete(TRIAGE_HOSTS);
    t.true(accepted.includes('api.github.com'));
    const results = await outcomes(t, t.context.bundle, port, [...accepted, ...UNBOUND]);
    t.true(Object.keys(t.context.clients).length >= 4, 'node tls, node https, node fetch, curl (and python when present)');
    t.is(results.length, Object.keys(t.context.clients).length * (accepted.length + UNBOUND.length));
    for (const o of results) {
      t.is(o.ok, accepted.includes(o.host), `${o.client} ${o.host}: ${o.detail}`);
      if (!o.ok) t.regex(o.detail, NAME_MISMATCH, `${o.client} ${o.host}: refused for the name, not a broken connection`);
    }
  },
);

test.serial("another agent's leaf is refused for triage-bot's host, and triage-bot's for other-bot's", async (t) => {
  const other = await fetchLeaf(t.context.sds, 'other-bot');
  t.deepEqual(other.sans, ['api.anthropic.com']);
  const mine = await fetchLeaf(t.context.sds, 'triage-bot');
  const otherPort = await serve(t, other.chainPem, other.keyPem);
  const minePort = await serve(t, mine.chainPem, mine.keyPem);
  for (const [port, host, ok] of [
    [otherPort, 'api.github.com', false],
    [minePort, 'api.anthropic.com', false],
    [otherPort, 'api.anthropic.com', true],
  ] as const) {
    for (const o of await outcomes(t, t.context.bundle, port, [host])) {
      t.is(o.ok, ok, `${o.client} ${host}: ${o.detail}`);
      if (!ok) t.regex(o.detail, NAME_MISMATCH, `${o.client} ${host}`);
    }
  }
});

test.serial('an expired leaf is refused: a server with PAI_LEAF_TTL=1s, its leaf used after it expired', async (t) => {
  const root = tempDir('pai-tls-expiry-');
  const server = await startServe({ dataDir: path.join(root, 'data'), env: { PAI_LEAF_TTL: '1s' } });
  t.teardown(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  await seedTlsSecrets(server);
  const target: CliTarget = { ...t.context.target, root, server, token: adminToken(server.dataDir) };
  t.is((await pai(target, ['apply', '-f', file(t.context.target, 'agents.yaml', TLS_MANIFEST)])).code, 0);
  const bundle = await renderBundle(target, 'expiry-bundle.pem');
  const client = sdsClient(server);
  t.teardown(() => client.close());
  const leaf = await fetchLeaf(client, 'triage-bot');
  const cert = new X509Certificate(leaf.chainPem);
  const lifetime = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
  t.true(lifetime <= 5 * 60_000 + 2000, `PAI_LEAF_TTL reached the leaf (validity ${lifetime} ms, 5 min back-dated)`);
  // The one wait here is for the certificate's own clock, not for readiness.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(cert.validTo) - Date.now()) + 1100));
  const port = await serve(t, leaf.chainPem, leaf.keyPem);
  for (const o of await outcomes(t, bundle, port, ['api.github.com'])) {
    t.false(o.ok, `${o.client}: ${o.detail}`);
    t.regex(o.detail, /CERT_HAS_EXPIRED|certificate has expired|expired/i, o.client);
  }
});

test.serial(
  'a binding change (pai apply of a new Provider) pushes a new leaf with the new host on the open stream',
  async (t) => {
    const stream = new SdsStreamClient(t.context.sds);
    t.teardown(() => stream.close());
    stream.send(sdsRequest({ agent: 'other-bot' }));
    const first = await stream.next();
    const [before] = secretsOf(first);
    t.deepEqual(sansOf(before?.chainPem ?? ''), ['api.anthropic.com']);
    stream.send(sdsRequest({ agent: 'other-bot', nonce: first.nonce ?? '', version: first.version_info ?? '' })); // ACK
    const manifest = `apiVersion: pai.io/v1
kind: Provider
metadata: {name: notion}
spec: {type: http-token, host: api.notion.com, auth: {type: api-key, secretRef: stripe-key}}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: other-bot}
spec: {models: [anthropic/claude-sonnet-4], providers: [notion]}
`;
    const applied = await pai(t.context.target, ['apply', '-f', file(t.context.target, 'binding.yaml', manifest)]);
    t.is(applied.code, 0, applied.stderr);
    const pushed = await stream.next();
    t.not(pushed.version_info, first.version_info);
    const [after] = secretsOf(pushed);
    t.deepEqual(sansOf(after?.chainPem ?? ''), ['api.anthropic.com', 'api.notion.com']);
    const port = await serve(t, after?.chainPem ?? '', after?.keyPem ?? '');
    for (const o of await outcomes(t, t.context.bundle, port, ['api.notion.com', 'api.anthropic.com']))
      t.true(o.ok, `${o.client} ${o.host}: ${o.detail}`);
  },
);

test.serial(
  'pai rotate ca --overlap: open streams get a leaf of the new CA; old and new leaves both verify against the new bundle',
  async (t) => {
    const stream = new SdsStreamClient(t.context.sds);
    t.teardown(() => stream.close());
    stream.send(sdsRequest({ agent: 'triage-bot' }));
    const first = await stream.next();
    const [oldLeaf] = secretsOf(first);
    stream.send(sdsRequest({ agent: 'triage-bot', nonce: first.nonce ?? '', version: first.version_info ?? '' }));
    const rotated = await pai(t.context.target, ['rotate', 'ca', '--overlap', '1d']);
    t.is(rotated.code, 0, rotated.stderr);
    const pushed = await stream.next();
    const [newLeaf] = secretsOf(pushed);
    const caIdOf = (version: string | undefined): string => (version ?? '').split('.')[0] ?? '';
    t.not(caIdOf(pushed.version_info), caIdOf(first.version_info), 'a leaf of the new CA');
    t.regex(rotated.stdout, new RegExp(`^pai CA rotated: ${caIdOf(first.version_info)} -> ${caIdOf(pushed.version_info)}`));
    const bundleAfter = await renderBundle(t.context.target, 'bundle-after.pem');
    const oldPort = await serve(t, oldLeaf?.chainPem ?? '', oldLeaf?.keyPem ?? '');
    const newPort = await serve(t, newLeaf?.chainPem ?? '', newLeaf?.keyPem ?? '');
    for (const port of [oldPort, newPort]) {
      for (const o of await outcomes(t, bundleAfter, port, ['api.github.com'])) t.true(o.ok, `${o.client} ${port}: ${o.detail}`);
    }
    // A bundle rendered before the rotation does not know the new CA (docs/TLS.md: prepare first, then roll the pods).
    const [stale] = await nodeTls(t.context.bundle, newPort, ['api.github.com']);
    t.false(stale?.ok ?? true, stale?.detail);
  },
);
