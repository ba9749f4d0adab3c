/**
 * Wraps any SecretStore so that every call is counted and timed (pai_store_requests_total,
 * pai_store_duration_seconds). The result label is `ok` or the PaiError code.
 */
import { toPaiError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { SecretStore } from './types.js';

type AsyncMethods = Exclude<keyof SecretStore, 'backend'>;

/** Returns a store that forwards to `inner` and records metrics for every call. */
export function instrumentStore(inner: SecretStore, metrics: Metrics): SecretStore {
  const backend = inner.backend;
  const wrap =
    <K extends AsyncMethods>(op: K) =>
    async (...args: Parameters<SecretStore[K]>): Promise<Awaited<ReturnType<SecretStore[K]>>> => {
      const end = metrics.storeDuration.startTimer({ backend, op });
      try {
        const fn = inner[op] as (...a: Parameters<SecretStore[K]>) => ReturnType<SecretStore[K]>;
        const result: Awaited<ReturnType<SecretStore[K]>> = await fn.apply(inner, args);
        metrics.storeRequests.inc({ backend, op, result: 'ok' });
        return result;
      } catch (err) {
        metrics.storeRequests.inc({ backend, op, result: toPaiError(err).code });
        throw err;
      } finally {
        end();
      }
    };
  return {
    backend,
    createSecret: wrap('createSecret'),
    replaceSecret: wrap('replaceSecret'),
    patchSecret: wrap('patchSecret'),
    getSecretMeta: wrap('getSecretMeta'),
    listSecrets: wrap('listSecrets'),
    readSecret: wrap('readSecret'),
    deleteSecret: wrap('deleteSecret'),
    putDoc: wrap('putDoc'),
    getDoc: wrap('getDoc'),
    listDocs: wrap('listDocs'),
    deleteDoc: wrap('deleteDoc'),
    putClusterDoc: wrap('putClusterDoc'),
    getClusterDoc: wrap('getClusterDoc'),
    listClusterDocs: wrap('listClusterDocs'),
    deleteClusterDoc: wrap('deleteClusterDoc'),
    listNamespaces: wrap('listNamespaces'),
    ping: wrap('ping'),
    close: wrap('close'),
  };
}
