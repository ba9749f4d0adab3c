/**
 * Shared helpers for the secrets suites: expected values kept by the test, and checks that open the
 * local store in-process (LocalStore.open on a data dir, with no server running) and compare bytes.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { LocalStore } from '../../src/store/local/sqlite-store.js';

/** name → key → value: what the test wrote and expects to read back. */
export type Expected = Map<string, Map<string, Buffer>>;

/** A value with every byte 0..255 (NUL, CR, LF, `=`, invalid UTF-8) plus random tail. */
export function awkwardBytes(extra = 16): Buffer {
  return Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(extra)]);
}

/** Opens the local store of `dataDir` with its default key file (master.key). */
export function openLocal(dataDir: string, options: { onRotationStep?: (step: string) => void } = {}): LocalStore {
  return LocalStore.open({ dataDir, masterKeyFile: path.join(dataDir, 'master.key'), ...options });
}

/** Creates `count` secrets named `${prefix}-N` with random values; returns what was written. */
export async function seedSecrets(store: LocalStore, count: number, prefix = 'seed'): Promise<Expected> {
  const expected: Expected = new Map();
  for (let i = 0; i < count; i++) {
    const data = new Map([
      ['value', randomBytes(8 + (i % 64))],
      ['id', Buffer.from(`${prefix}-${i}`)],
    ]);
    const name = `${prefix}-${i}`;
    await store.createSecret('default', name, data);
    expected.set(name, data);
  }
  return expected;
}

/**
 * Asserts that `store` holds exactly the secrets of `expected` with byte-identical values (extra
 * secrets are allowed when `exact` is false).
 */
export async function assertSecrets(t: ExecutionContext, store: LocalStore, expected: Expected, exact = true): Promise<void> {
  const listed = (await store.listSecrets('default')).map((m) => m.name);
  if (exact) t.deepEqual(listed, [...expected.keys()].sort(), 'the store lists exactly the expected secrets');
  let mismatches = 0;
  for (const [name, data] of expected) {
    const record = await store.readSecret('default', name);
    const same = record.data.size === data.size && [...data].every(([k, v]) => record.data.get(k)?.equals(v) === true);
    if (!same) mismatches++;
  }
  t.is(mismatches, 0, `every one of ${expected.size} secrets reads back byte for byte`);
}
