/**
 * The pai CA's material in the real store: one secret, `ca` in the reserved namespace
 * (SYSTEM_NAMESPACE), whose single key holds encodeStoredCa() bytes. It is thereby encrypted at
 * rest exactly like a user's secret (local store: sealed rows; Vault: KV v2 under
 * ns/pai-system/secrets/ca, readable by the injector and admin policies only), and no admin route
 * can reach it, since the admin API refuses the reserved namespace.
 */
import { PaiError, isPaiError } from '../errors.js';
import { SYSTEM_NAMESPACE } from '../resources/names.js';
import type { SecretStore } from '../store/types.js';
import type { CaMaterialStore, VersionedCa } from './authority.js';
import { type StoredCa, decodeStoredCa, encodeStoredCa } from './ca-state.js';

/** The secret that holds the CA state, and its one key. */
export const CA_SECRET = 'ca';
export const CA_SECRET_KEY = 'state';

/** CaMaterialStore over a SecretStore, with the store's compare-and-set (secret versions). */
export class SecretStoreCaMaterial implements CaMaterialStore {
  constructor(private readonly store: SecretStore) {}

  /** The stored CA and its secret version; undefined before the first save. Rejects `integrity` on an unreadable state. */
  async load(): Promise<VersionedCa | undefined> {
    let record;
    try {
      record = await this.store.readSecret(SYSTEM_NAMESPACE, CA_SECRET);
    } catch (err) {
      if (isPaiError(err, 'not_found')) return undefined;
      throw err;
    }
    const bytes = record.data.get(CA_SECRET_KEY);
    if (bytes === undefined) throw new PaiError('integrity', `the pai CA secret has no key ${CA_SECRET_KEY}`);
    return { ca: decodeStoredCa(bytes), version: record.meta.version };
  }

  /** Creates (ifVersion undefined) or replaces at `ifVersion`; rejects PaiError `conflict` when another writer won. */
  async save(next: StoredCa, ifVersion: number | undefined): Promise<number> {
    const data = new Map([[CA_SECRET_KEY, encodeStoredCa(next)]]);
    try {
      const meta =
        ifVersion === undefined
          ? await this.store.createSecret(SYSTEM_NAMESPACE, CA_SECRET, data)
          : await this.store.replaceSecret(SYSTEM_NAMESPACE, CA_SECRET, data, { ifVersion });
      return meta.version;
    } catch (err) {
      if (isPaiError(err, 'already_exists') || isPaiError(err, 'conflict') || isPaiError(err, 'not_found')) {
        throw new PaiError('conflict', 'the pai CA was changed by someone else; reload and retry', { cause: err });
      }
      throw err;
    }
  }
}
