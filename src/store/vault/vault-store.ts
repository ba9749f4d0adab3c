/**
 * The SecretStore on Vault KV v2. Layout under the mount: secrets at `secrets/<name>` (values
 * and key index encoded as codec.ts says), documents at `resources/<kind>/<name>` (documents.ts;
 * kinds from DOC_KINDS: agents, providers, modelproviders, tokens, agenttokens).
 *
 * Who reads what: the admin role writes secrets and reads only metadata (key names and sizes come
 * from the custom_metadata key index); patches use KV v2 PATCH, so no value is ever read to
 * change one. The injector and renderer read `data/` only, so readSecret and getDoc need nothing
 * else. Every write is check-and-set: creates with cas 0, replaces and patches with the version
 * just read; losing a race is `already_exists` or `conflict`, never an overwrite. Delete removes
 * the metadata, and with it every version.
 *
 * The index is written by a second call after the data; between the two (or forever, if the
 * writer died there) the metadata lags. Describe and list then report the current version with
 * the newest indexed key set (never a value); a patch refuses with `conflict` until a replace
 * rewrites the index.
 */
import fs from 'node:fs/promises';
import { ConfigError, type Config, type VaultConfig } from '../../config.js';
import { PaiError } from '../../errors.js';
import { SYSTEM_NAMESPACE, assertName, assertNamespace, nameProblem } from '../../resources/names.js';
import { DEFAULT_NAMESPACE } from '../../resources/types.js';
import {
  assertClusterDocKind,
  assertDocKind,
  assertSecretData,
  checkVersion,
  docSubject,
  keyInfos,
  patchedKeys,
  secretSubject,
} from '../validate.js';
import type {
  ClusterDocKind,
  ResourceDocKind,
  DocRecord,
  KeyInfo,
  SecretData,
  SecretMeta,
  SecretPatch,
  SecretRecord,
  SecretStore,
  WriteOptions,
} from '../types.js';
import { VaultSession } from './auth.js';
import { CREATED_KEY, decodeData, encodeValue, indexEntries, indexPatch, parseIndex } from './codec.js';
import { VaultDocuments } from './documents.js';
import { toStoreError } from './failures.js';
import { VaultHttp } from './http.js';
import { isCasMismatch, isGone, KvClient, type MetaRead } from './kv.js';
import { NAMESPACES_DIR, secretPath, secretsDir } from './paths.js';
import { byName, LIST_CONCURRENCY, mapLimit } from './shared.js';

export interface VaultStoreOptions {
  /** Clock for token lifetimes and deletion times (ms since epoch); tests pass a fake one. */
  readonly now?: () => number;
}

/** When the secret was created: `pai.created` if pai wrote it, else Vault's time. */
function createdOf(custom: Readonly<Record<string, string>>, fallback: Date): Date {
  const recorded = new Date(custom[CREATED_KEY] ?? '');
  return Number.isNaN(recorded.getTime()) ? fallback : recorded;
}

export class VaultStore implements SecretStore {
  readonly backend = 'vault' as const;
  private readonly docs: VaultDocuments;

  private constructor(
    private readonly cfg: VaultConfig,
    private readonly http: VaultHttp,
    private readonly session: VaultSession,
    private readonly kv: KvClient,
    now: () => number,
  ) {
    this.docs = new VaultDocuments(kv, now);
  }

  /**
   * Connects and authenticates. Throws ConfigError for an unreadable VAULT_CACERT or credentials
   * Vault rejects; an unreachable or sealed Vault is not fatal here (calls answer store_unavailable).
   */
  static async open(cfg: VaultConfig, options: VaultStoreOptions = {}): Promise<VaultStore> {
    let ca: string | undefined;
    if (cfg.caCertFile !== undefined) {
      try {
        ca = await fs.readFile(cfg.caCertFile, 'utf8');
      } catch {
        throw new ConfigError('VAULT_CACERT', `cannot read the CA bundle ${cfg.caCertFile}`);
      }
    }
    const now = options.now ?? Date.now;
    const http = new VaultHttp({ addr: cfg.addr, namespace: cfg.namespace, ca, requestTimeoutMs: cfg.requestTimeoutMs });
    const session = new VaultSession(http, cfg, cfg.retryBudgetMs, { now });
    const kv = new KvClient(session, cfg.mount, now);
    try {
      await session.start();
    } catch (err) {
      session.close();
      http.close();
      throw err;
    }
    return new VaultStore(cfg, http, session, kv, now);
  }

