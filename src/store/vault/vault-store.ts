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
import { assertName, nameProblem, quoteName } from '../../resources/names.js';
import { assertSecretData, checkVersion, docSubject, keyInfos, patchedKeys } from '../validate.js';
import type {
  DocKind,
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
import { byName, LIST_CONCURRENCY, mapLimit } from './shared.js';

export interface VaultStoreOptions {
  /** Clock for token lifetimes and deletion times (ms since epoch); tests pass a fake one. */
  readonly now?: () => number;
}

const secretSubject = (name: string): string => `secret ${quoteName(name)}`;

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

  private async liveMeta(name: string, deadline: number): Promise<MetaRead> {
    const meta = await this.kv.readMeta(`secrets/${name}`, deadline);
    if (!meta || isGone(meta)) throw new PaiError('not_found', `${secretSubject(name)} not found`);
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
    name: string,
    version: number,
    keys: readonly KeyInfo[],
    current: Readonly<Record<string, string>>,
    created: Date | undefined,
    deadline: number,
  ): Promise<void> {
    try {
      await this.kv.patchMeta(`secrets/${name}`, indexPatch(name, version, keys, current, created), deadline);
    } catch (err) {
      const why = toStoreError(err, 'index update', secretSubject(name)).message;
      throw new PaiError(
        'store_unavailable',
        `${secretSubject(name)} was written (version ${version}) but its key index was not updated: ${why}; write it again to repair the listing`,
        { cause: err },
      );
    }
  }

  private static encode(data: SecretData): Record<string, unknown> {
    return Object.fromEntries([...data].map(([k, v]) => [k, encodeValue(v)]));
  }

  createSecret(name: string, data: SecretData): Promise<SecretMeta> {
    const subject = secretSubject(name);
    return this.run('create', subject, async (deadline) => {
      assertSecretData(name, data);
      const keys = keyInfos(data);
      indexEntries(name, 1, keys);
      const path = `secrets/${name}`;
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
      await this.writeIndex(name, written.version, keys, current, written.createdTime, deadline);
      return { name, keys, createdAt: written.createdTime, updatedAt: written.createdTime, version: written.version };
    });
  }

  replaceSecret(name: string, data: SecretData, opts?: WriteOptions): Promise<SecretMeta> {
    return this.run('replace', secretSubject(name), async (deadline) => {
      assertSecretData(name, data);
      const keys = keyInfos(data);
      indexEntries(name, 1, keys);
      const meta = await this.liveMeta(name, deadline);
      checkVersion(secretSubject(name), meta.currentVersion, opts);
      const written = await this.kv.writeData(`secrets/${name}`, VaultStore.encode(data), meta.currentVersion, deadline);
      await this.writeIndex(name, written.version, keys, meta.custom, undefined, deadline);
      return { ...this.metaOf(name, meta), keys, updatedAt: written.createdTime, version: written.version };
    });
  }

  patchSecret(name: string, patch: SecretPatch, opts?: WriteOptions): Promise<SecretMeta> {
    const subject = secretSubject(name);
    return this.run('patch', subject, async (deadline) => {
      assertName(name, 'secret name');
      const meta = await this.liveMeta(name, deadline);
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
      const body: Record<string, unknown> = {};
      for (const key of patch.remove) body[key] = null;
      for (const [key, value] of patch.set) body[key] = encodeValue(value);
      const written = await this.kv.patchData(`secrets/${name}`, body, meta.currentVersion, deadline);
      await this.writeIndex(name, written.version, keys, meta.custom, undefined, deadline);
      return { ...this.metaOf(name, meta), keys, updatedAt: written.createdTime, version: written.version };
    });
  }

  getSecretMeta(name: string): Promise<SecretMeta> {
    return this.run('describe', secretSubject(name), async (deadline) => {
      assertName(name, 'secret name');
      return this.metaOf(name, await this.liveMeta(name, deadline));
    });
  }

  listSecrets(): Promise<SecretMeta[]> {
    return this.run('list', 'secrets', async (deadline) => {
      const names = (await this.kv.list('secrets/', deadline)).filter((n) => nameProblem(n) === undefined);
      const metas = await mapLimit(names, LIST_CONCURRENCY, async (name) => {
        const meta = await this.kv.readMeta(`secrets/${name}`, deadline);
        return meta && !isGone(meta) ? this.metaOf(name, meta) : undefined;
      });
      return metas.filter((m): m is SecretMeta => m !== undefined).sort(byName);
    });
  }

  readSecret(name: string): Promise<SecretRecord> {
    return this.run('read', secretSubject(name), async (deadline) => {
      assertName(name, 'secret name');
      const read = await this.kv.readData(`secrets/${name}`, deadline);
      if (!read) throw new PaiError('not_found', `${secretSubject(name)} not found`);
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

  deleteSecret(name: string): Promise<void> {
    return this.run('delete', secretSubject(name), async (deadline) => {
      assertName(name, 'secret name');
      await this.liveMeta(name, deadline);
      await this.kv.deleteMeta(`secrets/${name}`, deadline);
    });
  }

  putDoc(kind: DocKind, name: string, body: Readonly<Record<string, unknown>>, opts?: WriteOptions): Promise<DocRecord> {
    return this.run('write', docSubject(kind, name), (deadline) => this.docs.put(kind, name, body, opts, deadline));
  }

  getDoc(kind: DocKind, name: string): Promise<DocRecord> {
    return this.run('read', docSubject(kind, name), (deadline) => this.docs.get(kind, name, deadline));
  }

  listDocs(kind: DocKind): Promise<DocRecord[]> {
    return this.run('list', kind, (deadline) => this.docs.list(kind, deadline));
  }

  deleteDoc(kind: DocKind, name: string): Promise<void> {
    return this.run('delete', docSubject(kind, name), (deadline) => this.docs.delete(kind, name, deadline));
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
