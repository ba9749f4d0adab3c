/**
 * The master key's life cycle on disk: generated on first start, checked against the database at
 * every start, and rotated with crash recovery. During a rotation the next key is staged in
 * `<keyfile>.next`; the database transaction that re-wraps every data key also replaces the key
 * check, so at every instant exactly one of the two files opens the database.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../config.js';
import { PaiError } from '../../errors.js';
import { keyId, verifyKeyCheck } from './crypto.js';
import { generateKeyFile, nextKeyPath, readKeyFile, syncDir } from './files.js';

export interface MasterKeyFiles {
  readonly keyFile: string;
}

/** Points at which a rotation can be interrupted (the tests simulate crashes there). */
export type RotationStep = 'next-key-written' | 'before-commit' | 'after-commit';

const VAR = 'PAI_MASTER_KEY_FILE';

function tryRead(file: string): Buffer | undefined {
  return fs.existsSync(file) ? readKeyFile(file, VAR) : undefined;
}

function promote(files: MasterKeyFiles): void {
  fs.renameSync(nextKeyPath(files.keyFile), files.keyFile);
  syncDir(path.dirname(files.keyFile));
}

/**
 * Returns the master key that opens the database whose key check is `check` (undefined for a new
 * database, in which case the key is read or generated). Finishes or discards an interrupted
 * rotation. Throws ConfigError when no available key opens the database.
 */
export function loadMasterKey(files: MasterKeyFiles, check: Buffer | undefined, expectedId: string | undefined): Buffer {
  const next = nextKeyPath(files.keyFile);
  const current = tryRead(files.keyFile);
  if (!check) {
    if (fs.existsSync(next)) fs.rmSync(next);
    return current ?? generateKeyFile(files.keyFile);
  }
  if (current && verifyKeyCheck(current, check)) {
    // A rotation that did not commit leaves a stale next key: discard it.
    if (fs.existsSync(next)) fs.rmSync(next);
    return current;
  }
  const staged = tryRead(next);
  if (staged && verifyKeyCheck(staged, check)) {
    // The rotation committed but the process stopped before the rename: finish it.
    promote(files);
    return staged;
  }
  const expected = expectedId ? ` (it expects key id ${expectedId})` : '';
  if (!current) {
    throw new ConfigError(
      VAR,
      `master key file ${files.keyFile} is missing, but the database already holds secrets sealed with a master key${expected}`,
    );
  }
  throw new ConfigError(
    VAR,
    `the master key in ${files.keyFile} (key id ${keyId(current)}) does not open the database${expected}; refusing to start`,
  );
}

/**
 * Runs a rotation from the key in use (`current`): stages a new key in `.next`, calls
 * `commit(newKey)` (which must re-wrap every data key and replace the key check in one
 * transaction), then promotes the new key file. Returns the new key. If `commit` throws, the
 * staged key is removed and the old key stays.
 */
export function rotateKeyFiles(
  files: MasterKeyFiles,
  current: Buffer,
  step: (s: RotationStep) => void,
  commit: (newKey: Buffer) => void,
): Buffer {
  const next = nextKeyPath(files.keyFile);
  try {
    fs.accessSync(path.dirname(files.keyFile), fs.constants.W_OK);
  } catch (err) {
    throw new PaiError('internal', `cannot rotate the master key: the directory of ${files.keyFile} is not writable`, {
      cause: err,
    });
  }
  if (fs.existsSync(next)) {
    // A staged key equal to the one in use is from a rotation that committed but failed to promote
    // its file: finish that promotion, never delete the only copy of the key the database needs.
    if (readKeyFile(next, VAR).equals(current)) promote(files);
    else fs.rmSync(next);
  }
  const newKey = generateKeyFile(next);
  step('next-key-written');
  try {
    commit(newKey);
  } catch (err) {
    fs.rmSync(next, { force: true });
    throw err;
  }
  step('after-commit');
  promote(files);
  return newKey;
}
