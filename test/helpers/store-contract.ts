/**
 * The SecretStore contract: one suite that every backend passes (local SQLite, Vault through the
 * test double, a real Vault when VAULT_ADDR is set). Call `storeContract(label, open)` from a test
 * file; `open` returns a store for one test, which the suite closes.
 *
 * Every test uses names with its own random suffix and filters listings by it, so the suite also
 * runs against a shared backend (a real Vault mount) without tests seeing each other's data.
 */
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { type ErrorCode, PaiError } from '../../src/errors.js';
import { SYSTEM_NAMESPACE } from '../../src/resources/names.js';
import { CA_SECRET } from '../../src/tls/secret-store-ca.js';
import type { ClusterDocKind, ResourceDocKind, SecretData, SecretStore } from '../../src/store/types.js';

export type StoreFactory = () => Promise<SecretStore>;

const MiB = 1024 * 1024;

/** Byte strings that must round-trip exactly, whatever the backend stores. */
export const AWKWARD_VALUES: ReadonlyArray<readonly [string, Buffer]> = [
  ['invalid-utf8', Buffer.from([0xff, 0xfe, 0xfd])],
  ['nul', Buffer.from('a\0b\0', 'latin1')],
  ['newlines', Buffer.from('line1\nline2\r\n\r\n')],
  ['bom', Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69])],
  ['lone-surrogate', Buffer.from([0xed, 0xa0, 0x80])],
  ['overlong', Buffer.from([0xc0, 0xaf])],
  ['truncated', Buffer.from([0xe2, 0x82])],
  ['emoji', Buffer.from('🔑 clé ключ', 'utf8')],
  ['empty', Buffer.alloc(0)],
  ['looks-like-encoding', Buffer.from('{"b64":"AAAA"}')],
  ['all-bytes', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
  ['random', randomBytes(4096)],
];

const data = (entries: Record<string, string | Buffer>): SecretData =>
  new Map(Object.entries(entries).map(([k, v]) => [k, typeof v === 'string' ? Buffer.from(v) : v]));

/** Asserts that `promise` rejects with a PaiError of `code`. */
export async function rejectsWith(t: ExecutionContext, promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await t.throwsAsync(promise, { instanceOf: PaiError });
  t.is(err?.code, code, err?.message);
}

function sameData(t: ExecutionContext, actual: SecretData, expected: SecretData): void {
  t.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [k, v] of expected) t.true(actual.get(k)?.equals(v), `value of ${k} differs`);
}