  /**
   * Runs one store operation within the retry budget; everything it throws (validation included,
   * which runs before any Vault call) becomes a rejected PaiError.
   */
  private async run<T>(op: string, subject: string, fn: (deadline: number) => Promise<T>): Promise<T> {
    try {
      return await fn(performance.now() + this.cfg.retryBudgetMs);
    } catch (err) {
      throw toStoreError(err, op, subject);
    }
  }

  private async liveMeta(ns: string, name: string, deadline: number): Promise<MetaRead> {
    const meta = await this.kv.readMeta(secretPath(ns, name), deadline);
    if (!meta || isGone(meta)) throw new PaiError('not_found', `${secretSubject(ns, name)} not found`);
    return meta;
  }

  /** Metadata of a secret from Vault's metadata: the index of the current version, else the newest older one. */
  private metaOf(name: string, meta: MetaRead): SecretMeta {
    const index = parseIndex(meta.custom);
    const indexed = [...index.keys()].filter((v) => v <= meta.currentVersion).sort((a, b) => b - a)[0];
    return {
      name,
      keys: (indexed === undefined ? undefined : index.get(indexed)) ?? [],
      createdAt: createdOf(meta.custom, meta.createdTime),
      updatedAt: meta.versions.get(meta.currentVersion)?.createdTime ?? meta.updatedTime,
      version: meta.currentVersion,
    };
  }

  /** Second step of every secret write: the key index for the version just written. */
  private async writeIndex(
    ns: string,
    name: string,
    version: number,
    keys: readonly KeyInfo[],
    current: Readonly<Record<string, string>>,
    created: Date | undefined,
    deadline: number,
  ): Promise<void> {
    try {
      await this.kv.patchMeta(secretPath(ns, name), indexPatch(name, version, keys, current, created), deadline);
    } catch (err) {
      const why = toStoreError(err, 'index update', secretSubject(ns, name)).message;
      throw new PaiError(
        'store_unavailable',
        `${secretSubject(ns, name)} was written (version ${version}) but its key index was not updated: ${why}; write it again to repair the listing`,
        { cause: err },
      );
    }
  }

  private static encode(data: SecretData): Record<string, unknown> {
    return Object.fromEntries([...data].map(([k, v]) => [k, encodeValue(v)]));
  }

  createSecret(ns: string, name: string, data: SecretData): Promise<SecretMeta> {
    const subject = secretSubject(ns, name);
    return this.run('create', subject, async (deadline) => {
      assertNamespace(ns);
      assertSecretData(name, data);
      const keys = keyInfos(data);
      indexEntries(name, 1, keys);
      const path = secretPath(ns, name);
      const encoded = VaultStore.encode(data);
      let current: Readonly<Record<string, string>> = {};
      let written;
      try {
        written = await this.kv.writeData(path, encoded, 0, deadline);
      } catch (err) {
        if (!isCasMismatch(err)) throw err;
        // Taken, unless its current version was deleted outside pai: then the name is free.
        const meta = await this.kv.readMeta(path, deadline);
        if (!meta || !isGone(meta)) throw new PaiError('already_exists', `${subject} already exists`);
        current = meta.custom;
        written = await this.kv.writeData(path, encoded, meta.currentVersion, deadline).catch((again: unknown) => {
          throw isCasMismatch(again) ? new PaiError('already_exists', `${subject} already exists`) : again;
        });
      }
      await this.writeIndex(ns, name, written.version, keys, current, written.createdTime, deadline);
      return { name, keys, createdAt: written.createdTime, updatedAt: written.createdTime, version: written.version };
    });
  }

