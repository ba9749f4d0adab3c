/**
 * Checks shared by both stores, run before anything is written: names, keys, emptiness, size,
 * document kinds and compare-and-set versions.
 */
import { PaiError } from '../errors.js';
import { assertKey, assertName, MAX_SECRET_BYTES, quoteName } from '../resources/names.js';
import { DEFAULT_NAMESPACE } from '../resources/types.js';
import {
  CLUSTER_DOC_KINDS,
  RESOURCE_DOC_KINDS,
  type ClusterDocKind,
  type KeyInfo,
  type ResourceDocKind,
  type SecretData,
  type SecretPatch,
  type WriteOptions,
} from './types.js';

/** Throws `invalid` or `too_large` unless `data` is a storable secret named `name`. */
export function assertSecretData(name: string, data: SecretData): void {
  assertName(name, 'secret name');
  if (data.size === 0) {
    throw new PaiError('invalid', `secret ${quoteName(name)} must have at least one key`, { details: { field: 'data' } });
  }
  let total = 0;
  for (const [key, value] of data) {
    assertKey(key, name);
    total += value.length;
  }
  if (total > MAX_SECRET_BYTES) {
    throw new PaiError('too_large', `secret ${quoteName(name)} holds ${total} bytes; the limit is ${MAX_SECRET_BYTES} (1 MiB)`);
  }
}

/** Key names and sizes of `data`, sorted by key. */
export function keyInfos(data: SecretData): KeyInfo[] {
  return [...data.entries()]
    .map(([name, value]) => ({ name, size: value.length }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Applies a patch to the current key set (names only, or names with values) and returns the
 * resulting key → size map. Throws `invalid` if a removed key is absent, a key is both set and
 * removed, or nothing would remain.
 */
export function patchedKeys(name: string, current: readonly KeyInfo[], patch: SecretPatch): KeyInfo[] {
  const next = new Map(current.map((k) => [k.name, k.size]));
  for (const key of patch.remove) {
    assertKey(key, name);
    if (patch.set.has(key)) {
      throw new PaiError('invalid', `key ${quoteName(key)} is both set and removed in one patch of secret ${quoteName(name)}`);
    }
    if (!next.delete(key)) {
      throw new PaiError('invalid', `cannot remove key ${quoteName(key)}: secret ${quoteName(name)} has no such key`, {
        details: { field: 'remove' },
      });
    }
  }
  for (const [key, value] of patch.set) {
    assertKey(key, name);
    next.set(key, value.length);
  }
  if (next.size === 0) {
    throw new PaiError('invalid', `secret ${quoteName(name)} must keep at least one key`, { details: { field: 'remove' } });
  }
  const total = [...next.values()].reduce((a, b) => a + b, 0);
  if (total > MAX_SECRET_BYTES) {
    throw new PaiError(
      'too_large',
      `secret ${quoteName(name)} would hold ${total} bytes; the limit is ${MAX_SECRET_BYTES} (1 MiB)`,
    );
  }
  return [...next.entries()]
    .map(([k, size]) => ({ name: k, size }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Applies a patch to full data (the local store, which can read values). */
export function patchData(name: string, current: SecretData, patch: SecretPatch): Map<string, Buffer> {
  patchedKeys(
    name,
    [...current.entries()].map(([k, v]) => ({ name: k, size: v.length })),
    patch,
  );
  const next = new Map(current);
  for (const key of patch.remove) next.delete(key);
  for (const [key, value] of patch.set) next.set(key, value);
  return next;
}

/** Throws `invalid` unless `kind` is a resource document kind (namespaced). */
export function assertDocKind(kind: string): asserts kind is ResourceDocKind {
  if (!(RESOURCE_DOC_KINDS as readonly string[]).includes(kind)) {
    throw new PaiError('invalid', `unknown resource document kind ${quoteName(kind)}`);
  }
}

/** Throws `invalid` unless `kind` is a cluster-wide document kind. */
export function assertClusterDocKind(kind: string): asserts kind is ClusterDocKind {
  if (!(CLUSTER_DOC_KINDS as readonly string[]).includes(kind)) {
    throw new PaiError('invalid', `unknown cluster document kind ${quoteName(kind)}`);
  }
}

/**
 * The name a secret's seal authenticates: the name alone in the default namespace (as in the first,
 * namespace-less layout, so its records still open), else `namespace/name` (names hold no "/").
 */
export function sealedName(ns: string, name: string): string {
  return ns === DEFAULT_NAMESPACE ? name : `${ns}/${name}`;
}

/** How errors name a secret: `secret "x"`, with its namespace unless it is the default one. */
export function secretSubject(ns: string, name: string): string {
  return ns === DEFAULT_NAMESPACE ? `secret ${quoteName(name)}` : `secret ${quoteName(name)} in namespace ${quoteName(ns)}`;
}

/** `agent "x"`, `provider "y"`: how errors name a document. */
export const docSubject = (kind: string, name: string): string => `${kind.replace(/s$/, '')} ${quoteName(name)}`;

/** Throws `conflict` when `opts.ifVersion` is given and is not `current` (undefined or 0: absent). */
export function checkVersion(subject: string, current: number | undefined, opts: WriteOptions | undefined): void {
  if (opts?.ifVersion === undefined) return;
  const found = current ?? 0;
  if (found !== opts.ifVersion) {
    throw new PaiError(
      'conflict',
      `${subject} was changed concurrently (expected version ${opts.ifVersion}, found ${found || 'none'}); read it again and retry`,
    );
  }
}
