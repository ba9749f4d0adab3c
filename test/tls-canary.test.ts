/**
 * Canary: the CA's private key and every leaf key leave the injector only inside SDS answers.
 * Everything else the TLS core says is searched for them: every log line (debug level), every
 * gRPC error a client received, and errors as a logger would print them, after a run through
 * every path: issue, ACK, NACK quoting the keys (as an Envoy error message might), renewal on a
 * fake clock, binding change, rotation, unknown agent, FetchSecrets, DeltaSecrets, agent deletion,
 * and a stored CA whose key does not match its certificate.
 *
 * Then the same through a running `pai serve` (debug logging) and the CLI: the keys are fetched over
 * SDS from the server's socket (the one legitimate exit; the CA keys are read from the store with
 * the master key while the server is stopped), and every API answer, CLI output, log line, /metrics,
 * the audit and request logs and every file under the data dir (pai.db included: its rows are
 * encrypted) are searched for them: PEM lines, DER as hex and as base64 at every alignment, the JWK
 * private scalar.
 */
import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import test from 'ava';
import type { SecretDiscoveryServiceClient } from '../src/generated/envoy/service/secret/v3/SecretDiscoveryService.js';
import { LocalStore } from '../src/store/local/sqlite-store.js';
import { SecretStoreCaMaterial } from '../src/tls/secret-store-ca.js';
import { type StoredCa, activeEntry, initialCa } from '../src/tls/ca-state.js';
import { MemoryCaMaterialStore } from '../src/tls/memory-ca-store.js';
import { type CliTarget, file, pai } from './helpers/cli-target.js';
import { Admin } from './helpers/injector.js';
import { adminToken, startServe, tempDir } from './helpers/process.js';
import { FakeClock, SdsStreamClient, type SdsFixture, fetchSecrets, sdsRequest, secretsOf, startSds } from './helpers/sds.js';
import { TLS_MANIFEST, fetchLeaf, sdsClient, seedTlsSecrets } from './helpers/tls-serve.js';

/** The spellings a key could leak in: each base64 line of its PEM, the DER as hex, the JWK private scalar (base64url and hex). */
function keyForms(pem: string): string[] {
  const lines = pem.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
  const key = createPrivateKey(pem);
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const d = key.export({ format: 'jwk' }).d ?? '';
  return [...lines, der.toString('hex'), d, Buffer.from(d, 'base64url').toString('hex')];
}

function leaks(keys: readonly string[], haystack: string): string[] {
  return keys.flatMap((pem, i) =>
    keyForms(pem)
      .filter((form) => haystack.includes(form))
      .map((form) => `key ${i}: ${form.slice(0, 12)}…`),
  );
}

async function caKeys(sds: SdsFixture): Promise<string[]> {
  const state = await sds.caStore.load();
  return (state?.ca.entries ?? []).flatMap((e) => (e.key ? [e.key.reveal()] : []));
}

async function nextLeafKey(stream: SdsStreamClient, keys: string[]): Promise<{ nonce: string; version: string }> {
  const res = await stream.next();
  for (const s of secretsOf(res)) keys.push(s.keyPem);
  return { nonce: res.nonce ?? '', version: res.version_info ?? '' };
}

test('no CA key and no leaf key in any log line, gRPC error or printed error', async (t) => {
  const clock = new FakeClock(Date.now());
  const sds = await startSds({ clock });
  t.teardown(() => sds.close());
  const keys: string[] = [];
  const errors: string[] = [];
  sds.hosts.set('canary-bot', ['api.github.com', '*.googleapis.com', '10.0.0.1']);

  const stream = new SdsStreamClient(sds.client);
  stream.send(sdsRequest({ agent: 'canary-bot' }));
  const first = await nextLeafKey(stream, keys);
  stream.send(sdsRequest(first)); // ACK
  keys.push(...(await caKeys(sds)));
  const quoted = `Failed to load private key ${keys.join(' ')}`;
  sds.hosts.set('canary-bot', ['api.github.com']);
  const second = await nextLeafKey(stream, keys);
  stream.send(sdsRequest({ ...second, version: first.version, error: { code: 3, message: quoted } })); // NACK quoting every key
  await sds.waitForLog(/NACK/);
  clock.advance((clock.nextTimer() ?? 0) - clock.now()); // renewal
  const third = await nextLeafKey(stream, keys);
  stream.send(sdsRequest(third));
  await sds.authority.rotate();
  await nextLeafKey(stream, keys);
  keys.push(...(await caKeys(sds)));
  const fetched = await fetchSecrets(sds.client, sdsRequest({ agent: 'canary-bot' }));
  for (const s of secretsOf(fetched)) keys.push(s.keyPem);
  sds.hosts.delete('canary-bot');
  errors.push((await stream.status).details);

  for (const req of [
    sdsRequest({ agent: 'nobody' }),
    sdsRequest({ node: true }),
    sdsRequest({ agent: 'x', names: ['pai-ca'] }),
  ]) {
    const s = new SdsStreamClient(sds.client);
    s.send(req);
    errors.push((await s.status).details);
    errors.push(((await t.throwsAsync<grpc.ServiceError>(fetchSecrets(sds.client, req))) ?? new Error('none')).details);
  }

  t.true(keys.length >= 7, `collected ${keys.length} keys`);
  t.regex(sds.logs(), /sds: leaf issued/);
  t.regex(sds.logs(), /NACK/);
  t.deepEqual(leaks(keys, sds.logs()), [], 'logs');
  t.deepEqual(leaks(keys, errors.join('\n')), [], 'gRPC errors');
});

