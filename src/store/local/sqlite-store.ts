/**
 * The embedded store: SQLite (better-sqlite3) in the data directory, WAL with synchronous=FULL so
 * that an acknowledged write survives a crash. Secret values are sealed per write (crypto.ts);
 * key names and sizes are stored in clear beside them so that listing never opens a seal.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PaiError } from '../../errors.js';
import { SYSTEM_NAMESPACE, assertName, assertNamespace } from '../../resources/names.js';
import {
  assertClusterDocKind,
  assertDocKind,
  assertSecretData,
  checkVersion,
  keyInfos,
  patchData,
  sealedName,
  secretSubject,
} from '../validate.js';
import {
  CLUSTER_DOC_KINDS,
  type ClusterDocKind,
  type DocRecord,
  type KeyInfo,
  type ResourceDocKind,
  type SecretData,
  type SecretMeta,
  type SecretPatch,
  type SecretRecord,
  type SecretStore,
  type WriteOptions,
} from '../types.js';
import { DEFAULT_NAMESPACE } from '../../resources/types.js';
import { keyId, makeKeyCheck, openSecret, rewrapKey, sealSecret } from './crypto.js';
import { assertPrivateFile } from './files.js';
import { loadMasterKey, type MasterKeyFiles, type RotationStep, rotateKeyFiles } from './master-key.js';
import { CLUSTER, docMacKey, LocalDocuments, migrate, SCHEMA, SCHEMA_VERSION, storeError } from './sql.js';

export interface LocalStoreOptions {
  readonly dataDir: string;
  readonly masterKeyFile: string;
  readonly now?: () => Date;
  /** Test hook: called at each step of a master-key rotation (throwing simulates a crash there). */
  readonly onRotationStep?: (step: RotationStep) => void;
}

interface SecretRow {
  namespace: string;
  name: string;
  version: number;
  keys: string;
  wrapped_key: Buffer;
  ciphertext: Buffer;
  created_at: number;
  updated_at: number;
}

export class LocalStore implements SecretStore {
  readonly backend = 'local' as const;
  readonly dbFile: string;
  private readonly db: Database.Database;
  private masterKey: Buffer;
  private readonly files: MasterKeyFiles;
  private readonly now: () => Date;
  private readonly onRotationStep: ((step: RotationStep) => void) | undefined;
  private readonly docs: LocalDocuments;

  private constructor(db: Database.Database, dbFile: string, masterKey: Buffer, options: LocalStoreOptions) {
    this.db = db;
    this.dbFile = dbFile;
    this.masterKey = masterKey;
    this.files = { keyFile: options.masterKeyFile };
    this.now = options.now ?? (() => new Date());
    this.onRotationStep = options.onRotationStep;
    this.docs = new LocalDocuments(db, this.now, docMacKey(masterKey));
  }

  /**
   * Opens (creating on first start) the store in `dataDir`. Throws ConfigError when the directory
   * or key file has loose permissions, or the master key does not open the database.
   */
  static open(options: LocalStoreOptions): LocalStore {
    const dbFile = path.join(options.dataDir, 'pai.db');
    // Create the file with 0600 before SQLite does; SQLite gives -wal and -shm the same mode.
    fs.closeSync(fs.openSync(dbFile, 'a', 0o600));
    assertPrivateFile(dbFile, 'PAI_DATA_DIR');
    const db = new Database(dbFile);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
      const getMeta = (k: string): Buffer | undefined =>
        (db.prepare('SELECT v FROM meta WHERE k = ?').get(k) as { v: Buffer } | undefined)?.v;
      const key = loadMasterKey({ keyFile: options.masterKeyFile }, getMeta('key_check'), getMeta('key_id')?.toString());
      if (!getMeta('key_check')) {
        const put = db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)');
        db.transaction(() => {
          put.run('key_check', makeKeyCheck(key));
          put.run('key_id', Buffer.from(keyId(key)));
          put.run('schema_version', Buffer.from(String(SCHEMA_VERSION)));
        })();
      }
      migrate(db, docMacKey(key), CLUSTER_DOC_KINDS);
      return new LocalStore(db, dbFile, key, options);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** The id of the master key in use (not secret). */
  get masterKeyId(): string {
    return keyId(this.masterKey);
  }

