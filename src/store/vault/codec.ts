/**
 * How pai's data is laid out inside Vault KV v2 (the one file that knows the format).
 *
 * Values. Vault stores JSON and pai's values are bytes. A value that is valid UTF-8 (checked
 * strictly: no replacement characters, a leading BOM kept) is stored as that JSON string, so
 * `vault kv get` shows it and a value written with the vault CLI reads back as its UTF-8 bytes.
 * Any other byte string is stored as `{"b64": "<base64>"}`. The encoding is per value and
 * self-describing, so a KV v2 PATCH (JSON merge patch) sets or removes one key without reading
 * the others, and a reader needs nothing but the data. Decoding is strict: anything else is an
 * `integrity` error naming the key, never a guess.
 *
 * Key index. The admin role has no read on data/secrets/*, so key names and byte sizes live in
 * custom_metadata, which Vault limits to 64 entries of ≤ 512-byte values. One data version's
 * index is a set of entries `pai.keys.<version>.<i>`, each `name:size,name:size` (key names
 * cannot contain ':' or ','), split at entry boundaries, at most INDEX_CHUNKS entries. Writers
 * add the new version's entries and remove older versions' in one metadata PATCH after the
 * cas-guarded data write; because entries are per version, two writers' index updates landing in
 * either order never make the index describe the wrong data. `pai.created` records when the
 * secret was created, for readers that see only the data (the injector and renderer).
 */
import { PaiError } from '../../errors.js';
import { keyProblem, quoteName } from '../../resources/names.js';
import type { KeyInfo } from '../types.js';

/** A value as stored in Vault. */
export type StoredValue = string | { readonly b64: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Encodes bytes for Vault: the text itself when it is valid UTF-8, else base64 in an object. */
export function encodeValue(value: Buffer): StoredValue {
  try {
    return strictUtf8.decode(value);
  } catch {
    return { b64: value.toString('base64') };
  }
}

/** Decodes one stored value; throws `integrity` (naming secret and key) when it is not pai's format. */
export function decodeValue(secret: string, key: string, raw: unknown): Buffer {
  if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const entries = Object.entries(raw);
    const only = entries[0];
    if (entries.length === 1 && only?.[0] === 'b64' && typeof only[1] === 'string' && BASE64.test(only[1])) {
      return Buffer.from(only[1], 'base64');
    }
  }
  throw new PaiError(
    'integrity',
    `secret ${quoteName(secret)}: the value of key ${quoteName(key)} in Vault is not in pai's format (written outside pai?)`,
  );
}

/** Decodes a whole data map read from Vault. Throws `integrity` on a foreign key or value. */
export function decodeData(secret: string, raw: Readonly<Record<string, unknown>>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(raw)) {
    if (keyProblem(key) !== undefined) {
      throw new PaiError('integrity', `secret ${quoteName(secret)} in Vault has a key pai cannot use: ${quoteName(key)}`);
    }
    out.set(key, decodeValue(secret, key, value));
  }
  return out;
}

export const INDEX_PREFIX = 'pai.keys.';
export const CREATED_KEY = 'pai.created';
/** Index entries per version: three versions in flight still fit Vault's 64 entries. */
export const INDEX_CHUNKS = 20;
const CHUNK_BYTES = 512;

/** custom_metadata entries that index `keys` for `version`. Throws `too_large` when they cannot fit. */
export function indexEntries(secret: string, version: number, keys: readonly KeyInfo[]): Record<string, string> {
  const chunks: string[] = [];
  let current = '';
  for (const k of keys) {
    const entry = `${k.name}:${k.size}`;
    if (current !== '' && current.length + 1 + entry.length > CHUNK_BYTES) {
      chunks.push(current);
      current = '';
    }
    current = current === '' ? entry : `${current},${entry}`;
  }
  chunks.push(current);
  if (chunks.length > INDEX_CHUNKS) {
    throw new PaiError(
      'too_large',
      `secret ${quoteName(secret)} has too many or too long key names for the Vault store: its key index needs ` +
        `${chunks.length} custom_metadata entries, the limit is ${INDEX_CHUNKS} (about ${INDEX_CHUNKS * CHUNK_BYTES} bytes of names)`,
    );
  }
  return Object.fromEntries(chunks.map((c, i) => [`${INDEX_PREFIX}${version}.${i}`, c]));
}

function parseChunk(chunk: string): KeyInfo[] | undefined {
  if (chunk === '') return [];
  const out: KeyInfo[] = [];
  for (const entry of chunk.split(',')) {
    const m = /^([-._a-zA-Z0-9]+):(\d{1,9})$/.exec(entry);
    if (!m?.[1] || !m[2]) return undefined;
    out.push({ name: m[1], size: Number(m[2]) });
  }
  return out;
}

/** The key lists recorded in custom_metadata, by data version; unparseable versions are left out. */
export function parseIndex(custom: Readonly<Record<string, string>>): Map<number, KeyInfo[]> {
  const chunks = new Map<number, Map<number, string>>();
  for (const [name, value] of Object.entries(custom)) {
    const m = /^pai\.keys\.(\d{1,15})\.(\d{1,3})$/.exec(name);
    if (!m?.[1] || !m[2]) continue;
    const version = Number(m[1]);
    const byIndex = chunks.get(version) ?? new Map<number, string>();
    byIndex.set(Number(m[2]), value);
    chunks.set(version, byIndex);
  }
  const out = new Map<number, KeyInfo[]>();
  for (const [version, byIndex] of chunks) {
    const keys: KeyInfo[] = [];
    let ok = true;
    for (let i = 0; i < byIndex.size && ok; i++) {
      const text = byIndex.get(i);
      const parsed = text === undefined ? undefined : parseChunk(text);
      if (parsed === undefined) ok = false;
      else keys.push(...parsed);
    }
    if (ok)
      out.set(
        version,
        keys.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      );
  }
  return out;
}

/**
 * The merge patch of custom_metadata after writing `version`: its index entries set, the index
 * entries of older versions seen in `current` removed (null), `pai.created` set when given.
 */
export function indexPatch(
  secret: string,
  version: number,
  keys: readonly KeyInfo[],
  current: Readonly<Record<string, string>>,
  created?: Date,
): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const name of Object.keys(current)) {
    const m = /^pai\.keys\.(\d{1,15})\./.exec(name);
    if (m?.[1] && Number(m[1]) < version) patch[name] = null;
  }
  Object.assign(patch, indexEntries(secret, version, keys));
  if (created) patch[CREATED_KEY] = created.toISOString();
  return patch;
}
