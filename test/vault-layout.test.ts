/**
 * What the Vault store leaves in Vault (checked through the double's HTTP API with a root token),
 * and how it copes with data it did not write or an index left behind by an interrupted writer.
 */
import test from 'ava';
import { PaiError } from '../src/errors.js';
import type { SecretStore } from '../src/store/types.js';
import { VaultStore } from '../src/store/vault/index.js';
import { rejectsWith } from './helpers/store-contract.js';
import { vaultConfig } from './vault-double/config.js';
import { startVaultDouble, type VaultDouble } from './vault-double/server.js';

let d: VaultDouble;
let store: SecretStore;

test.before(async () => {
  d = await startVaultDouble({ casRequired: true });
  store = await VaultStore.open(vaultConfig(d, { token: d.createToken({ policies: ['pai-admin', 'pai-renderer'] }) }));
});

test.after.always(async () => {
  await store?.close();
  await d?.close();
});

/** A raw Vault call with the root token; resolves with status and parsed body. */
async function vault(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${d.addr}/v1/${path}`, {
    method,
    headers: {
      'X-Vault-Token': d.rootToken,
      ...(method === 'PATCH' ? { 'Content-Type': 'application/merge-patch+json' } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const dataOf = (r: { body: Record<string, unknown> }): Record<string, unknown> => r.body['data'] as Record<string, unknown>;

test('values: UTF-8 as JSON strings, other bytes as {"b64"}; the index in custom_metadata', async (t) => {
  await store.createSecret(
    'default',
    'layout',
    new Map([
      ['text', Buffer.from('héllo\nworld')],
      ['bin', Buffer.from([0xff, 0x00])],
    ]),
  );
  const read = dataOf(await vault('GET', 'pai/data/secrets/layout'));
  t.deepEqual(read['data'], { text: 'héllo\nworld', bin: { b64: '/wA=' } });
  const meta = dataOf(await vault('GET', 'pai/metadata/secrets/layout'));
  const custom = meta['custom_metadata'] as Record<string, string>;
  t.is(custom['pai.keys.1.0'], 'bin:2,text:12');
  t.truthy(custom['pai.created']);
  await store.patchSecret('default', 'layout', { set: new Map([['more', Buffer.from('x')]]), remove: ['bin'] });
  const after = dataOf(await vault('GET', 'pai/metadata/secrets/layout'))['custom_metadata'] as Record<string, string>;
  t.deepEqual(Object.keys(after).sort(), ['pai.created', 'pai.keys.2.0'], 'the old version index is removed');
  t.is(after['pai.keys.2.0'], 'more:1,text:12');
});

test('a value written with the vault CLI reads back as its UTF-8 bytes; a foreign shape is an integrity error', async (t) => {
  t.is((await vault('POST', 'pai/data/secrets/cli-written', { data: { token: 'ghp_x' }, options: { cas: 0 } })).status, 200);
  t.is((await store.readSecret('default', 'cli-written')).data.get('token')?.toString(), 'ghp_x');
  t.deepEqual((await store.getSecretMeta('default', 'cli-written')).keys, [], 'no index: keys unknown, not invented');
  await vault('POST', 'pai/data/secrets/foreign', { data: { n: 42 }, options: { cas: 0 } });
  await rejectsWith(t, store.readSecret('default', 'foreign'), 'integrity');
  await vault('POST', 'pai/data/resources/agents/foreign', { data: { spec: {} }, options: { cas: 0 } });
  await rejectsWith(t, store.getDoc('agents', 'default', 'foreign'), 'integrity');
});

test('an index left behind by an interrupted writer: describe lags, patch refuses, replace repairs', async (t) => {
  await store.createSecret('default', 'lag', new Map([['a', Buffer.from('1')]]));
  // A writer that died after its data write: version 2 exists, its index does not.
  await vault('POST', 'pai/data/secrets/lag', { data: { a: '1', b: '22' }, options: { cas: 1 } });
  const meta = await store.getSecretMeta('default', 'lag');
  t.is(meta.version, 2);
  t.deepEqual(meta.keys, [{ name: 'a', size: 1 }], 'the newest indexed key set');
  const err = await t.throwsAsync(store.patchSecret('default', 'lag', { set: new Map([['c', Buffer.from('3')]]), remove: [] }), {
    instanceOf: PaiError,
  });
  t.is(err?.code, 'conflict');
  t.regex(err?.message ?? '', /replace all its keys/);
  await store.replaceSecret('default', 'lag', new Map([['z', Buffer.from('zz')]]));
  t.deepEqual((await store.getSecretMeta('default', 'lag')).keys, [{ name: 'z', size: 2 }]);
});

test('a secret soft-deleted outside pai is absent, and its name can be reused', async (t) => {
  await store.createSecret('default', 'soft', new Map([['k', Buffer.from('old')]]));
  t.is((await vault('DELETE', 'pai/data/secrets/soft')).status, 204);
  await rejectsWith(t, store.getSecretMeta('default', 'soft'), 'not_found');
  await rejectsWith(t, store.readSecret('default', 'soft'), 'not_found');
  t.false((await store.listSecrets('default')).some((m) => m.name === 'soft'));
  const again = await store.createSecret('default', 'soft', new Map([['k', Buffer.from('new')]]));
  t.is(again.version, 2, 'Vault keeps counting');
  t.is((await store.readSecret('default', 'soft')).data.get('k')?.toString(), 'new');
});

test('too many key names for the index is too_large, before any Vault call', async (t) => {
  const many = new Map(Array.from({ length: 120 }, (_, i) => [`${'k'.repeat(90)}-${i}`, Buffer.from('v')] as const));
  const before = d.requests.length;
  await rejectsWith(t, store.createSecret('default', 'many-keys', many), 'too_large');
  t.is(d.requests.length, before);
  const fits = new Map(Array.from({ length: 60 }, (_, i) => [`${'k'.repeat(90)}-${i}`, Buffer.from('v')] as const));
  t.is((await store.createSecret('default', 'many-keys', fits)).keys.length, 60);
  t.is((await store.getSecretMeta('default', 'many-keys')).keys.length, 60);
});

test('documents are stored as {createdAt, body} and deleted with all versions', async (t) => {
  const doc = await store.putDoc('providers', 'default', 'gh', { spec: { type: 'github' } });
  const raw = dataOf(await vault('GET', 'pai/data/resources/providers/gh'))['data'] as Record<string, unknown>;
  t.deepEqual(raw, { createdAt: doc.createdAt.toISOString(), body: { spec: { type: 'github' } } });
  await store.deleteDoc('providers', 'default', 'gh');
  t.is((await vault('GET', 'pai/metadata/resources/providers/gh')).status, 404);
});