test('a stored CA whose key does not match: refused with integrity, the key in no error or log', async (t) => {
  const a = await initialCa(Date.now());
  const b = await initialCa(Date.now());
  const mismatched: StoredCa = { entries: [{ ...activeEntry(a), key: activeEntry(b).key }] };
  const caStore = new MemoryCaMaterialStore();
  await caStore.save(mismatched, undefined);
  const sds = await startSds({ caStore });
  t.teardown(() => sds.close());
  sds.hosts.set('canary-bot', ['api.github.com']);
  const stream = new SdsStreamClient(sds.client);
  stream.send(sdsRequest({ agent: 'canary-bot' }));
  const status = await stream.status;
  t.regex(status.details, /integrity: the stored key of pai CA [0-9a-f]{8} does not match its certificate/);
  const thrown = await t.throwsAsync(sds.authority.signing());
  const keys = [activeEntry(a).key.reveal(), activeEntry(b).key.reveal()];
  const printed = [status.details, sds.logs(), inspect(thrown, { depth: 10 }), JSON.stringify(await caStore.load())].join('\n');
  t.deepEqual(leaks(keys, printed), []);
});

// ---- through the real server ----------------------------------------------------------------------

/**
 * keyForms, plus the whole DER in base64, and the private scalar as it would show inside any base64
 * stream (its inner bytes at each of the three alignments). Only the scalar: PKCS#8 also carries the
 * public point, which the certificates rightly show.
 */
function derChunks(pem: string): string[] {
  const key = createPrivateKey(pem);
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const d = Buffer.from(key.export({ format: 'jwk' }).d ?? '', 'base64url');
  const inner = [0, 1, 2].map((shift) => d.subarray(shift, d.length - ((d.length - shift) % 3)).toString('base64'));
  return [...keyForms(pem), der.toString('base64'), ...inner, d.toString('base64').replace(/=+$/, '')];
}

function leaksAnywhere(keys: readonly string[], places: readonly { where: string; text: string | Buffer }[]): string[] {
  const forms = keys.map((pem, i) => ({ i, forms: derChunks(pem) }));
  return places.flatMap(({ where, text }) => {
    const hay = typeof text === 'string' ? text : text.toString('latin1');
    return forms.flatMap(({ i, forms: fs_ }) =>
      fs_.filter((f) => hay.includes(f)).map((f) => `${where}: key ${i} (${f.slice(0, 10)}…)`),
    );
  });
}

/** The CA keys in the server's store (read with the master key, as the server does, while it is stopped). */
async function storedCaKeys(dataDir: string): Promise<string[]> {
  const store = LocalStore.open({ dataDir, masterKeyFile: path.join(dataDir, 'master.key') });
  try {
    const loaded = await new SecretStoreCaMaterial(store).load();
    return (loaded?.ca.entries ?? []).flatMap((e) => (e.key ? [e.key.reveal()] : []));
  } finally {
    await store.close();
  }
}

/** Every regular file under `dir`, recursively. */
function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? walk(p) : d.isFile() ? [p] : [];
  });
}

