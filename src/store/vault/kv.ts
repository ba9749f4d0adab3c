/**
 * KV v2 under the pai mount: data, metadata and list calls, with their responses parsed into
 * typed values. Every path is checked against a strict pattern before it is put in a URL:
 * node-vault builds URLs by concatenation, so a `../` or `?` in a name would reach other Vault
 * paths. The stores validate names first; this is the second line.
 */
import { PaiError } from '../../errors.js';
import type { VaultSession } from './auth.js';
import { VaultCallError } from './http.js';

const LABEL = '[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?';
// secrets/<name>, resources/<kind>/<name> (the default namespace and cluster-wide documents),
// ns/<namespace>/secrets/<name>, ns/<namespace>/resources/<kind>/<name> (other namespaces), ns/ (listing).
const SAFE_PATH = new RegExp(
  `^(?:ns/?|(?:ns/${LABEL}/)?(?:secrets|resources/(?:agents|providers|modelproviders|usage))(?:/${LABEL})?/?|resources/(?:tokens|agenttokens)(?:/${LABEL})?/?)$`,
);
const MOUNT = /^[a-zA-Z0-9][a-zA-Z0-9_-]*(\/[a-zA-Z0-9][a-zA-Z0-9_-]*)*$/;

export interface VersionInfo {
  readonly createdTime: Date;
  /** Soft-deleted (deletion_time passed) or destroyed: Vault answers 404 for its data. */
  readonly gone: boolean;
}

export interface MetaRead {
  readonly currentVersion: number;
  readonly createdTime: Date;
  readonly updatedTime: Date;
  readonly versions: ReadonlyMap<number, VersionInfo>;
  readonly custom: Readonly<Record<string, string>>;
}

export interface DataRead {
  readonly data: Readonly<Record<string, unknown>>;
  readonly version: number;
  readonly createdTime: Date;
  readonly custom: Readonly<Record<string, string>>;
}

export interface WriteResult {
  readonly version: number;
  readonly createdTime: Date;
}

type Json = Readonly<Record<string, unknown>>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

function date(v: unknown): Date {
  const d = new Date(typeof v === 'string' ? v : 0);
  return Number.isNaN(d.getTime()) ? new Date(0) : d;
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, s] of Object.entries(obj(v) ?? {})) if (typeof s === 'string') out[k] = s;
  return out;
}

function malformed(what: string): PaiError {
  return new PaiError('store_unavailable', `Vault answered ${what} with a body pai does not understand`);
}

/** True for a 404 from Vault. */
export function isNotFound(err: unknown): boolean {
  return err instanceof VaultCallError && err.status === 404;
}

/** True when a check-and-set write lost (the version moved, or the path exists for cas 0). */
export function isCasMismatch(err: unknown): boolean {
  return err instanceof VaultCallError && err.hint === 'cas_mismatch';
}

/** True when the metadata's current version is missing, soft-deleted or destroyed. */
export function isGone(meta: MetaRead): boolean {
  const v = meta.versions.get(meta.currentVersion);
  return meta.currentVersion === 0 || v === undefined || v.gone;
}

export class KvClient {
  constructor(
    private readonly session: VaultSession,
    private readonly mount: string,
    private readonly now: () => number,
  ) {
    if (!MOUNT.test(mount)) throw new PaiError('invalid', `not a valid Vault mount path: ${JSON.stringify(mount)}`);
  }

  private url(kind: 'data' | 'metadata', path: string): string {
    if (!SAFE_PATH.test(path))
      throw new PaiError('invalid', `refusing to build a Vault path from ${JSON.stringify(path.slice(0, 80))}`);
    return `${this.mount}/${kind}/${path}`;
  }

  private isGoneAt(deletion: unknown, destroyed: unknown): boolean {
    const deleted = typeof deletion === 'string' && deletion !== '' && date(deletion).getTime() <= this.now();
    return deleted || destroyed === true;
  }

  /** The current version's data, or undefined when absent, deleted or destroyed (404). */
  async readData(path: string, deadline: number): Promise<DataRead | undefined> {
    let body: unknown;
    try {
      body = await this.session.call({ method: 'GET', path: this.url('data', path) }, deadline);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const outer = obj(obj(body)?.['data']);
    const meta = obj(outer?.['metadata']);
    if (!outer || !meta) throw malformed('a data read');
    const data = obj(outer['data']);
    if (!data) return undefined;
    return {
      data,
      version: num(meta['version']),
      createdTime: date(meta['created_time']),
      custom: strings(meta['custom_metadata']),
    };
  }

  /** The metadata of a path, or undefined when Vault has none (404). */
  async readMeta(path: string, deadline: number): Promise<MetaRead | undefined> {
    let body: unknown;
    try {
      body = await this.session.call({ method: 'GET', path: this.url('metadata', path) }, deadline);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const data = obj(obj(body)?.['data']);
    if (!data) throw malformed('a metadata read');
    const versions = new Map<number, VersionInfo>();
    for (const [k, v] of Object.entries(obj(data['versions']) ?? {})) {
      const info = obj(v);
      if (!/^\d+$/.test(k) || !info) continue;
      versions.set(Number(k), {
        createdTime: date(info['created_time']),
        gone: this.isGoneAt(info['deletion_time'], info['destroyed']),
      });
    }
    return {
      currentVersion: num(data['current_version']),
      createdTime: date(data['created_time']),
      updatedTime: date(data['updated_time']),
      versions,
      custom: strings(data['custom_metadata']),
    };
  }

  private written(body: unknown): WriteResult {
    const data = obj(obj(body)?.['data']);
    const version = num(data?.['version']);
    if (!data || version === 0) throw malformed('a write');
    return { version, createdTime: date(data['created_time']) };
  }

  /** Writes a new version with check-and-set `cas` (0: the path must not exist). */
  async writeData(path: string, data: Json, cas: number, deadline: number): Promise<WriteResult> {
    const req = { method: 'POST', path: this.url('data', path), body: { options: { cas }, data }, once: true } as const;
    return this.written(await this.session.call(req, deadline));
  }

  /** Merge-patches the current version into a new one, with check-and-set `cas`; 404 if absent. */
  async patchData(path: string, data: Json, cas: number, deadline: number): Promise<WriteResult> {
    const req = {
      method: 'PATCH',
      path: this.url('data', path),
      body: { options: { cas }, data },
      mergePatch: true,
      once: true,
    } as const;
    return this.written(await this.session.call(req, deadline));
  }

  /** Merge-patches custom_metadata (null removes an entry). */
  async patchMeta(path: string, custom: Readonly<Record<string, string | null>>, deadline: number): Promise<void> {
    const req = {
      method: 'PATCH',
      path: this.url('metadata', path),
      body: { custom_metadata: custom },
      mergePatch: true,
    } as const;
    await this.session.call(req, deadline);
  }

  /** Deletes the metadata and every version (no undelete). */
  async deleteMeta(path: string, deadline: number): Promise<void> {
    await this.session.call({ method: 'DELETE', path: this.url('metadata', path) }, deadline);
  }

  /** The names directly below `folder` (sub-folders end in "/"); empty when there are none. */
  async list(folder: string, deadline: number): Promise<string[]> {
    let body: unknown;
    try {
      body = await this.session.call({ method: 'GET', path: `${this.url('metadata', folder)}?list=true` }, deadline);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const keys = obj(obj(body)?.['data'])?.['keys'];
    if (!Array.isArray(keys)) throw malformed('a list');
    return keys.filter((k): k is string => typeof k === 'string');
  }
}
