/**
 * The test double itself: is it faithful where the Vault store's tests rely on it? ACL matching
 * is checked against the cases of Vault's own vault/acl_test.go (testACLSingle, testLayeredACL;
 * the legacy `policy = "…"` values written as capability lists); the HTTP API against the KV v2
 * and token behaviour documented by Vault and implemented in vault-plugin-secrets-kv.
 */
import test, { type ExecutionContext } from 'ava';
import { Acl, type Operation, parsePolicy } from './vault-double/acl.js';
import { fakeClock } from './vault-double/config.js';
import { startVaultDouble, type VaultDouble } from './vault-double/server.js';

const SUDO = '["create", "read", "update", "delete", "list", "sudo"]';
const WRITE = '["create", "read", "update", "delete", "list"]';
const ACL_POLICY = `
path "dev/*" { capabilities = ${SUDO} }
path "stage/*" { capabilities = ${WRITE} }
path "stage/aws/*" { capabilities = ["read", "list", "update", "sudo"] }
path "stage/aws/policy/*" { capabilities = ${SUDO} }
path "prod/*" { capabilities = ["read", "list"] }
path "prod/aws/*" { capabilities = ["deny"] }
path "sys/*" { capabilities = ["deny"] }
path "foo/bar" { capabilities = ["read", "create", "sudo"] }
path "baz/quux" { capabilities = ["read", "create", "patch"] }
path "test/+/segment" { capabilities = ["read"] }
path "+/segment/at/front" { capabilities = ["read"] }
path "test/segment/at/end/+" { capabilities = ["read"] }
path "test/segment/at/end/v2/+/" { capabilities = ["read"] }
path "test/+/wildcard/+/*" { capabilities = ["read"] }
path "test/+/wildcardglob/+/end*" { capabilities = ["read"] }
path "1/2/*" { capabilities = ["create"] }
path "1/2/+" { capabilities = ["read"] }
path "1/2/+/+" { capabilities = ["update", "recover"] }
`;
const ACL_POLICY_2 = `
# comments of every kind /* block */ are skipped
path "dev/hide/*" { capabilities = ["deny"] }
path "stage/aws/policy/*" { capabilities = ["deny", "read", "update", "sudo"] } // deny alone counts
path "prod/*" { capabilities = ${WRITE} }
path "sys/seal" { capabilities = ${SUDO} }
path "foo/bar" { capabilities = ["deny"] }
path "baz/quux" { capabilities = ["deny"] }
`;

type Case = readonly [Operation, string, boolean];

const SINGLE: readonly Case[] = [
  ['read', 'root', false],
  ['read', 'dev/foo', true],
  ['update', 'dev/foo', true],
  ['delete', 'stage/foo', true],
  ['list', 'stage/aws/foo', true],
  ['update', 'stage/aws/foo', true],
  ['update', 'stage/aws/policy/foo', true],
  ['delete', 'prod/foo', false],
  ['update', 'prod/foo', false],
  ['read', 'prod/foo', true],
  ['list', 'prod/foo', true],
  ['read', 'prod/aws/foo', false],
  ['read', 'foo/bar', true],
  ['list', 'foo/bar', false],
  ['update', 'foo/bar', false],
  ['create', 'foo/bar', true],
  ['read', 'baz/quux', true],
  ['create', 'baz/quux', true],
  ['patch', 'baz/quux', true],
  ['list', 'baz/quux', false],
  ['update', 'baz/quux', false],
  ['read', 'test/foo/bar/segment', false],
  ['read', 'test/foo/segment', true],
  ['read', 'test/bar/segment', true],
  ['read', 'test/segment/at/frond', false],
  ['read', 'test/segment/at/front', true],
  ['read', 'test/segment/at/end/foo', true],
  ['read', 'test/segment/at/end/foo/', false],
  ['read', 'test/segment/at/end/v2/foo/', true],
  ['read', 'test/segment/wildcard/at/foo/', true],
  ['read', 'test/segment/wildcard/at/end', true],
  ['read', 'test/segment/wildcard/at/end/', true],
  ['read', '1/2/3/4', false],
  ['read', '1/2/3', true],
  ['update', '1/2/3', false],
  ['update', '1/2/3/4', true],
  ['create', '1/2/3/4/5', true],
];