  replaceSecret(ns: string, name: string, data: SecretData, opts?: WriteOptions): Promise<SecretMeta> {
    return this.run('replace', secretSubject(ns, name), async (deadline) => {
      assertNamespace(ns);
      assertSecretData(name, data);
      const keys = keyInfos(data);
      indexEntries(name, 1, keys);
      const meta = await this.liveMeta(ns, name, deadline);
      checkVersion(secretSubject(ns, name), meta.currentVersion, opts);
      const written = await this.kv.writeData(secretPath(ns, name), VaultStore.encode(data), meta.currentVersion, deadline);
      await this.writeIndex(ns, name, written.version, keys, meta.custom, undefined, deadline);
      return { ...this.metaOf(name, meta), keys, updatedAt: written.createdTime, version: written.version };
    });
  }

  patchSecret(ns: string, name: string, patch: SecretPatch, opts?: WriteOptions): Promise<SecretMeta> {
    const subject = secretSubject(ns, name);
    return this.run('patch', subject, async (deadline) => {
      assertNamespace(ns);
      assertName(name, 'secret name');
      const meta = await this.liveMeta(ns, name, deadline);
      checkVersion(subject, meta.currentVersion, opts);
      const currentKeys = parseIndex(meta.custom).get(meta.currentVersion);
      if (!currentKeys) {
        throw new PaiError(
          'conflict',
          `the key index of ${subject} does not describe its version ${meta.currentVersion} (a write is in progress or ` +
            'was interrupted); retry, or replace all its keys to repair it',
        );
      }
      const keys = patchedKeys(name, currentKeys, patch);
      indexEntries(name, meta.currentVersion + 1, keys);
      const body: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const key of patch.remove) body[key] = null;
      for (const [key, value] of patch.set) body[key] = encodeValue(value);
      const written = await this.kv.patchData(secretPath(ns, name), body, meta.currentVersion, deadline);
      await this.writeIndex(ns, name, written.version, keys, meta.custom, undefined, deadline);
      return { ...this.metaOf(name, meta), keys, updatedAt: written.createdTime, version: written.version };
    });
  }

  getSecretMeta(ns: string, name: string): Promise<SecretMeta> {
    return this.run('describe', secretSubject(ns, name), async (deadline) => {
      assertNamespace(ns);
      assertName(name, 'secret name');
      return this.metaOf(name, await this.liveMeta(ns, name, deadline));
    });
  }

  listSecrets(ns: string): Promise<SecretMeta[]> {
    return this.run('list', 'secrets', async (deadline) => {
      assertNamespace(ns);
      const names = (await this.kv.list(secretsDir(ns), deadline)).filter((n) => nameProblem(n) === undefined);
      const metas = await mapLimit(names, LIST_CONCURRENCY, async (name) => {
        const meta = await this.kv.readMeta(secretPath(ns, name), deadline);
        return meta && !isGone(meta) ? this.metaOf(name, meta) : undefined;
      });
      return metas.filter((m): m is SecretMeta => m !== undefined).sort(byName);
    });
  }

  readSecret(ns: string, name: string): Promise<SecretRecord> {
    return this.run('read', secretSubject(ns, name), async (deadline) => {
      assertNamespace(ns);
      assertName(name, 'secret name');
      const read = await this.kv.readData(secretPath(ns, name), deadline);
      if (!read) throw new PaiError('not_found', `${secretSubject(ns, name)} not found`);
      const data = decodeData(name, read.data);
      const meta: SecretMeta = {
        name,
        keys: keyInfos(data),
        createdAt: createdOf(read.custom, read.createdTime),
        updatedAt: read.createdTime,
        version: read.version,
      };
      return { meta, data };
    });
  }

  deleteSecret(ns: string, name: string): Promise<void> {
    return this.run('delete', secretSubject(ns, name), async (deadline) => {
      assertNamespace(ns);
      assertName(name, 'secret name');
      await this.liveMeta(ns, name, deadline);
      await this.kv.deleteMeta(secretPath(ns, name), deadline);
    });
  }

  putDoc(
    kind: ResourceDocKind,
    ns: string,
    name: string,
    body: Readonly<Record<string, unknown>>,
    opts?: WriteOptions,
  ): Promise<DocRecord> {
    return this.run('write', docSubject(kind, name), (deadline) => {
      assertDocKind(kind);
      return this.docs.put({ kind, namespace: ns }, name, body, opts, deadline);
    });
  }

  getDoc(kind: ResourceDocKind, ns: string, name: string): Promise<DocRecord> {
    return this.run('read', docSubject(kind, name), (deadline) => {
      assertDocKind(kind);
      return this.docs.get({ kind, namespace: ns }, name, deadline);
    });
  }

  listDocs(kind: ResourceDocKind, ns: string): Promise<DocRecord[]> {
    return this.run('list', kind, (deadline) => {
      assertDocKind(kind);
      return this.docs.list({ kind, namespace: ns }, deadline);
    });
  }

  deleteDoc(kind: ResourceDocKind, ns: string, name: string): Promise<void> {
    return this.run('delete', docSubject(kind, name), (deadline) => {
      assertDocKind(kind);
      return this.docs.delete({ kind, namespace: ns }, name, deadline);
    });
  }

  putClusterDoc(
    kind: ClusterDocKind,
    name: string,
    body: Readonly<Record<string, unknown>>,
    opts?: WriteOptions,
  ): Promise<DocRecord> {
    return this.run('write', docSubject(kind, name), (deadline) => {
      assertClusterDocKind(kind);
      return this.docs.put({ kind }, name, body, opts, deadline);
    });
  }

  getClusterDoc(kind: ClusterDocKind, name: string): Promise<DocRecord> {
    return this.run('read', docSubject(kind, name), (deadline) => {
      assertClusterDocKind(kind);
      return this.docs.get({ kind }, name, deadline);
    });
  }

  listClusterDocs(kind: ClusterDocKind): Promise<DocRecord[]> {
    return this.run('list', kind, (deadline) => {
      assertClusterDocKind(kind);
      return this.docs.list({ kind }, deadline);
    });
  }

  deleteClusterDoc(kind: ClusterDocKind, name: string): Promise<void> {
    return this.run('delete', docSubject(kind, name), (deadline) => {
      assertClusterDocKind(kind);
      return this.docs.delete({ kind }, name, deadline);
    });
  }

  listNamespaces(): Promise<string[]> {
    return this.run('list', 'namespaces', async (deadline) => {
      const folders = await this.kv.list(NAMESPACES_DIR, deadline);
      // The reserved namespace (the pai CA) is pai's own, never a user's.
      const names = folders
        .map((f) => f.replace(/\/$/, ''))
        .filter((n) => nameProblem(n) === undefined && n !== SYSTEM_NAMESPACE);
      return [...new Set([DEFAULT_NAMESPACE, ...names])].sort();
    });
  }

  ping(): Promise<void> {
    return this.run('ping', 'Vault', async (deadline) => {
      await this.session.call({ method: 'GET', path: 'auth/token/lookup-self' }, deadline);
    });
  }

  close(): Promise<void> {
    this.session.close();
    this.http.close();
    return Promise.resolve();
  }
}

/** Opens the Vault store described by `config.vault` (PAI_STORE=vault). Throws ConfigError when it cannot start. */
export async function openVaultStore(config: Config): Promise<VaultStore> {
  if (!config.vault) throw new ConfigError('PAI_STORE', 'vault selected but the Vault settings (VAULT_ADDR, …) are missing');
  return await VaultStore.open(config.vault);
}
