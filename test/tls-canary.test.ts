/**
 * Canary: the CA's private key and every leaf key leave the injector only inside SDS answers.
 * Everything else the TLS core says is searched for them: every log line (debug level), every
 * gRPC error a client received, and errors as a logger would print them, after a run through
 * every path: issue, ACK, NACK quoting the keys (as an Envoy error message might), renewal on a
 * fake clock, binding change, rotation, unknown agent, FetchSecrets, DeltaSecrets, agent deletion,
 * and a stored CA whose key does not match its certificate.
 */
import { createPrivateKey } from 'node:crypto';
import { inspect } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { type StoredCa, activeEntry, initialCa } from '../src/tls/ca-state.js';
import { MemoryCaMaterialStore } from '../src/tls/memory-ca-store.js';
import { FakeClock, SdsStreamClient, type SdsFixture, fetchSecrets, sdsRequest, secretsOf, startSds } from './helpers/sds.js';

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
