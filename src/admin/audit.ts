/**
 * The audit log: one JSON line per admin write, delete and env render, appended synchronously to
 * a 0600 file. A record names who (token id and role), what (action, kind, name, keys) and the
 * outcome; it never holds a value.
 */
import fs from 'node:fs';

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
  | 'masterkey.rotate';

export interface AuditRecord {
  readonly actor: { readonly tokenId: string; readonly role: string };
  readonly action: AuditAction;
  readonly kind?: string;
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

/** Opens (creating with 0600) an append-only audit file. `now` stamps each record. */
export function openAuditLog(file: string, now: () => Date = () => new Date()): AuditLog {
  const fd = fs.openSync(file, 'a', 0o600);
  fs.fchmodSync(fd, 0o600);
  return {
    write(record) {
      const line = JSON.stringify({ time: now().toISOString(), ...record }) + '\n';
      fs.writeSync(fd, line);
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
