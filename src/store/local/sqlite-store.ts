/**
 * The embedded store: SQLite (better-sqlite3) in the data directory, WAL with synchronous=FULL so
 * that an acknowledged write survives a crash. Secret values are sealed per write (crypto.ts);
 * key names and sizes are stored in clear beside them so that listing never opens a seal.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PaiError } from '../../errors.js';
import { assertName, quoteName } from '../../resources/names.js';
import { assertDocKind, assertSecretData, checkVersion, keyInfos, patchData } from '../validate.js';
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
import { keyId, makeKeyCheck, openSecret, rewrapKey, sealSecret } from './crypto.js';
import { assertPrivateFile } from './files.js';
import { loadMasterKey, type MasterKeyFiles, type RotationStep, rotateKeyFiles } from './master-key.js';
import { LocalDocuments, SCHEMA, storeError } from './sql.js';

export interface LocalStoreOptions {
  readonly dataDir: string;
  readonly masterKeyFile: string;
  readonly now?: () => Date;
  /** Test hook: called at each step of a master-key rotation (throwing simulates a crash there). */
  readonly onRotationStep?: (step: RotationStep) => void;
}

interface SecretRow {
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
    this.docs = new LocalDocuments(db, this.now);
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
        })();
      }
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

  private secretRow(name: string): SecretRow | undefined {
    return this.db.prepare('SELECT * FROM secrets WHERE name = ?').get(name) as SecretRow | undefined;
  }

  private requireSecretRow(name: string): SecretRow {
    assertName(name, 'secret name');
    const row = this.secretRow(name);
    if (!row) throw new PaiError('not_found', `secret ${quoteName(name)} not found`);
    return row;
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

  private writeSecret(name: string, version: number, createdAt: number, data: SecretData): SecretMeta {
    const sealed = sealSecret(this.masterKey, name, version, data);
    const updated = this.now().getTime();
    const keys = JSON.stringify(keyInfos(data));
    this.db
      .prepare(
        `INSERT INTO secrets (name, version, keys, wrapped_key, ciphertext, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, keys = excluded.keys,
           wrapped_key = excluded.wrapped_key, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
      )
      .run(name, version, keys, sealed.wrappedKey, sealed.ciphertext, createdAt, updated);
    return { name, keys: keyInfos(data), createdAt: new Date(createdAt), updatedAt: new Date(updated), version };
  }

  async createSecret(name: string, data: SecretData): Promise<SecretMeta> {
    assertSecretData(name, data);
    return Promise.resolve(
      this.run('create secret', () =>
        this.db
          .transaction(() => {
            if (this.secretRow(name)) throw new PaiError('already_exists', `secret ${quoteName(name)} already exists`);
            const tomb = this.db.prepare('SELECT last_version FROM tombstones WHERE name = ?').get(name) as
              { last_version: number } | undefined;
            return this.writeSecret(name, (tomb?.last_version ?? 0) + 1, this.now().getTime(), data);
          })
          .immediate(),
      ),
    );
  }

  async replaceSecret(name: string, data: SecretData, opts?: WriteOptions): Promise<SecretMeta> {
    assertSecretData(name, data);
    return Promise.resolve(
      this.run('replace secret', () =>
        this.db
          .transaction(() => {
            const row = this.requireSecretRow(name);
            checkVersion(`secret ${quoteName(name)}`, row.version, opts);
            return this.writeSecret(name, row.version + 1, row.created_at, data);
          })
          .immediate(),
      ),
    );
  }

  async patchSecret(name: string, patch: SecretPatch, opts?: WriteOptions): Promise<SecretMeta> {
    assertName(name, 'secret name');
    return Promise.resolve(
      this.run('patch secret', () =>
        this.db
          .transaction(() => {
            const row = this.requireSecretRow(name);
            checkVersion(`secret ${quoteName(name)}`, row.version, opts);
            const current = openSecret(this.masterKey, name, row.version, {
              wrappedKey: row.wrapped_key,
              ciphertext: row.ciphertext,
            });
            const next = patchData(name, current, patch);
            return this.writeSecret(name, row.version + 1, row.created_at, next);
          })
          .immediate(),
      ),
    );
  }

  async getSecretMeta(name: string): Promise<SecretMeta> {
    return Promise.resolve(this.run('read secret metadata', () => this.metaOf(this.requireSecretRow(name))));
  }

  async listSecrets(): Promise<SecretMeta[]> {
    return Promise.resolve(
      this.run('list secrets', () => {
        const rows = this.db
          .prepare('SELECT name, version, keys, created_at, updated_at FROM secrets ORDER BY name')
          .all() as SecretRow[];
        return rows.map((r) => this.metaOf(r));
      }),
    );
  }

  async readSecret(name: string): Promise<SecretRecord> {
    return Promise.resolve(
      this.run('read secret', () => {
        const row = this.requireSecretRow(name);
        const meta = this.metaOf(row);
        const data = openSecret(this.masterKey, name, row.version, { wrappedKey: row.wrapped_key, ciphertext: row.ciphertext });
        // The clear key listing is not under the seal; check it against the sealed data, so that an
        // edited listing is caught on the first read of the values.
        if (JSON.stringify(keyInfos(data)) !== JSON.stringify(meta.keys)) {
          throw new PaiError(
            'integrity',
            `secret ${quoteName(name)} (version ${row.version}) failed its integrity check: its key listing does not match its sealed data`,
          );
        }
        return { meta, data };
      }),
    );
  }

  async deleteSecret(name: string): Promise<void> {
    return Promise.resolve(
      this.run('delete secret', () =>
        this.db
          .transaction(() => {
            const row = this.requireSecretRow(name);
            this.db.prepare('DELETE FROM secrets WHERE name = ?').run(name);
            this.db
              .prepare(
                'INSERT INTO tombstones (name, last_version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version',
              )
              .run(name, row.version);
          })
          .immediate(),
      ),
    );
  }

  async putDoc(kind: DocKind, name: string, body: Readonly<Record<string, unknown>>, opts?: WriteOptions): Promise<DocRecord> {
    assertDocKind(kind);
    assertName(name, `${kind} name`);
    return Promise.resolve(this.run(`write ${kind}`, () => this.docs.put(kind, name, body, opts)));
  }

  async getDoc(kind: DocKind, name: string): Promise<DocRecord> {
    assertDocKind(kind);
    assertName(name, `${kind} name`);
    return Promise.resolve(this.run(`read ${kind}`, () => this.docs.get(kind, name)));
  }

  async listDocs(kind: DocKind): Promise<DocRecord[]> {
    assertDocKind(kind);
    return Promise.resolve(this.run(`list ${kind}`, () => this.docs.list(kind)));
  }

  async deleteDoc(kind: DocKind, name: string): Promise<void> {
    assertDocKind(kind);
    assertName(name, `${kind} name`);
    return Promise.resolve(this.run(`delete ${kind}`, () => this.docs.delete(kind, name)));
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
            const rows = this.db.prepare('SELECT name, version, wrapped_key FROM secrets').all() as SecretRow[];
            const update = this.db.prepare('UPDATE secrets SET wrapped_key = ? WHERE name = ?');
            for (const row of rows) {
              update.run(rewrapKey(oldKey, candidate, row.name, row.version, row.wrapped_key), row.name);
            }
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
    });
    this.masterKey = newKey;
    return { oldKeyId: keyId(oldKey), newKeyId: keyId(newKey), rewrapped };
  }
}
