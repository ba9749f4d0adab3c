/**
 * The local store's SQL: the schema (and its migration from the first, namespace-less layout),
 * SQLite failures as PaiErrors, and the documents table (resources per namespace, and cluster-wide
 * tokens under the empty namespace), kept apart from the sealed secrets.
 *
 * Every document row carries a MAC under a key derived from the master key, over its kind,
 * namespace, name, version and body: write access to pai.db without the master key can neither
 * insert a token or resource nor alter one (the row is refused and reported as `integrity`).
 * Synchronous (better-sqlite3); the store wraps each call into its promise-returning interface.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import { PaiError } from '../../errors.js';
import { quoteName } from '../../resources/names.js';
import { DEFAULT_NAMESPACE } from '../../resources/types.js';
import type { DocKind, DocRecord, WriteOptions } from '../types.js';
import { checkVersion, docSubject } from '../validate.js';

/** The namespace column of cluster-wide documents (tokens): never a valid namespace name. */
export const CLUSTER = '';

export interface DocRow {
  kind: string;
  namespace: string;
  name: string;
  version: number;
  body: string;
  mac: Buffer;
  created_at: number;
  updated_at: number;
}

export const SCHEMA_VERSION = 2;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS secrets (
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  keys TEXT NOT NULL,
  wrapped_key BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, name)
) STRICT;
-- The last version of each deleted secret, so that a re-created secret never reuses a version
-- (a sealed record of the old secret can then never be replayed onto the new one).
CREATE TABLE IF NOT EXISTS tombstones (
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  last_version INTEGER NOT NULL,
  PRIMARY KEY (namespace, name)
) STRICT;
CREATE TABLE IF NOT EXISTS docs (
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  mac BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (kind, namespace, name)
) STRICT;
`;

/** Maps a SQLite failure to a PaiError with a clear, value-free message. */
export function storeError(err: unknown, op: string): PaiError {
  if (err instanceof PaiError) return err;
  const code = (err as { code?: unknown }).code;
  const sqlite = typeof code === 'string' ? code : 'unknown';
  const reason =
    sqlite === 'SQLITE_FULL'
      ? 'the disk is full'
      : sqlite === 'SQLITE_BUSY' || sqlite === 'SQLITE_LOCKED'
        ? 'the database is locked by another process'
        : sqlite === 'SQLITE_READONLY'
          ? 'the database is read-only'
          : sqlite === 'SQLITE_IOERR_WRITE'
            ? // EFBIG, EDQUOT and EIO on write() arrive here; a plain ENOSPC is SQLITE_FULL above.
              'writing to the disk failed (is it full, or over a quota or file size limit?)'
            : sqlite.startsWith('SQLITE_IOERR')
              ? 'an I/O error occurred'
              : sqlite === 'SQLITE_CORRUPT' || sqlite === 'SQLITE_NOTADB'
                ? 'the database file is corrupt'
                : `an unexpected error occurred (${sqlite})`;
  return new PaiError('store_unavailable', `local store: ${op} failed: ${reason}; nothing was changed`, { cause: err });
}

/** The document MAC key: derived from the master key, used for nothing else. */
export function docMacKey(masterKey: Buffer): Buffer {
  return createHmac('sha256', masterKey).update('pai/doc-mac/v1').digest();
}

/** The MAC of a document row over kind, namespace, name, version and body (NUL-separated: none of them holds NUL). */
export function docMac(key: Buffer, row: Pick<DocRow, 'kind' | 'namespace' | 'name' | 'version' | 'body'>): Buffer {
  return createHmac('sha256', key).update(`${row.kind}\0${row.namespace}\0${row.name}\0${row.version}\0${row.body}`).digest();
}

/** How errors name a document: `agent "x" in namespace "team-a"`, `token "t1"`. */
function subject(kind: string, namespace: string, name: string): string {
  const where = namespace === CLUSTER || namespace === DEFAULT_NAMESPACE ? '' : ` in namespace ${quoteName(namespace)}`;
  return `${docSubject(kind, name)}${where}`;
}

/**
 * Migrates a database of the first layout (no namespaces, no document MACs) in one transaction:
 * every secret, tombstone and resource moves into namespace `default`, tokens become cluster-wide,
 * and each document gets its MAC (rows present at the upgrade are adopted as they are). Secrets
 * keep their seals: the default namespace's seals name the secret alone, as before.
 */
export function migrate(db: Database.Database, macKey: Buffer, clusterKinds: readonly string[]): void {
  const columns = (table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
  if (!columns('secrets').includes('name') || columns('secrets').includes('namespace')) return;
  db.transaction(() => {
    db.exec(
      'ALTER TABLE secrets RENAME TO secrets_v1; ALTER TABLE tombstones RENAME TO tombstones_v1; ALTER TABLE docs RENAME TO docs_v1;',
    );
    db.exec(SCHEMA);
    db.exec(`INSERT INTO secrets SELECT 'default', name, version, keys, wrapped_key, ciphertext, created_at, updated_at FROM secrets_v1;
             INSERT INTO tombstones SELECT 'default', name, last_version FROM tombstones_v1;`);
    const insert = db.prepare(
      'INSERT INTO docs (kind, namespace, name, version, body, mac, created_at, updated_at) VALUES (@kind, @namespace, @name, @version, @body, @mac, @created_at, @updated_at)',
    );
    for (const old of db.prepare('SELECT * FROM docs_v1').all() as Omit<DocRow, 'namespace' | 'mac'>[]) {
      const namespace = clusterKinds.includes(old.kind) ? CLUSTER : 'default';
      const row = { ...old, namespace };
      insert.run({ ...row, mac: docMac(macKey, row) });
    }
    db.exec('DROP TABLE secrets_v1; DROP TABLE tombstones_v1; DROP TABLE docs_v1;');
    db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)').run('schema_version', Buffer.from(String(SCHEMA_VERSION)));
  })();
}

/** The documents table. Every method throws PaiError (`not_found`, `conflict`, `integrity`). */
export class LocalDocuments {
  /** Rows refused since start (kind, namespace, name: never the body). */
  readonly refused: { kind: string; namespace: string; name: string }[] = [];

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => Date,
    private macKey: Buffer,
  ) {}

  /** Uses a new MAC key from now on (after a master-key rotation re-MACed every row). */
  setMacKey(key: Buffer): void {
    this.macKey = key;
  }

  private authentic(row: DocRow): boolean {
    const expected = docMac(this.macKey, row);
    return Buffer.isBuffer(row.mac) && row.mac.length === expected.length && timingSafeEqual(row.mac, expected);
  }

  private refuse(row: DocRow): PaiError {
    if (!this.refused.some((r) => r.kind === row.kind && r.namespace === row.namespace && r.name === row.name)) {
      this.refused.push({ kind: row.kind, namespace: row.namespace, name: row.name });
    }
    return new PaiError(
      'integrity',
      `${subject(row.kind, row.namespace, row.name)} failed its integrity check: the row was written or altered without the master key`,
    );
  }

  private docOf(row: DocRow): DocRecord {
    if (!this.authentic(row)) throw this.refuse(row);
    return {
      kind: row.kind as DocKind,
      ...(row.namespace === CLUSTER ? {} : { namespace: row.namespace }),
      name: row.name,
      body: JSON.parse(row.body) as Record<string, unknown>,
      version: row.version,
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
    };
  }

  private row(kind: DocKind, namespace: string, name: string): DocRow | undefined {
    return this.db.prepare('SELECT * FROM docs WHERE kind = ? AND namespace = ? AND name = ?').get(kind, namespace, name) as
      DocRow | undefined;
  }

  /** Creates or replaces a document (compare-and-set with opts.ifVersion). */
  put(kind: DocKind, namespace: string, name: string, body: Readonly<Record<string, unknown>>, opts?: WriteOptions): DocRecord {
    const json = JSON.stringify(body);
    return this.db
      .transaction(() => {
        const row = this.row(kind, namespace, name);
        if (row !== undefined && !this.authentic(row)) throw this.refuse(row);
        checkVersion(subject(kind, namespace, name), row?.version, opts);
        const now = this.now().getTime();
        const fields = { kind, namespace, name, version: (row?.version ?? 0) + 1, body: json };
        const next: DocRow = { ...fields, mac: docMac(this.macKey, fields), created_at: row?.created_at ?? now, updated_at: now };
        this.db
          .prepare(
            `INSERT INTO docs (kind, namespace, name, version, body, mac, created_at, updated_at)
             VALUES (@kind, @namespace, @name, @version, @body, @mac, @created_at, @updated_at)
             ON CONFLICT (kind, namespace, name) DO UPDATE SET version = excluded.version, body = excluded.body,
               mac = excluded.mac, updated_at = excluded.updated_at`,
          )
          .run(next);
        return this.docOf(next);
      })
      .immediate();
  }

  /** One document; `not_found` if absent, `integrity` if its row does not authenticate. */
  get(kind: DocKind, namespace: string, name: string): DocRecord {
    const row = this.row(kind, namespace, name);
    if (!row) throw new PaiError('not_found', `${subject(kind, namespace, name)} not found`);
    return this.docOf(row);
  }

  /** Every authentic document of a kind in a namespace, by name (rows that fail their MAC are left out and recorded in `refused`). */
  list(kind: DocKind, namespace: string): DocRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM docs WHERE kind = ? AND namespace = ? ORDER BY name')
      .all(kind, namespace) as DocRow[];
    const out: DocRecord[] = [];
    for (const row of rows) {
      if (this.authentic(row)) out.push(this.docOf(row));
      else this.refuse(row);
    }
    return out;
  }

  /** Deletes a document; `not_found` if absent. */
  delete(kind: DocKind, namespace: string, name: string): void {
    const info = this.db.prepare('DELETE FROM docs WHERE kind = ? AND namespace = ? AND name = ?').run(kind, namespace, name);
    if (info.changes === 0) throw new PaiError('not_found', `${subject(kind, namespace, name)} not found`);
  }

  /** Every row that fails its MAC (a scan at start: names only). */
  scan(): { kind: string; namespace: string; name: string }[] {
    for (const row of this.db.prepare('SELECT * FROM docs').all() as DocRow[]) if (!this.authentic(row)) this.refuse(row);
    return [...this.refused];
  }

  /** Recomputes every row's MAC under `key` (master-key rotation, inside its transaction); authentic rows only. */
  remac(key: Buffer): void {
    const update = this.db.prepare('UPDATE docs SET mac = ? WHERE kind = ? AND namespace = ? AND name = ?');
    for (const row of this.db.prepare('SELECT * FROM docs').all() as DocRow[]) {
      if (this.authentic(row)) update.run(docMac(key, row), row.kind, row.namespace, row.name);
    }
  }
}