/** Registers the contract tests for one backend. */
export function storeContract(label: string, open: StoreFactory): void {
  const it = (
    title: string,
    body: (t: ExecutionContext, store: SecretStore, n: (base: string) => string) => Promise<void>,
  ): void => {
    test(`${label}: ${title}`, async (t) => {
      const store = await open();
      t.teardown(() => store.close());
      const suffix = randomBytes(4).toString('hex');
      await body(t, store, (base) => `${base}-${suffix}`);
    });
  };

  it('create returns metadata that describe and read agree with', async (t, store, n) => {
    const meta = await store.createSecret(
      'default',
      n('alpha'),
      data({ 'api-key': 'sk-123', cert: Buffer.from([1, 2, 3, 4, 5]) }),
    );
    t.deepEqual(meta.keys, [
      { name: 'api-key', size: 6 },
      { name: 'cert', size: 5 },
    ]);
    t.true(meta.version >= 1);
    t.true(meta.createdAt instanceof Date && meta.updatedAt instanceof Date);
    const described = await store.getSecretMeta('default', n('alpha'));
    t.deepEqual({ ...described, createdAt: 0, updatedAt: 0 }, { ...meta, createdAt: 0, updatedAt: 0 });
    const read = await store.readSecret('default', n('alpha'));
    t.is(read.meta.version, meta.version);
    t.deepEqual(read.meta.keys, meta.keys);
    sameData(t, read.data, data({ 'api-key': 'sk-123', cert: Buffer.from([1, 2, 3, 4, 5]) }));
  });

  it('keys named like Object.prototype members ("__proto__", "constructor") are kept, read and patched', async (t, store, n) => {
    const names = ['__proto__', 'constructor', 'toString'];
    const written = new Map(names.map((k) => [k, Buffer.from(`v-${k}`)]));
    const meta = await store.createSecret('default', n('proto'), written);
    t.deepEqual(
      meta.keys.map((k) => k.name),
      [...names].sort(),
    );
    sameData(t, (await store.readSecret('default', n('proto'))).data, written);
    await store.patchSecret('default', n('proto'), { set: new Map([['__proto__', Buffer.from('w')]]), remove: ['constructor'] });
    sameData(
      t,
      (await store.readSecret('default', n('proto'))).data,
      new Map([
        ['__proto__', Buffer.from('w')],
        ['toString', Buffer.from('v-toString')],
      ]),
    );
  });

  it('create rejects invalid names, keys and empty or oversized data', async (t, store) => {
    for (const bad of ['', 'UPPER', '../../sys/policy/x', 'a/b', 'a?b', '-lead', 'trail-', 'x'.repeat(64), 'dot.name']) {
      await rejectsWith(t, store.createSecret('default', bad, data({ k: 'v' })), 'invalid');
    }
    for (const key of ['', '.', '..', 'a/b', 'sp ace', 'k:colon', 'k'.repeat(254)]) {
      await rejectsWith(t, store.createSecret('default', 'keys-ok', data({ [key]: 'v' })), 'invalid');
    }
    await rejectsWith(t, store.createSecret('default', 'empty-secret', new Map()), 'invalid');
    await rejectsWith(
      t,
      store.createSecret('default', 'too-big', data({ a: Buffer.alloc(MiB), b: Buffer.alloc(1) })),
      'too_large',
    );
    await rejectsWith(t, store.getSecretMeta('default', 'keys-ok'), 'not_found');
  });

  it('a secret of exactly 1 MiB is stored and read back', async (t, store, n) => {
    const big = randomBytes(MiB);
    const meta = await store.createSecret('default', n('big'), new Map([['blob', big]]));
    t.deepEqual(meta.keys, [{ name: 'blob', size: MiB }]);
    t.true((await store.readSecret('default', n('big'))).data.get('blob')?.equals(big));
  });

  it('create of an existing name is already_exists and changes nothing', async (t, store, n) => {
    const first = await store.createSecret('default', n('dup'), data({ k: 'one' }));
    await rejectsWith(t, store.createSecret('default', n('dup'), data({ k: 'two', other: 'x' })), 'already_exists');
    const read = await store.readSecret('default', n('dup'));
    t.is(read.meta.version, first.version);
    sameData(t, read.data, data({ k: 'one' }));
  });

  it('replace swaps every key, bumps the version and keeps createdAt', async (t, store, n) => {
    await rejectsWith(t, store.replaceSecret('default', n('missing'), data({ k: 'v' })), 'not_found');
    const created = await store.createSecret('default', n('rot'), data({ old: 'a', keep: 'b' }));
    const replaced = await store.replaceSecret('default', n('rot'), data({ keep: 'B2', fresh: 'c' }));
    t.true(replaced.version > created.version);
    t.is(replaced.createdAt.getTime(), created.createdAt.getTime());
    t.deepEqual(
      replaced.keys.map((k) => k.name),
      ['fresh', 'keep'],
    );
    sameData(t, (await store.readSecret('default', n('rot'))).data, data({ keep: 'B2', fresh: 'c' }));
    t.deepEqual((await store.getSecretMeta('default', n('rot'))).keys, replaced.keys);
    await rejectsWith(t, store.replaceSecret('default', n('rot'), new Map()), 'invalid');
  });

  it('patch sets and removes keys and validates before writing', async (t, store, n) => {
    await rejectsWith(t, store.patchSecret('default', n('nope'), { set: data({ a: 'b' }), remove: [] }), 'not_found');
    const created = await store.createSecret('default', n('pat'), data({ a: '1', b: '2', c: '3' }));
    const patched = await store.patchSecret('default', n('pat'), {
      set: data({ b: 'two', d: Buffer.from([0xff]) }),
      remove: ['a'],
    });
    t.true(patched.version > created.version);
    t.deepEqual(patched.keys, [
      { name: 'b', size: 3 },
      { name: 'c', size: 1 },
      { name: 'd', size: 1 },
    ]);
    sameData(t, (await store.readSecret('default', n('pat'))).data, data({ b: 'two', c: '3', d: Buffer.from([0xff]) }));
    t.deepEqual((await store.getSecretMeta('default', n('pat'))).keys, patched.keys);
    const bad = [
      { set: data({}), remove: ['a'] },
      { set: data({}), remove: ['b', 'c', 'd'] },
      { set: data({ b: 'x' }), remove: ['b'] },
      { set: data({ 'bad/key': 'x' }), remove: [] },
    ];
    for (const patch of bad) await rejectsWith(t, store.patchSecret('default', n('pat'), patch), 'invalid');
    await rejectsWith(
      t,
      store.patchSecret('default', n('pat'), { set: data({ huge: Buffer.alloc(MiB) }), remove: [] }),
      'too_large',
    );
    t.is((await store.getSecretMeta('default', n('pat'))).version, patched.version, 'a rejected patch writes nothing');
  });

  it('ifVersion guards replace and patch', async (t, store, n) => {
    const v1 = await store.createSecret('default', n('cas'), data({ k: 'v1' }));
    const v2 = await store.replaceSecret('default', n('cas'), data({ k: 'v2' }), { ifVersion: v1.version });
    await rejectsWith(t, store.replaceSecret('default', n('cas'), data({ k: 'stale' }), { ifVersion: v1.version }), 'conflict');
    await rejectsWith(
      t,
      store.patchSecret('default', n('cas'), { set: data({ k: 'stale' }), remove: [] }, { ifVersion: v1.version }),
      'conflict',
    );
    const v3 = await store.patchSecret('default', n('cas'), { set: data({ k: 'v3' }), remove: [] }, { ifVersion: v2.version });
    t.true(v3.version > v2.version);
    sameData(t, (await store.readSecret('default', n('cas'))).data, data({ k: 'v3' }));
  });

  it('versions increase on every write', async (t, store, n) => {
    const versions = [(await store.createSecret('default', n('ver'), data({ k: '0' }))).version];
    versions.push((await store.replaceSecret('default', n('ver'), data({ k: '1' }))).version);
    versions.push((await store.patchSecret('default', n('ver'), { set: data({ j: '2' }), remove: [] })).version);
    versions.push((await store.patchSecret('default', n('ver'), { set: data({}), remove: ['j'] })).version);
    for (let i = 1; i < versions.length; i++)
      t.true((versions[i] ?? 0) > (versions[i - 1] ?? 0), `versions ${versions.join(',')}`);
    const last = versions.at(-1) ?? -1;
    t.is((await store.getSecretMeta('default', n('ver'))).version, last);
    t.is((await store.readSecret('default', n('ver'))).meta.version, last);
  });

  it('list returns metadata of every secret, sorted by name', async (t, store, n) => {
    for (const name of ['gamma', 'alpha', 'beta']) await store.createSecret('default', n(name), data({ [`${name}-key`]: name }));
    const mine = (await store.listSecrets('default')).filter((m) => m.name.endsWith(n('')));
    t.deepEqual(
      mine.map((m) => m.name),
      [n('alpha'), n('beta'), n('gamma')],
    );
    t.deepEqual(mine[1]?.keys, [{ name: 'beta-key', size: 4 }]);
    for (const m of mine)
      t.deepEqual(Object.keys(m).sort(), ['createdAt', 'keys', 'name', 'updatedAt', 'version'], 'metadata only');
  });

  it('delete removes the secret; a new one can take its name', async (t, store, n) => {
    await rejectsWith(t, store.deleteSecret('default', n('ghost')), 'not_found');
    await store.createSecret('default', n('del'), data({ k: 'old' }));
    await store.deleteSecret('default', n('del'));
    await rejectsWith(t, store.getSecretMeta('default', n('del')), 'not_found');
    await rejectsWith(t, store.readSecret('default', n('del')), 'not_found');
    await rejectsWith(t, store.deleteSecret('default', n('del')), 'not_found');
    t.false((await store.listSecrets('default')).some((m) => m.name === n('del')));
    const again = await store.createSecret('default', n('del'), data({ k: 'new' }));
    t.true(again.version >= 1);
    sameData(t, (await store.readSecret('default', n('del'))).data, data({ k: 'new' }));
  });

  it('reads with invalid names are invalid, missing ones not_found', async (t, store, n) => {
    for (const bad of ['../x', 'A', '']) {
      await rejectsWith(t, store.getSecretMeta('default', bad), 'invalid');
      await rejectsWith(t, store.readSecret('default', bad), 'invalid');
      await rejectsWith(t, store.deleteSecret('default', bad), 'invalid');
    }
    await rejectsWith(t, store.readSecret('default', n('absent')), 'not_found');
    await rejectsWith(t, store.getSecretMeta('default', n('absent')), 'not_found');
  });

  it('arbitrary bytes round-trip exactly, through create and patch', async (t, store, n) => {
    const values = new Map(AWKWARD_VALUES.map(([k, v]) => [k, v]));
    const meta = await store.createSecret('default', n('bytes'), values);
    for (const k of meta.keys) t.is(k.size, values.get(k.name)?.length ?? -1, k.name);
    sameData(t, (await store.readSecret('default', n('bytes'))).data, values);
    await store.createSecret('default', n('patched'), data({ seed: 'x' }));
    await store.patchSecret('default', n('patched'), { set: values, remove: ['seed'] });
    sameData(t, (await store.readSecret('default', n('patched'))).data, values);
  });

  it('concurrent creates and ifVersion replaces: one wins, the other is told', async (t, store, n) => {
    const creates = await Promise.allSettled([
      store.createSecret('default', n('race'), data({ k: 'a' })),
      store.createSecret('default', n('race'), data({ k: 'b' })),
    ]);
    t.is(creates.filter((r) => r.status === 'fulfilled').length, 1);
    const lost = creates.find((r) => r.status === 'rejected');
    t.is(((lost as PromiseRejectedResult).reason as PaiError).code, 'already_exists');
    const v = (await store.getSecretMeta('default', n('race'))).version;
    const replaces = await Promise.allSettled(
      ['x', 'y'].map((val) => store.replaceSecret('default', n('race'), data({ k: val }), { ifVersion: v })),
    );
    const won = replaces.findIndex((r) => r.status === 'fulfilled');
    t.not(won, -1);
    const other = replaces[1 - won];
    t.is(other?.status, 'rejected');
    t.is(((other as PromiseRejectedResult).reason as PaiError).code, 'conflict');
    sameData(t, (await store.readSecret('default', n('race'))).data, data({ k: won === 0 ? 'x' : 'y' }));
  });

  docContract(it);

  it('ping answers', async (t, store) => {
    await t.notThrowsAsync(store.ping());
  });
}