test.serial(
  'pai serve: no CA key or leaf key in any API answer, CLI output, log line, metric, audit or request log, or data file',
  async (t) => {
    const root = tempDir('pai-tls-canary-serve-');
    t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
    const dataDir = path.join(root, 'data');
    const files = path.join(root, 'files');
    fs.mkdirSync(files);
    const keys: string[] = [];
    const places: { where: string; text: string | Buffer }[] = [];
    const errors: string[] = [];

    const phase = async (run: (target: CliTarget, sds: SecretDiscoveryServiceClient, admin: Admin) => Promise<void>) => {
      const server = await startServe({ dataDir, env: { PAI_LOG_LEVEL: 'debug' } });
      const target: CliTarget = { root, server, token: adminToken(dataDir), files, expected: new Map() };
      const sds = sdsClient(server);
      const admin = new Admin(server.adminUrl, target.token);
      try {
        await run(target, sds, admin);
        for (const args of [
          ['get', 'ca'],
          ['render', 'ca-bundle'],
          ['render', 'hosts', 'triage-bot'],
          ['render', 'env', 'triage-bot'],
          ['get', 'agents', '-o', 'yaml'],
          ['get', 'secrets'],
          ['status', 'triage-bot'],
        ]) {
          const r = await pai(target, args);
          places.push({ where: `pai ${args.join(' ')}`, text: `${r.code}\n${r.stdout}\n${r.stderr}` });
        }
        for (const p of [
          '/v1/ca',
          '/v1/ca-bundle',
          '/v1/agents/triage-bot/hosts',
          '/v1/agents',
          '/v1/secrets',
          '/v1/agents/triage-bot/env',
          '/v1/namespaces/pai-system/secrets',
          '/v1/namespaces/pai-system/secrets/ca',
          '/metrics',
        ]) {
          const res = await admin.call('GET', p);
          places.push({ where: `GET ${p}`, text: `${res.status}\n${[...res.headers].join('\n')}\n${res.text}` });
        }
      } finally {
        sds.close();
        await server.stop();
        places.push({ where: 'server stdout', text: server.stdout() }, { where: 'server stderr', text: server.stderr() });
      }
      keys.push(...(await storedCaKeys(dataDir)));
    };

    await phase(async (target, sds) => {
      await seedTlsSecrets(target.server);
      t.is((await pai(target, ['apply', '-f', file(target, 'agents.yaml', TLS_MANIFEST)])).code, 0);
      const stream = new SdsStreamClient(sds);
      stream.send(sdsRequest({ agent: 'triage-bot' }));
      const first = await nextLeafKey(stream, keys);
      stream.send(sdsRequest(first)); // ACK
      keys.push((await fetchLeaf(sds, 'other-bot')).keyPem, (await fetchLeaf(sds, 'triage-bot')).keyPem);
      // A NACK quoting the keys, as a confused Envoy might: the server logs the NACK, never the keys.
      stream.send(sdsRequest({ ...first, error: { code: 3, message: `Failed to load private key ${keys.join(' ')}` } }));
      const unknown = new SdsStreamClient(sds);
      unknown.send(sdsRequest({ agent: 'nobody' }));
      errors.push((await unknown.status).details);
      const rebind = `apiVersion: pai.io/v1
kind: Agent
metadata: {name: triage-bot}
spec: {providers: [github, stripe]}
`;
      t.is((await pai(target, ['apply', '-f', file(target, 'rebind.yaml', rebind)])).code, 0);
      await nextLeafKey(stream, keys); // the binding change's push
      stream.close();
    });
    await phase(async (target, sds) => {
      const stream = new SdsStreamClient(sds);
      stream.send(sdsRequest({ agent: 'triage-bot' }));
      const first = await nextLeafKey(stream, keys);
      stream.send(sdsRequest(first));
      const rotated = await pai(target, ['rotate', 'ca', '--overlap', '1d']);
      places.push({ where: 'pai rotate ca', text: `${rotated.code}\n${rotated.stdout}\n${rotated.stderr}` });
      await nextLeafKey(stream, keys); // the new CA's leaf
      keys.push((await fetchLeaf(sds, 'other-bot')).keyPem);
      stream.close();
    });
    places.push({ where: 'SDS errors', text: errors.join('\n') });
    for (const f of walk(dataDir)) places.push({ where: path.relative(dataDir, f), text: fs.readFileSync(f) });

    const unique = [...new Set(keys)];
    t.true(unique.length >= 8, `collected ${unique.length} keys (leaves and both CAs)`);
    t.true(unique.every((k) => k.includes('PRIVATE KEY')));
    t.true(
      places.some((p) => p.where === 'audit.log'),
      'the audit log was searched',
    );
    t.true(
      places.some((p) => p.where === 'requests.log' || p.where.startsWith('pai.db')),
      'the data files were searched',
    );
    t.regex(places.find((p) => p.where === 'server stderr')?.text.toString() ?? '', /NACK/, 'the NACK was logged');
    t.deepEqual(leaksAnywhere(unique, places), []);
  },
);
