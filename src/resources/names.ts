/**
 * Name rules shared by every layer (DESIGN §3). Pure: no I/O. The stores call these again before a
 * name reaches a file, a SQL statement or a Vault URL, so a bad name never gets that far.
 */
import { PaiError } from '../errors.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** Largest total size of one secret's values, in bytes. */
export const MAX_SECRET_BYTES = 1024 * 1024;

/** Why `name` is not a DNS-1123 label, or undefined when it is one. */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 63) return `must be at most 63 characters (has ${name.length})`;
  if (!DNS_LABEL.test(name)) {
    return 'must consist of lower-case letters, digits and "-", and start and end with a letter or digit';
  }
  return undefined;
}

/** Why `namespace` is not a namespace name (a DNS-1123 label, as in Kubernetes), or undefined. */
export function namespaceProblem(namespace: string): string | undefined {
  const problem = nameProblem(namespace);
  return problem === undefined ? undefined : `is not a namespace name: ${problem}`;
}

/** Throws PaiError `invalid` unless `namespace` is a namespace name. */
export function assertNamespace(namespace: string): void {
  const problem = nameProblem(namespace);
  if (problem) {
    throw new PaiError('invalid', `invalid namespace ${quoteName(namespace)}: ${problem}`, { details: { field: 'namespace' } });
  }
}

/**
 * The namespace pai keeps its own material in (the pai CA): the stores can address it, the admin
 * API and manifests cannot, so no user route can list, read, render or bind anything there.
 */
export const SYSTEM_NAMESPACE = 'pai-system';

/** Throws PaiError `invalid` unless `namespace` is a namespace name that users may address (not SYSTEM_NAMESPACE). */
export function assertUserNamespace(namespace: string): void {
  assertNamespace(namespace);
  if (namespace === SYSTEM_NAMESPACE) {
    throw new PaiError('invalid', `namespace ${quoteName(namespace)} is reserved for pai`, { details: { field: 'namespace' } });
  }
}

/** Why `key` is not a valid secret key, or undefined when it is one. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'must not be empty';
  if (key.length > 253) return `must be at most 253 characters (has ${key.length})`;
  if (key === '.' || key === '..') return 'must not be "." or ".."';
  if (!SECRET_KEY.test(key)) return 'must consist of letters, digits, "-", "_" and "."';
  return undefined;
}

/** Why `name` is not a valid environment variable name, or undefined. */
export function envNameProblem(name: string): string | undefined {
  return ENV_NAME.test(name) ? undefined : 'must match ^[A-Z_][A-Z0-9_]*$';
}

/** True when `text` holds whitespace (any Unicode space) or a C0 control character or DEL. */
export function hasSpaceOrControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || /\s/.test(text.charAt(i))) return true;
  }
  return false;
}

/** A printable, bounded rendering of a user-supplied name for error messages (names are not secret). */
export function quoteName(name: string): string {
  const shown = name.length > 80 ? `${name.slice(0, 80)}…` : name;
  return JSON.stringify(shown);
}

/** Throws PaiError `invalid` unless `name` is a valid resource or secret name. */
export function assertName(name: string, what = 'name'): void {
  const problem = nameProblem(name);
  if (problem) throw new PaiError('invalid', `invalid ${what} ${quoteName(name)}: ${problem}`, { details: { field: what } });
}

/** Throws PaiError `invalid` unless `key` is a valid secret key. */
export function assertKey(key: string, secret?: string): void {
  const problem = keyProblem(key);
  if (problem) {
    const where = secret === undefined ? '' : ` in secret ${quoteName(secret)}`;
    throw new PaiError('invalid', `invalid key ${quoteName(key)}${where}: ${problem}`, { details: { field: 'key' } });
  }
}
