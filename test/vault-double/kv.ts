/**
 * KV v2 engine of the test double, after hashicorp/vault-plugin-secrets-kv (path_data.go,
 * path_metadata.go, path_delete.go, path_destroy.go): versions with created/deletion times,
 * cas and cas_required (mount config or per key), max_versions (the larger of key and mount
 * setting, default 10, oldest dropped), data read/write/patch/soft-delete, delete/undelete/destroy
 * of versions, metadata read/write/patch/delete, list. custom_metadata limits as Vault checks
 * them: ≤ 64 keys, key 1..128 bytes, value 1..512 bytes, printable; on PATCH only the entries
 * sent are checked (as Vault does). Not modelled: delete_version_after, subkeys, the
 * "data"/"metadata" help paths, KV v1.
 */

export class DoubleError extends Error {
  constructor(
    readonly status: number,
    readonly errors: readonly string[],
    /** Response data sent (in Vault's envelope) instead of errors, as Vault does for a deleted version. */
    readonly body?: Record<string, unknown>,
  ) {
    super(errors.join('; ') || `status ${status}`);
  }
}

type Json = Record<string, unknown>;

interface Version {
  readonly createdTime: number;
  deletionTime: number | undefined;
  destroyed: boolean;
  data: Json | undefined;
}

interface KeyMeta {
  readonly versions: Map<number, Version>;
  currentVersion: number;
  oldestVersion: number;
  readonly createdTime: number;
  updatedTime: number;
  maxVersions: number;
  casRequired: boolean;
  custom: Record<string, string>;
}

const DEFAULT_MAX_VERSIONS = 10;

export function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const UNPRINTABLE = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

const time = (ms: number | undefined): string => (ms === undefined ? '' : new Date(ms).toISOString());

function validateCustom(custom: Record<string, unknown>): Record<string, string> {
  const entries = Object.entries(custom);
  const prefix = 'custom_metadata validation failed';
  if (entries.length > 64)
    throw new DoubleError(400, [`${prefix}: payload must contain at most 64 keys, provided ${entries.length}`]);
  const errors: string[] = [];
  const out: Record<string, string> = {};
  for (const [k, raw] of entries) {
    const v = typeof raw === 'string' ? raw : JSON.stringify(raw);
    const kl = Buffer.byteLength(k);
    const vl = Buffer.byteLength(v);
    if (kl === 0 || kl > 128)
      errors.push(`${prefix}: length of key ${JSON.stringify(k)} is ${kl} but must be 0 < len(key) <= 128`);
    if (vl === 0 || vl > 512)
      errors.push(`${prefix}: length of value for key ${JSON.stringify(k)} is ${vl} but must be 0 < len(value) <= 512`);
    if (UNPRINTABLE.test(k)) errors.push(`${prefix}: key ${JSON.stringify(k)} contains unprintable characters`);
    if (UNPRINTABLE.test(v)) errors.push(`${prefix}: value for key ${JSON.stringify(k)} contains unprintable characters`);
    out[k] = v;
  }
  if (errors.length > 0)
    throw new DoubleError(400, [
      `${errors.length} error${errors.length > 1 ? 's' : ''} occurred:\n\t* ${errors.join('\n\t* ')}\n\n`,
    ]);
  return out;
}

export class KvMount {
  readonly entries = new Map<string, KeyMeta>();
  maxVersions: number;
  casRequired: boolean;

  constructor(
    private readonly now: () => number,
    config: { maxVersions?: number; casRequired?: boolean } = {},
  ) {
    this.maxVersions = config.maxVersions ?? 0;
    this.casRequired = config.casRequired ?? false;
  }

  /** True when `key` has metadata (Vault's existence check: create vs update). */
  exists(key: string): boolean {
    return this.entries.has(key);
  }

  private gone(v: Version): boolean {
    return v.destroyed || (v.deletionTime !== undefined && v.deletionTime <= this.now());
  }

  private versionMeta(meta: KeyMeta, n: number, v: Version): Json {
    return {
      version: n,
      created_time: time(v.createdTime),
      deletion_time: time(v.deletionTime),
      destroyed: v.destroyed,
      custom_metadata: meta.custom,
    };
  }

  readConfig(): Json {
    return { max_versions: this.maxVersions, cas_required: this.casRequired, delete_version_after: '0s' };
  }

  writeConfig(body: Json): void {
    if (typeof body['max_versions'] === 'number') this.maxVersions = body['max_versions'];
    if (typeof body['cas_required'] === 'boolean') this.casRequired = body['cas_required'];
  }

  readData(key: string, versionParam: number): Json {
    const meta = this.entries.get(key);
    if (!meta) throw new DoubleError(404, []);
    const n = versionParam > 0 ? versionParam : meta.currentVersion;
    const v = meta.versions.get(n);
    if (!v) throw new DoubleError(404, []);
    const { custom_metadata, created_time, deletion_time, destroyed, version } = this.versionMeta(meta, n, v);
    const metadata = { created_time, custom_metadata, deletion_time, destroyed, version };
    if (this.gone(v)) throw new DoubleError(404, [], { data: null, metadata });
    return { data: structuredClone(v.data ?? {}), metadata };
  }

  private checkCas(meta: KeyMeta, options: unknown): void {
    const cas = isObject(options) ? options['cas'] : undefined;
    if (cas !== undefined) {
      const n = typeof cas === 'number' ? cas : Number(cas);
      if (!Number.isInteger(n)) throw new DoubleError(400, ['error parsing check-and-set parameter']);
      if (n !== meta.currentVersion) throw new DoubleError(400, ['check-and-set parameter did not match the current version']);
    } else if (this.casRequired || meta.casRequired) {
      throw new DoubleError(400, ['check-and-set parameter required for this call']);
    }
  }

