/**
 * Real TLS, end to end: the leaf and key come out of an SDS answer (Envoy's protos, unix socket),
 * a Node HTTPS server presents them the way the sidecar's listener would, and real clients that
 * trust only the rendered CA bundle (system roots + pai CA) connect asking for the agent's hosts.
 * Refused: a host the agent is not bound to, names a wildcard SAN does not cover, an expired leaf,
 * another agent's leaf, a leaf of a CA outside the bundle, and after a rotation's overlap a leaf of
 * the old CA (accepted during the overlap).
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import anyTest, { type TestFn } from 'ava';
import { CaAuthority } from '../src/tls/authority.js';
import { createCa, openSigningCa } from '../src/tls/ca.js';
import { issueLeaf } from '../src/tls/leaf.js';
import { MemoryCaMaterialStore } from '../src/tls/memory-ca-store.js';
import { tempDir } from './helpers/process.js';
import { FakeClock, SdsStreamClient, type SdsFixture, sdsRequest, secretsOf, startSds } from './helpers/sds.js';
import { type Client, PYTHON, curl, nodeFetch, nodeHttps, nodeTls, python, startTlsServer } from './helpers/tls-clients.js';

interface Context {
  sds: SdsFixture;
  dir: string;
  bundle: string;
  clients: Record<string, Client>;
  servers: { port: number; close(): Promise<void> }[];
}
const test = anyTest as TestFn<Context>;
const HOUR = 3_600_000;

const BOUND = ['api.github.com', 'uploads.github.com', 'github.com', 'api.openai.com', '*.googleapis.com'];
/** Names a client must accept with triage-bot's leaf: every exact host, and one label under the wildcard. */
const ACCEPTED = ['api.github.com', 'uploads.github.com', 'github.com', 'api.openai.com', 'storage.googleapis.com'];
/** Names it must refuse: unbound, the wildcard's apex and a name two labels deep, a look-alike suffix. */
/** How each client says "the certificate does not name this host": Node, curl, Python. */
const NAME_MISMATCH = /ERR_TLS_CERT_ALTNAME_INVALID|no alternative certificate subject name matches|Hostname mismatch/;
const REFUSED = ['evil.example.com', 'googleapis.com', 'a.b.googleapis.com', 'api.github.com.evil.net', 'api.anthropic.com'];

test.before(async (t) => {
  const sds = await startSds();
  sds.hosts.set('triage-bot', BOUND);
  sds.hosts.set('other-bot', ['api.anthropic.com']);
  const dir = tempDir('pai-tls-e2e-');
  const bundle = path.join(dir, 'ca-bundle.pem');
  fs.writeFileSync(bundle, await sds.authority.bundle(tls.rootCertificates));
  const clients: Record<string, Client> = { 'node tls': nodeTls, 'node https': nodeHttps, 'node fetch': nodeFetch(dir), curl };
  if (fs.existsSync(PYTHON)) clients['python ssl'] = python;
  t.context = { sds, dir, bundle, clients, servers: [] };
});

test.after.always(async (t) => {
  await Promise.all(t.context.servers.map((s) => s.close()));
  await t.context.sds.close();
});

/** The chain and key an SDS stream serves for `agent`. */
async function sdsLeaf(sds: SdsFixture, agent: string): Promise<{ chainPem: string; keyPem: string }> {
  const stream = new SdsStreamClient(sds.client);
  stream.send(sdsRequest({ agent }));
  const [secret] = secretsOf(await stream.next());
  stream.close();
  if (secret === undefined) throw new Error('no secret');
  return secret;
}

async function serve(t: { context: Context }, chainPem: string, keyPem: string): Promise<number> {
  const server = await startTlsServer(chainPem, keyPem);
  t.context.servers.push(server);
  return server.port;
}

