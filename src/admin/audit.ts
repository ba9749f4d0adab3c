/**
 * The audit log: one JSON line per admin write, delete and env render, appended synchronously to
 * a 0600 file. A record names who (token id and role), what (action, kind, name, keys) and the
 * outcome; it never holds a value.
 */
import fs from 'node:fs';
import { PaiError } from '../errors.js';

export type AuditAction =
  | 'secret.create'
  | 'secret.replace'
  | 'secret.patch'
  | 'secret.delete'
  | 'resource.apply'
  | 'resource.delete'
  | 'env.render'
  | 'token.create'
  | 'token.delete'
  | 'masterkey.rotate'
  | 'ca.rotate';

export interface AuditRecord {
  readonly actor: { readonly tokenId: string; readonly role: string };
  readonly action: AuditAction;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
  /** Key names only. */
  readonly keys?: readonly string[];
  readonly outcome: 'ok' | 'error';
  /** The error code when outcome is error. */
  readonly code?: string;
  /** Extra value-free facts (secret versions used by a render, forced delete, broken references). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AuditLog {
  write(record: AuditRecord): void;
  close(): void;
}

/** Why appending to the audit log failed, in words (the errno code is not shown to users otherwise). */
function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk is full';
  if (code === 'EFBIG') return 'the file size limit was reached';
  if (code === 'EIO') return 'an I/O error occurred';
  return `an unexpected error occurred (${typeof code === 'string' ? code : 'unknown'})`;
}

/**
 * Opens (creating with 0600) an append-only audit file. `now` stamps each record. `write` appends
 * a whole line or nothing: a short write (disk full) is rolled back, so that the file never holds
 * a torn record, and it throws PaiError `store_unavailable` naming the file and the reason.
 */
export function openAuditLog(file: string, now: () => Date = () => new Date()): AuditLog {
  const fd = fs.openSync(file, 'a', 0o600);
  fs.fchmodSync(fd, 0o600);
  return {
    write(record) {
      const line = Buffer.from(JSON.stringify({ time: now().toISOString(), ...record }) + '\n');
      // One process appends synchronously, so nothing else writes between the fstat and the write.
      const before = fs.fstatSync(fd).size;
      try {
        // writeSync may write part of the line and return the count (a full disk): keep writing
        // until the whole line is down or the next write throws.
        for (let done = 0; done < line.length;) done += fs.writeSync(fd, line, done);
      } catch (err) {
        try {
          fs.ftruncateSync(fd, before);
        } catch {
          // Nothing more can be done; the reader skips a torn last line.
        }
        throw new PaiError('store_unavailable', `audit log ${file}: cannot append a record: ${reasonOf(err)}`, { cause: err });
      }
    },
    close() {
      fs.closeSync(fd);
    },
  };
}

/** An audit log kept in memory (tests, and `--role injector` which writes nothing). */
export function memoryAuditLog(): AuditLog & { readonly records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return { records, write: (r) => void records.push(r), close: () => undefined };
}