  private addVersion(meta: KeyMeta, data: Json): Json {
    const now = this.now();
    const v: Version = { createdTime: now, deletionTime: undefined, destroyed: false, data };
    meta.currentVersion++;
    meta.versions.set(meta.currentVersion, v);
    meta.updatedTime = now;
    const max = Math.max(meta.maxVersions, this.maxVersions) || DEFAULT_MAX_VERSIONS;
    if (meta.currentVersion - meta.oldestVersion >= max) {
      const drop = meta.currentVersion - max;
      for (let i = meta.oldestVersion; i <= drop; i++) meta.versions.delete(i);
      meta.oldestVersion = drop + 1;
    }
    return this.versionMeta(meta, meta.currentVersion, v);
  }

  writeData(key: string, body: Json): Json {
    if (!isObject(body['data'])) throw new DoubleError(400, ['no data provided']);
    const meta = this.entries.get(key) ?? this.fresh();
    this.checkCas(meta, body['options']);
    this.entries.set(key, meta);
    return this.addVersion(meta, structuredClone(body['data']));
  }

  patchData(key: string, body: Json): Json {
    if (!isObject(body['data'])) throw new DoubleError(400, ['no data provided']);
    const meta = this.entries.get(key);
    if (!meta) throw new DoubleError(404, []);
    this.checkCas(meta, body['options']);
    const current = meta.versions.get(meta.currentVersion);
    if (!current || this.gone(current)) throw new DoubleError(404, []);
    const merged = mergePatch(current.data ?? {}, body['data']) as Json;
    return this.addVersion(meta, merged);
  }

  /** DELETE on data/: soft-deletes the current version. */
  deleteLatest(key: string): void {
    const meta = this.entries.get(key);
    const v = meta?.versions.get(meta.currentVersion);
    if (v && !this.gone(v)) v.deletionTime = this.now();
  }

  private versionsArg(body: Json): number[] {
    const raw = body['versions'];
    const list = Array.isArray(raw) ? raw.map(Number) : typeof raw === 'string' ? raw.split(',').map(Number) : [];
    if (list.length === 0) throw new DoubleError(400, ['no version number provided']);
    return list;
  }

  /** delete/, undelete/ and destroy/ on listed versions. */
  versionOp(op: 'delete' | 'undelete' | 'destroy', key: string, body: Json): void {
    const versions = this.versionsArg(body);
    const meta = this.entries.get(key);
    if (!meta) return;
    for (const n of versions) {
      const v = meta.versions.get(n);
      if (!v || v.destroyed) continue;
      if (op === 'delete' && v.deletionTime === undefined) v.deletionTime = this.now();
      if (op === 'undelete') v.deletionTime = undefined;
      if (op === 'destroy') {
        v.destroyed = true;
        v.data = undefined;
      }
    }
  }

  private fresh(): KeyMeta {
    const now = this.now();
    return {
      versions: new Map(),
      currentVersion: 0,
      oldestVersion: 0,
      createdTime: now,
      updatedTime: now,
      maxVersions: 0,
      casRequired: false,
      custom: {},
    };
  }

  readMeta(key: string): Json {
    const meta = this.entries.get(key);
    if (!meta) throw new DoubleError(404, []);
    const versions: Json = {};
    for (const [n, v] of meta.versions)
      versions[String(n)] = { created_time: time(v.createdTime), deletion_time: time(v.deletionTime), destroyed: v.destroyed };
    return {
      versions,
      current_version: meta.currentVersion,
      oldest_version: meta.oldestVersion,
      created_time: time(meta.createdTime),
      updated_time: time(meta.updatedTime),
      max_versions: meta.maxVersions,
      cas_required: meta.casRequired,
      delete_version_after: '0s',
      custom_metadata: { ...meta.custom },
    };
  }

  writeMeta(key: string, body: Json): void {
    const custom = body['custom_metadata'];
    const fields = ['max_versions', 'cas_required', 'delete_version_after', 'custom_metadata'];
    if (!fields.some((f) => f in body)) return;
    const validated = isObject(custom) ? validateCustom(custom) : undefined;
    const meta = this.entries.get(key) ?? this.fresh();
    if (typeof body['max_versions'] === 'number') meta.maxVersions = body['max_versions'];
    if (typeof body['cas_required'] === 'boolean') meta.casRequired = body['cas_required'];
    if (validated) meta.custom = validated;
    this.entries.set(key, meta);
  }

  patchMeta(key: string, body: Json): void {
    const custom = body['custom_metadata'];
    if (isObject(custom)) validateCustom(Object.fromEntries(Object.entries(custom).filter(([, v]) => v !== null)));
    const meta = this.entries.get(key);
    if (!meta) throw new DoubleError(404, []);
    if (typeof body['max_versions'] === 'number') meta.maxVersions = body['max_versions'];
    if (typeof body['cas_required'] === 'boolean') meta.casRequired = body['cas_required'];
    if (isObject(custom)) meta.custom = mergePatch(meta.custom, custom) as Record<string, string>;
  }

  deleteMeta(key: string): void {
    this.entries.delete(key);
  }

  /** Names directly below `prefix` ("" or ending in "/"); folders end in "/". 404 when none. */
  list(prefix: string): string[] {
    const out = new Set<string>();
    for (const key of this.entries.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      out.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    if (out.size === 0) throw new DoubleError(404, []);
    return [...out].sort();
  }
}
