/**
 * The pai CA over the real local store: created once across two authorities racing (compare-and-set),
 * encrypted at rest (the key's PEM never appears in the database files), and the reserved namespace
 * is refused by the admin API's namespace rule.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { namespaceOf } from '../src/admin/namespaces.js';
import { PaiError } from '../src/errors.js';
import { SYSTEM_NAMESPACE } from '../src/resources/names.js';
import { LocalStore } from '../src/store/local/sqlite-store.js';
import { CaAuthority } from '../src/tls/authority.js';
import { SecretStoreCaMaterial } from '../src/tls/secret-store-ca.js';

test('the admin API refuses the reserved namespace', (t) => {
  const err = t.throws(() => namespaceOf({ params: { namespace: SYSTEM_NAMESPACE } }), { instanceOf: PaiError });
  t.is(err?.code, 'invalid');
  t.is(namespaceOf({ params: { namespace: 'team-a' } }), 'team-a');
});

test('two authorities racing on one store share one CA, stored encrypted', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pai-store-ca-'));
  const store = LocalStore.open({ dataDir: dir, masterKeyFile: path.join(dir, 'master.key') });
  t.teardown(() => store.close());
  const a = new CaAuthority({ store: new SecretStoreCaMaterial(store) });
  const b = new CaAuthority({ store: new SecretStoreCaMaterial(store) });
  const [ca, cb] = await Promise.all([a.signing(), b.signing()]);
  t.is(ca.id, cb.id);
  const [summary] = await a.describe();
  t.is(summary?.state, 'active');
  const rotated = await a.rotate(0);
  t.is(rotated.previousId, ca.id);
  t.true(await b.refresh(), 'the other authority sees the rotation');
  for (const file of await fs.readdir(dir)) {
    const bytes = await fs.readFile(path.join(dir, file)).catch(() => Buffer.alloc(0));
    t.false(bytes.includes('PRIVATE KEY'), `${file} holds no PEM key`);
  }
});