const LAYERED: readonly Case[] = [
  ['read', 'root', false],
  ['read', 'dev/foo', true],
  ['update', 'dev/foo', true],
  ['read', 'dev/hide/foo', false],
  ['update', 'dev/hide/foo', false],
  ['delete', 'stage/foo', true],
  ['list', 'stage/aws/foo', true],
  ['update', 'stage/aws/foo', true],
  ['update', 'stage/aws/policy/foo', false],
  ['delete', 'prod/foo', true],
  ['update', 'prod/foo', true],
  ['read', 'prod/foo', true],
  ['list', 'prod/foo', true],
  ['read', 'prod/aws/foo', false],
  ['read', 'sys/status', false],
  ['update', 'sys/seal', true],
  ['read', 'foo/bar', false],
  ['list', 'foo/bar', false],
  ['update', 'foo/bar', false],
  ['create', 'foo/bar', false],
  ['read', 'baz/quux', false],
  ['create', 'baz/quux', false],
  ['patch', 'baz/quux', false],
];

test('ACL: single policy, as vault/acl_test.go testACLSingle', (t) => {
  const acl = new Acl([parsePolicy('dev', ACL_POLICY)]);
  for (const [op, path, allowed] of SINGLE) t.is(acl.allows(path, op), allowed, `${op} ${path}`);
});

test('ACL: two layered policies, as vault/acl_test.go testLayeredACL', (t) => {
  const acl = new Acl([parsePolicy('dev', ACL_POLICY), parsePolicy('ops', ACL_POLICY_2)]);
  for (const [op, path, allowed] of LAYERED) t.is(acl.allows(path, op), allowed, `${op} ${path}`);
});

test('ACL: list with a trailing slash, deny by default, namespaced rules', (t) => {
  const acl = new Acl([
    parsePolicy('p', 'path "kv/metadata/a/*" { capabilities = ["list"] }\npath "kv/metadata" { capabilities = ["list"] }'),
  ]);
  t.true(acl.allows('kv/metadata/a/', 'list'), 'a glob matches the folder it ends in when listing');
  t.true(acl.allows('kv/metadata/', 'list'), 'an exact rule matches a LIST with a trailing slash');
  t.false(acl.allows('kv/metadata/', 'read'));
  t.false(new Acl([]).allows('anything', 'read'));
  const ns = new Acl([parsePolicy('p', 'path "pai/data/*" { capabilities = ["read"] }', 'team-a/')]);
  t.true(ns.allows('team-a/pai/data/x', 'read'));
  t.false(ns.allows('pai/data/x', 'read'));
});

test('HCL: anything outside the subset is refused', (t) => {
  for (const bad of [
    'path "a" { capabilities = ["read"] ',
    'path "a" { policy = "read" }',
    'path "a" { capabilities = ["reed"] }',
    'path "a/+*" { capabilities = ["read"] }',
    'name = "x"',
    'path "a" { capabilities = ["read"] } /* unterminated',
  ]) {
    t.throws(() => parsePolicy('bad', bad), undefined, bad);
  }
});

let d: VaultDouble;
const clock = fakeClock();

test.before(async () => {
  d = await startVaultDouble({ now: clock.now, maxVersions: 3 });
});

test.after.always(async () => {
  await d?.close();
});