  // The SecretStore methods below are `async` although they do synchronous work: a validation or
  // database error must reject the returned promise, never throw at the call (callers use .then).
  private run<T>(op: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw storeError(err, op);
    }
  }

  private secretRow(ns: string, name: string): SecretRow | undefined {
    return this.db.prepare('SELECT * FROM secrets WHERE namespace = ? AND name = ?').get(ns, name) as SecretRow | undefined;
  }

  private requireSecretRow(ns: string, name: string): SecretRow {
    assertNamespace(ns);
    assertName(name, 'secret name');
    const row = this.secretRow(ns, name);
    if (!row) throw new PaiError('not_found', `${secretSubject(ns, name)} not found`);
    return row;
  }

  /** The secret's seal as it was made: the name (default namespace, as in the first layout) or namespace/name. */
  private sealOf(row: SecretRow): { wrappedKey: Buffer; ciphertext: Buffer } {
    return { wrappedKey: row.wrapped_key, ciphertext: row.ciphertext };
  }

  private metaOf(row: SecretRow): SecretMeta {
    return {
      name: row.name,
      keys: JSON.parse(row.keys) as KeyInfo[],
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
      version: row.version,
    };
  }

  private writeSecret(ns: string, name: string, version: number, createdAt: number, data: SecretData): SecretMeta {
    const sealed = sealSecret(this.masterKey, sealedName(ns, name), version, data);
    const updated = this.now().getTime();
    const keys = JSON.stringify(keyInfos(data));
    this.db
      .prepare(
        `INSERT INTO secrets (namespace, name, version, keys, wrapped_key, ciphertext, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (namespace, name) DO UPDATE SET version = excluded.version, keys = excluded.keys,
           wrapped_key = excluded.wrapped_key, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
      )
      .run(ns, name, version, keys, sealed.wrappedKey, sealed.ciphertext, createdAt, updated);
    return { name, keys: keyInfos(data), createdAt: new Date(createdAt), updatedAt: new Date(updated), version };
  }

  async createSecret(ns: string, name: string, data: SecretData): Promise<SecretMeta> {
    assertNamespace(ns);
    assertSecretData(name, data);
    return Promise.resolve(
      this.run('create secret', () =>
        this.db
          .transaction(() => {
            if (this.secretRow(ns, name)) throw new PaiError('already_exists', `${secretSubject(ns, name)} already exists`);
            const tomb = this.db.prepare('SELECT last_version FROM tombstones WHERE namespace = ? AND name = ?').get(ns, name) as
              { last_version: number } | undefined;
            return this.writeSecret(ns, name, (tomb?.last_version ?? 0) + 1, this.now().getTime(), data);
          })
          .immediate(),
      ),
    );
  }

  async replaceSecret(ns: string, name: string, data: SecretData, opts?: WriteOptions): Promise<SecretMeta> {
    assertNamespace(ns);
    assertSecretData(name, data);
    return Promise.resolve(
      this.run('replace secret', () =>
        this.db
          .transaction(() => {
            const row = this.requireSecretRow(ns, name);
            checkVersion(secretSubject(ns, name), row.version, opts);
            return this.writeSecret(ns, name, row.version + 1, row.created_at, data);
          })
          .immediate(),
      ),
    );
  }

  async patchSecret(ns: string, name: string, patch: SecretPatch, opts?: WriteOptions): Promise<SecretMeta> {
    return Promise.resolve(
      this.run('patch secret', () =>
        this.db
          .transaction(() => {
            const row = this.requireSecretRow(ns, name);
            checkVersion(secretSubject(ns, name), row.version, opts);
            const current = openSecret(this.masterKey, sealedName(ns, name), row.version, this.sealOf(row));
            const next = patchData(name, current, patch);
            return this.writeSecret(ns, name, row.version + 1, row.created_at, next);
          })
          .immediate(),
      ),
    );
  }

  async getSecretMeta(ns: string, name: string): Promise<SecretMeta> {
    return Promise.resolve(this.run('read secret metadata', () => this.metaOf(this.requireSecretRow(ns, name))));
  }

  async listSecrets(ns: string): Promise<SecretMeta[]> {
    return Promise.resolve(
      this.run('list secrets', () => {
        assertNamespace(ns);
        const rows = this.db
          .prepare('SELECT namespace, name, version, keys, created_at, updated_at FROM secrets WHERE namespace = ? ORDER BY name')
          .all(ns) as SecretRow[];
        return rows.map((r) => this.metaOf(r));
      }),
    );
  }

  async readSecret(ns: string, name: string): Promise<SecretRecord> {
    return Promise.resolve(
      this.run('read secret', () => {
        const row = this.requireSecretRow(ns, name);
        const meta = this.metaOf(row);
        const data = openSecret(this.masterKey, sealedName(ns, name), row.version, this.sealOf(row));
        // The clear key listing is not under the seal; check it against the sealed data, so that an
        // edited listing is caught on the first read of the values.
        if (JSON.stringify(keyInfos(data)) !== JSON.stringify(meta.keys)) {
          throw new PaiError(
            'integrity',
            `${secretSubject(ns, name)} (version ${row.version}) failed its integrity check: its key listing does not match its sealed data`,
          );
        }
        return { meta, data };
      }),
    );
  }

  async deleteSecret(ns: string, name: string): Promise<void> {
    return Promise.resolve(
      this.run('delete secret', () =>
        this.db
          .transaction(() => {
            const row = this.requireSecretRow(ns, name);
            this.db.prepare('DELETE FROM secrets WHERE namespace = ? AND name = ?').run(ns, name);
            this.db
              .prepare(
                `INSERT INTO tombstones (namespace, name, last_version) VALUES (?, ?, ?)
                 ON CONFLICT (namespace, name) DO UPDATE SET last_version = excluded.last_version`,
              )
              .run(ns, name, row.version);
          })
          .immediate(),
      ),
    );
  }

  async putDoc(
    kind: ResourceDocKind,
    ns: string,
    name: string,
    body: Readonly<Record<string, unknown>>,
    opts?: WriteOptions,
  ): Promise<DocRecord> {
    assertDocKind(kind);
    assertNamespace(ns);
    assertName(name, `${kind} name`);
    return Promise.resolve(this.run(`write ${kind}`, () => this.docs.put(kind, ns, name, body, opts)));
  }

  async getDoc(kind: ResourceDocKind, ns: string, name: string): Promise<DocRecord> {
    assertDocKind(kind);
    assertNamespace(ns);
    assertName(name, `${kind} name`);
    return Promise.resolve(this.run(`read ${kind}`, () => this.docs.get(kind, ns, name)));
  }

  async listDocs(kind: ResourceDocKind, ns: string): Promise<DocRecord[]> {
    assertDocKind(kind);
    assertNamespace(ns);
    return Promise.resolve(this.run(`list ${kind}`, () => this.docs.list(kind, ns)));
  }

  async deleteDoc(kind: ResourceDocKind, ns: string, name: string): Promise<void> {
    assertDocKind(kind);
    assertNamespace(ns);
    assertName(name, `${kind} name`);
    return Promise.resolve(this.run(`delete ${kind}`, () => this.docs.delete(kind, ns, name)));
  }

  async putClusterDoc(
    kind: ClusterDocKind,
    name: string,
    body: Readonly<Record<string, unknown>>,
    opts?: WriteOptions,
  ): Promise<DocRecord> {
    assertClusterDocKind(kind);
    assertName(name, `${kind} name`);
    return Promise.resolve(this.run(`write ${kind}`, () => this.docs.put(kind, CLUSTER, name, body, opts)));
  }

  async getClusterDoc(kind: ClusterDocKind, name: string): Promise<DocRecord> {
    assertClusterDocKind(kind);
    assertName(name, `${kind} name`);
    return Promise.resolve(this.run(`read ${kind}`, () => this.docs.get(kind, CLUSTER, name)));
  }

  async listClusterDocs(kind: ClusterDocKind): Promise<DocRecord[]> {
    assertClusterDocKind(kind);
    return Promise.resolve(this.run(`list ${kind}`, () => this.docs.list(kind, CLUSTER)));
  }

  async deleteClusterDoc(kind: ClusterDocKind, name: string): Promise<void> {
    assertClusterDocKind(kind);
    assertName(name, `${kind} name`);
    return Promise.resolve(this.run(`delete ${kind}`, () => this.docs.delete(kind, CLUSTER, name)));
  }

  async listNamespaces(): Promise<string[]> {
    return Promise.resolve(
      this.run('list namespaces', () => {
        const rows = this.db
          .prepare(`SELECT namespace FROM secrets UNION SELECT namespace FROM docs WHERE namespace != ''`)
          .all() as { namespace: string }[];
        // The reserved namespace (the pai CA) is pai's own, never a user's.
        const names = rows.map((r) => r.namespace).filter((n) => n !== SYSTEM_NAMESPACE);
        return [...new Set([DEFAULT_NAMESPACE, ...names])].sort();
      }),
    );
  }

  /** Document rows that fail their integrity check (a tampered pai.db): kind, namespace and name only. */
  integrityReport(): { kind: string; namespace: string; name: string }[] {
    return this.run('verify documents', () => this.docs.scan());
  }

  async ping(): Promise<void> {
    return Promise.resolve(this.run('ping', () => void this.db.prepare('SELECT 1').get()));
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }

  /**
   * Replaces the master key: writes the next key beside the current one, re-wraps every data key
   * in one transaction, then moves the next key into place. A crash at any point leaves either
   * the old key and old wraps, or the new wraps with the new key recoverable from the `.next`
   * file (see loadMasterKey). Returns the old and new key ids and the number of secrets re-wrapped.
   */
  rotateMasterKey(): { oldKeyId: string; newKeyId: string; rewrapped: number } {
    const oldKey = this.masterKey;
    const step = this.onRotationStep ?? (() => undefined);
    let rewrapped = 0;
    const newKey = rotateKeyFiles(this.files, oldKey, step, (candidate) => {
      this.run('rotate master key', () =>
        this.db
          .transaction(() => {
            const rows = this.db.prepare('SELECT namespace, name, version, wrapped_key FROM secrets').all() as SecretRow[];
            const update = this.db.prepare('UPDATE secrets SET wrapped_key = ? WHERE namespace = ? AND name = ?');
            for (const row of rows) {
              const sealed = sealedName(row.namespace, row.name);
              update.run(rewrapKey(oldKey, candidate, sealed, row.version, row.wrapped_key), row.namespace, row.name);
            }
            this.docs.remac(docMacKey(candidate));
            const put = this.db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)');
            put.run('key_check', makeKeyCheck(candidate));
            put.run('key_id', Buffer.from(keyId(candidate)));
            rewrapped = rows.length;
            step('before-commit');
          })
          .immediate(),
      );
      // Committed: the database opens only with the new key now, even if promoting its file fails.
      this.masterKey = candidate;
      this.docs.setMacKey(docMacKey(candidate));
    });
    this.masterKey = newKey;
    this.docs.setMacKey(docMacKey(newKey));
    return { oldKeyId: keyId(oldKey), newKeyId: keyId(newKey), rewrapped };
  }
}