type It = (title: string, body: (t: ExecutionContext, store: SecretStore, n: (base: string) => string) => Promise<void>) => void;

function docContract(it: It): void {
  it('documents: put, get, replace, list, delete', async (t, store, n) => {
    const first = await store.putDoc('agents', 'default', n('bot'), { spec: { env: [] } });
    t.is(first.version, 1);
    t.deepEqual((await store.getDoc('agents', 'default', n('bot'))).body, { spec: { env: [] } });
    const second = await store.putDoc('agents', 'default', n('bot'), { spec: { env: [{ name: 'X' }] } });
    t.is(second.version, 2);
    t.is(second.createdAt.getTime(), first.createdAt.getTime());
    const got = await store.getDoc('agents', 'default', n('bot'));
    t.deepEqual({ ...got, createdAt: got.createdAt.getTime() }, { ...second, createdAt: first.createdAt.getTime() });
    await store.putDoc('agents', 'default', n('alpha'), { a: 1 });
    await store.putDoc('providers', 'default', n('bot'), { other: 'kind' });
    const agents = (await store.listDocs('agents', 'default')).filter((d) => d.name.endsWith(n('')));
    t.deepEqual(
      agents.map((d) => d.name),
      [n('alpha'), n('bot')],
    );
    t.deepEqual((await store.getDoc('providers', 'default', n('bot'))).body, { other: 'kind' });
    await store.deleteDoc('agents', 'default', n('bot'));
    await rejectsWith(t, store.getDoc('agents', 'default', n('bot')), 'not_found');
    await rejectsWith(t, store.deleteDoc('agents', 'default', n('bot')), 'not_found');
    t.deepEqual((await store.getDoc('providers', 'default', n('bot'))).body, { other: 'kind' }, 'kinds are separate');
  });

  it('documents: ifVersion conflicts and invalid names or kinds', async (t, store, n) => {
    const created = await store.putClusterDoc('tokens', n('tok'), { hash: 'h1' }, { ifVersion: 0 });
    await rejectsWith(t, store.putClusterDoc('tokens', n('tok'), { hash: 'h2' }, { ifVersion: 0 }), 'conflict');
    const next = await store.putClusterDoc('tokens', n('tok'), { hash: 'h2' }, { ifVersion: created.version });
    await rejectsWith(t, store.putClusterDoc('tokens', n('tok'), { hash: 'h3' }, { ifVersion: created.version }), 'conflict');
    t.deepEqual((await store.getClusterDoc('tokens', n('tok'))).body, { hash: 'h2' });
    const racing = await Promise.allSettled(
      ['a', 'b'].map((h) => store.putClusterDoc('tokens', n('tok'), { hash: h }, { ifVersion: next.version })),
    );
    t.is(racing.filter((r) => r.status === 'fulfilled').length, 1);
    await rejectsWith(t, store.putDoc('secrets' as ResourceDocKind, 'default', n('x'), {}), 'invalid');
    await rejectsWith(t, store.putDoc('agents', '../x', n('x'), {}), 'invalid');
    await rejectsWith(t, store.putClusterDoc('agents' as ClusterDocKind, n('x'), {}), 'invalid');
    await rejectsWith(t, store.putDoc('agents', 'default', '../../sys/x', {}), 'invalid');
    await rejectsWith(t, store.getDoc('agents', 'default', 'Bad'), 'invalid');
    await rejectsWith(t, store.getDoc('modelproviders', 'default', n('none')), 'not_found');
  });

  it('listNamespaces: the namespaces users wrote to, never the reserved one (the pai CA lives there)', async (t, store, n) => {
    const ns = n('team');
    await store.createSecret(ns, n('s'), data({ k: 'v' }));
    // The one secret pai keeps there (the Vault policies allow no other name). On a shared backend
    // it may exist already: then it is left as it is.
    const created = await store.createSecret(SYSTEM_NAMESPACE, CA_SECRET, data({ state: 'x' })).then(
      () => true,
      (err: unknown) => {
        if (err instanceof PaiError && err.code === 'conflict') return false;
        throw err;
      },
    );
    if (created) t.teardown(() => store.deleteSecret(SYSTEM_NAMESPACE, CA_SECRET));
    t.is((await store.readSecret(SYSTEM_NAMESPACE, CA_SECRET)).meta.name, CA_SECRET, 'the reserved namespace holds a secret');
    const listed = await store.listNamespaces();
    t.true(listed.includes(ns) && listed.includes('default'), listed.join(','));
    t.false(listed.includes(SYSTEM_NAMESPACE), listed.join(','));
  });
}