async function call(method: string, path: string, body?: unknown, token = d.rootToken, headers: Record<string, string> = {}) {
  const res = await fetch(`${d.addr}/v1/${path}`, {
    method,
    headers: {
      'X-Vault-Token': token,
      ...(method === 'PATCH' ? { 'Content-Type': 'application/merge-patch+json' } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: (text ? JSON.parse(text) : {}) as { data?: Record<string, unknown>; errors?: string[]; auth?: Record<string, unknown> },
  };
}

function errorsOf(t: ExecutionContext, r: { status: number; body: { errors?: string[] } }, status: number, match?: RegExp): void {
  t.is(r.status, status);
  t.true(Array.isArray(r.body.errors), 'a Vault {"errors": [...]} body');
  if (match) t.regex(r.body.errors?.join('\n') ?? '', match);
}

test('KV v2: cas, merge patch and its content type, versions', async (t) => {
  t.is((await call('POST', 'pai/data/k1', { data: { a: '1' }, options: { cas: 0 } })).status, 200);
  errorsOf(
    t,
    await call('POST', 'pai/data/k1', { data: { a: '2' }, options: { cas: 0 } }),
    400,
    /check-and-set parameter did not match/,
  );
  const patched = await call('PATCH', 'pai/data/k1', { data: { a: null, b: { c: 1 } }, options: { cas: 1 } });
  t.is(patched.body.data?.['version'], 2);
  t.deepEqual((await call('GET', 'pai/data/k1')).body.data?.['data'], { b: { c: 1 } });
  const wrongType = await fetch(`${d.addr}/v1/pai/data/k1`, {
    method: 'PATCH',
    headers: { 'X-Vault-Token': d.rootToken, 'Content-Type': 'application/json' },
    body: '{"data":{}}',
  });
  t.is(wrongType.status, 415);
  errorsOf(t, await call('PATCH', 'pai/data/missing', { data: { a: 'b' } }), 404);
  errorsOf(t, await call('POST', 'pai/data/k1', { options: {} }), 400, /no data provided/);
  errorsOf(t, await call('GET', 'pai/data/nothing'), 404);
  t.is((await call('GET', 'pai/data/k1?version=1')).body.data?.['data'] instanceof Object, true);
});

test('KV v2: max_versions drops the oldest; delete, undelete, destroy; metadata delete', async (t) => {
  for (let i = 0; i < 4; i++) await call('POST', 'pai/data/k2', { data: { i: String(i) } });
  errorsOf(t, await call('GET', 'pai/data/k2?version=1'), 404);
  const meta = (await call('GET', 'pai/metadata/k2')).body.data ?? {};
  t.is(meta['current_version'], 4);
  t.deepEqual(Object.keys(meta['versions'] as object).sort(), ['2', '3', '4']);
  t.is((await call('POST', 'pai/delete/k2', { versions: [4] })).status, 204);
  const deleted = await call('GET', 'pai/data/k2');
  t.is(deleted.status, 404);
  t.is(
    (deleted.body.data?.['metadata'] as Record<string, unknown>)['version'],
    4,
    'a deleted version answers 404 with its metadata',
  );
  await call('POST', 'pai/undelete/k2', { versions: [4] });
  t.deepEqual((await call('GET', 'pai/data/k2')).body.data?.['data'], { i: '3' });
  await call('POST', 'pai/destroy/k2', { versions: [4] });
  const destroyed = await call('GET', 'pai/data/k2');
  t.is(destroyed.status, 404);
  t.like(destroyed.body.data, { data: null, metadata: { version: 4, destroyed: true } });
  t.is((await call('DELETE', 'pai/metadata/k2')).status, 204);
  errorsOf(t, await call('GET', 'pai/metadata/k2'), 404);
});

test('KV v2: LIST by method and by ?list=true; empty is 404', async (t) => {
  await call('POST', 'pai/data/dir/a', { data: { x: '1' } });
  await call('POST', 'pai/data/dir/sub/b', { data: { x: '1' } });
  t.deepEqual((await call('LIST', 'pai/metadata/dir')).body.data?.['keys'], ['a', 'sub/']);
  t.deepEqual((await call('GET', 'pai/metadata/dir/?list=true')).body.data?.['keys'], ['a', 'sub/']);
  errorsOf(t, await call('LIST', 'pai/metadata/empty/'), 404);
});

test('KV v2: cas_required and custom_metadata limits', async (t) => {
  await call('POST', 'pai/metadata/k3', { cas_required: true });
  errorsOf(t, await call('POST', 'pai/data/k3', { data: { a: '1' } }), 400, /check-and-set parameter required/);
  t.is((await call('POST', 'pai/data/k3', { data: { a: '1' }, options: { cas: 0 } })).status, 200);
  const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
  errorsOf(t, await call('POST', 'pai/metadata/k3', { custom_metadata: tooMany }), 400, /at most 64 keys/);
  errorsOf(t, await call('POST', 'pai/metadata/k3', { custom_metadata: { ['k'.repeat(129)]: 'v' } }), 400, /len\(key\) <= 128/);
  errorsOf(t, await call('PATCH', 'pai/metadata/k3', { custom_metadata: { k: 'v'.repeat(513) } }), 400, /len\(value\) <= 512/);
  errorsOf(t, await call('PATCH', 'pai/metadata/k3', { custom_metadata: { k: 'line\nbreak' } }), 400, /unprintable/);
  t.is((await call('PATCH', 'pai/metadata/k3', { custom_metadata: { a: '1', b: '2' } })).status, 204);
  await call('PATCH', 'pai/metadata/k3', { custom_metadata: { a: null, c: '3' } });
  t.deepEqual((await call('GET', 'pai/metadata/k3')).body.data?.['custom_metadata'], { b: '2', c: '3' });
  errorsOf(t, await call('PATCH', 'pai/metadata/nope', { custom_metadata: { a: '1' } }), 404);
});

test('tokens: TTL, lookup-self, renew-self, expiry is a 403', async (t) => {
  const token = d.createToken({ policies: ['pai-injector'], ttlSeconds: 60, maxTtlSeconds: 100 });
  const lookup = await call('GET', 'auth/token/lookup-self', undefined, token);
  t.is(lookup.body.data?.['ttl'], 60);
  t.deepEqual(lookup.body.data?.['policies'], ['default', 'pai-injector']);
  clock.advance(50_000);
  const renewed = await call('POST', 'auth/token/renew-self', {}, token);
  t.is(renewed.body.auth?.['lease_duration'], 50, 'capped by the max TTL');
  clock.advance(51_000);
  errorsOf(t, await call('GET', 'auth/token/lookup-self', undefined, token), 403, /permission denied/);
  errorsOf(t, await call('GET', 'pai/data/k1', undefined, 'hvs.unknown'), 403);
});

test('logins: approle and kubernetes', async (t) => {
  d.addAppRole('rid', 'sid', { policies: ['pai-admin'] });
  const ok = await call('POST', 'auth/approle/login', { role_id: 'rid', secret_id: 'sid' }, '');
  t.deepEqual(ok.body.auth?.['policies'], ['default', 'pai-admin']);
  errorsOf(
    t,
    await call('POST', 'auth/approle/login', { role_id: 'rid', secret_id: 'wrong' }, ''),
    400,
    /invalid role or secret ID/,
  );
  d.addKubernetesRole('r', 'jwt-1', { policies: ['pai-injector'] });
  t.is((await call('POST', 'auth/kubernetes/login', { role: 'r', jwt: 'jwt-1' }, '')).status, 200);
  errorsOf(t, await call('POST', 'auth/kubernetes/login', { role: 'r', jwt: 'jwt-2' }, ''), 403);
  errorsOf(t, await call('POST', 'auth/kubernetes/login', { role: 'x', jwt: 'jwt-1' }, ''), 400, /invalid role name/);
});

test('sealed: 503 {"errors":["Vault is sealed"]}; health reports it', async (t) => {
  const sealedDouble = await startVaultDouble();
  t.teardown(() => sealedDouble.close());
  sealedDouble.seal();
  const res = await fetch(`${sealedDouble.addr}/v1/pai/data/x`, { headers: { 'X-Vault-Token': sealedDouble.rootToken } });
  t.is(res.status, 503);
  t.deepEqual(await res.json(), { errors: ['Vault is sealed'] });
  const health = await fetch(`${sealedDouble.addr}/v1/sys/health`);
  t.is(health.status, 503);
  t.is(((await health.json()) as { sealed: boolean }).sealed, true);
});

test('ACL over HTTP: the injector policy reads but cannot write or list', async (t) => {
  await call('POST', 'pai/data/secrets/s', { data: { k: 'v' } });
  const injector = d.createToken({ policies: ['pai-injector'] });
  t.is((await call('GET', 'pai/data/secrets/s', undefined, injector)).status, 200);
  errorsOf(t, await call('POST', 'pai/data/secrets/s', { data: { k: 'x' } }, injector), 403, /permission denied/);
  errorsOf(t, await call('LIST', 'pai/metadata/secrets/', undefined, injector), 403);
  errorsOf(t, await call('GET', 'pai/data/resources/tokens/t', undefined, injector), 403, /permission denied/);
});
