/**
 * The local store's SQL: the schema, SQLite failures as PaiErrors, and the documents table
 * (agents, providers, modelproviders, tokens as JSON), kept apart from the sealed secrets.
 * Synchronous (better-sqlite3); the store wraps each call into its promise-returning interface.
 */
import type Database from 'better-sqlite3';
import { PaiError } from '../../errors.js';
import type { DocKind, DocRecord, WriteOptions } from '../types.js';
import { checkVersion, docSubject } from '../validate.js';

export interface DocRow {
  kind: string;
  name: string;
  version: number;
  body: string;
  created_at: number;
  updated_at: number;
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS secrets (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  keys TEXT NOT NULL,
  wrapped_key BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
-- The last version of each deleted secret, so that a re-created secret never reuses a version
-- (a sealed record of the old secret can then never be replayed onto the new one).
CREATE TABLE IF NOT EXISTS tombstones (name TEXT PRIMARY KEY, last_version INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS docs (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (kind, name)
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

/** The documents table. Every method throws PaiError (`not_found`, `conflict`). */
export class LocalDocuments {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => Date,
  ) {}

  private docOf(row: DocRow): DocRecord {
    return {
      kind: row.kind as DocKind,
      name: row.name,
      body: JSON.parse(row.body) as Record<string, unknown>,
      version: row.version,
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
    };
  }

  /** Creates or replaces a document (compare-and-set with opts.ifVersion). */
  put(kind: DocKind, name: string, body: Readonly<Record<string, unknown>>, opts?: WriteOptions): DocRecord {
    const json = JSON.stringify(body);
    return this.db
      .transaction(() => {
        const row = this.db.prepare('SELECT * FROM docs WHERE kind = ? AND name = ?').get(kind, name) as DocRow | undefined;
        checkVersion(`${kind}/${name}`, row?.version, opts);
        const now = this.now().getTime();
        const next: DocRow = {
          kind,
          name,
          version: (row?.version ?? 0) + 1,
          body: json,
          created_at: row?.created_at ?? now,
          updated_at: now,
        };
        this.db
          .prepare(
            `INSERT INTO docs (kind, name, version, body, created_at, updated_at) VALUES (@kind, @name, @version, @body, @created_at, @updated_at)
             ON CONFLICT (kind, name) DO UPDATE SET version = excluded.version, body = excluded.body, updated_at = excluded.updated_at`,
          )
          .run(next);
        return this.docOf(next);
      })
      .immediate();
  }

  /** One document; `not_found` if absent. */
  get(kind: DocKind, name: string): DocRecord {
    const row = this.db.prepare('SELECT * FROM docs WHERE kind = ? AND name = ?').get(kind, name) as DocRow | undefined;
    if (!row) throw new PaiError('not_found', `${docSubject(kind, name)} not found`);
    return this.docOf(row);
  }

  /** Every document of a kind, by name. */
  list(kind: DocKind): DocRecord[] {
    return (this.db.prepare('SELECT * FROM docs WHERE kind = ? ORDER BY name').all(kind) as DocRow[]).map((r) => this.docOf(r));
  }

  /** Deletes a document; `not_found` if absent. */
  delete(kind: DocKind, name: string): void {
    const info = this.db.prepare('DELETE FROM docs WHERE kind = ? AND name = ?').run(kind, name);
    if (info.changes === 0) throw new PaiError('not_found', `${docSubject(kind, name)} not found`);
  }
}
