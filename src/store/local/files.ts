/**
 * File-system guards of the local store: the data directory (0700) and the master key file
 * (0600, 32 random bytes as hex), both owned by the server's uid. Refuses to start, with the
 * reason, when permissions are too open, the owner is another user or the key file is malformed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../config.js';
import { KEY_BYTES } from './crypto.js';

function modeOf(st: fs.Stats): string {
  return (st.mode & 0o777).toString(8).padStart(4, '0');
}

/** Creates `dir` with mode 0700 if missing; refuses a directory others can read or enter. */
export function ensurePrivateDir(dir: string, variable = 'PAI_DATA_DIR'): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new ConfigError(variable, `${dir} is not a directory`);
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(
      variable,
      `data directory ${dir} has mode ${modeOf(st)}; it holds encrypted secrets and keys and must be 0700 ` +
        `(fix: chmod 700 ${dir})`,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new ConfigError(variable, `data directory ${dir} is owned by uid ${st.uid}, not by this process (uid ${uid})`);
  }
}

/**
 * Refuses a file that group or others can access, or that another user owns (that user could
 * replace its content, e.g. swap the master key for one it knows, before the next start). Throws
 * ConfigError naming `variable`.
 */
export function assertPrivateFile(file: string, variable: string): void {
  const st = fs.statSync(file);
  if (!st.isFile()) throw new ConfigError(variable, `${file} is not a regular file`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new ConfigError(
      variable,
      `${file} is owned by uid ${st.uid}, not by this process (uid ${uid}); it must belong to the user pai serve runs as (fix: chown ${uid} ${file})`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(variable, `${file} has mode ${modeOf(st)}; it must be 0600 (fix: chmod 600 ${file})`);
  }
}

/** Reads a master key file (hex). Throws ConfigError on bad permissions or content. */
export function readKeyFile(file: string, variable = 'PAI_MASTER_KEY_FILE'): Buffer {
  assertPrivateFile(file, variable);
  const text = fs.readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/i.test(text)) {
    throw new ConfigError(variable, `${file} is not a master key (expected ${KEY_BYTES * 2} hex characters)`);
  }
  return Buffer.from(text, 'hex');
}

/** Writes `data` to `file` atomically and durably (temp file, fsync, rename, fsync directory), mode 0600. */
export function writeFileDurably(file: string, data: string | Buffer): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDir(dir);
}

/** fsyncs a directory so that a rename or create in it survives a crash. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Generates a new random master key and writes it to `file` (0600). */
export function generateKeyFile(file: string): Buffer {
  const key = randomBytes(KEY_BYTES);
  writeFileDurably(file, `${key.toString('hex')}\n`);
  return key;
}

/** Where a rotation stages the next master key before it replaces the current one. */
export function nextKeyPath(file: string): string {
  return `${file}.next`;
}