test('the bundle is the system roots plus the pai CA, and nothing secret', async (t) => {
  const text = fs.readFileSync(t.context.bundle, 'utf8');
  const [paiCa] = await t.context.sds.authority.trusted();
  t.is((text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length, tls.rootCertificates.length + 1);
  t.true(text.includes(paiCa?.trim() ?? 'missing'));
  t.false(text.includes('PRIVATE KEY'));
});

test('every client accepts the SDS leaf for every bound host (and one label under the wildcard), and refuses the rest', async (t) => {
  const { chainPem, keyPem } = await sdsLeaf(t.context.sds, 'triage-bot');
  const port = await serve(t, chainPem, keyPem);
  t.true(Object.keys(t.context.clients).length >= 4);
  for (const [name, client] of Object.entries(t.context.clients)) {
    const outcomes = await client(t.context.bundle, port, [...ACCEPTED, ...REFUSED]);
    for (const o of outcomes) {
      t.is(o.ok, ACCEPTED.includes(o.host), `${name} ${o.host}: ${o.detail}`);
      // Refused for the right reason (the name), not because the connection failed.
      if (!o.ok) t.regex(o.detail, NAME_MISMATCH, `${name} ${o.host}`);
    }
    t.is(outcomes.length, ACCEPTED.length + REFUSED.length, name);
  }
});

test("refused by every client: an expired leaf, another agent's leaf, a leaf of a CA outside the bundle", async (t) => {
  const signer = await t.context.sds.authority.signing();
  const expired = await issueLeaf(signer, { namespace: 'default', name: 'triage-bot' }, BOUND, Date.now() - 25 * HOUR);
  const other = await sdsLeaf(t.context.sds, 'other-bot');
  const foreignCa = await createCa(Date.now());
  const foreign = await issueLeaf(
    await openSigningCa(foreignCa.certPem, foreignCa.key),
    { namespace: 'default', name: 'triage-bot' },
    BOUND,
    Date.now(),
  );
  const cases: [string, string, string, RegExp][] = [
    ['expired', expired.chainPem, expired.key.reveal(), /CERT_HAS_EXPIRED/],
    ['other agent', other.chainPem, other.keyPem, /ERR_TLS_CERT_ALTNAME_INVALID/],
    ['foreign CA', foreign.chainPem, foreign.key.reveal(), /UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN/],
  ];
  for (const [title, chain, key, nodeReason] of cases) {
    const port = await serve(t, chain, key);
    for (const [name, client] of Object.entries(t.context.clients)) {
      const [outcome] = await client(t.context.bundle, port, ['api.github.com']);
      t.false(outcome?.ok ?? true, `${title} / ${name}: ${outcome?.detail}`);
      if (name === 'node tls') t.regex(outcome?.detail ?? '', nodeReason, title);
    }
  }
});

test('rotation: during the overlap a leaf of the old CA and one of the new both verify; after it, only the new', async (t) => {
  const clock = new FakeClock(Date.now());
  const authority = new CaAuthority({ store: new MemoryCaMaterialStore(), clock, overlapMs: 2 * HOUR });
  const agent = { namespace: 'default', name: 'triage-bot' };
  const oldLeaf = await issueLeaf(await authority.signing(), agent, BOUND, clock.now());
  await authority.rotate();
  const newLeaf = await issueLeaf(await authority.signing(), agent, BOUND, clock.now());
  t.not(oldLeaf.caId, newLeaf.caId);
  const during = path.join(t.context.dir, 'during.pem');
  fs.writeFileSync(during, await authority.bundle());
  clock.advance(3 * HOUR);
  const after = path.join(t.context.dir, 'after.pem');
  fs.writeFileSync(after, await authority.bundle());
  const oldPort = await serve(t, oldLeaf.chainPem, oldLeaf.key.reveal());
  const newPort = await serve(t, newLeaf.chainPem, newLeaf.key.reveal());
  for (const [name, client] of Object.entries(t.context.clients)) {
    const check = async (bundle: string, port: number): Promise<boolean> =>
      (await client(bundle, port, ['api.github.com']))[0]?.ok ?? false;
    t.true(await check(during, oldPort), `${name}: old CA's leaf during the overlap`);
    t.true(await check(during, newPort), `${name}: new CA's leaf during the overlap`);
    t.false(await check(after, oldPort), `${name}: old CA's leaf after the overlap`);
    t.true(await check(after, newPort), `${name}: new CA's leaf after the overlap`);
  }
});
