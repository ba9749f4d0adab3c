/**
 * Envelope encryption for the local store. Each write seals the secret's data with AES-256-GCM
 * under a fresh 256-bit data key; the data key is itself sealed (wrapped) under the master key.
 * Both seals authenticate the secret's name and version as additional data, so a record copied
 * onto another name, or replayed at another version, fails to open.
 *
 * Sealed layout: 12-byte nonce | ciphertext | 16-byte tag. Nonces are random: with a fresh data
 * key per write a data key seals exactly one message, and the master key seals one data key per
 * write, far below the 2^32 random-nonce bound for GCM.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { PaiError } from '../../errors.js';

const NONCE = 12;
const TAG = 16;
export const KEY_BYTES = 32;

function aad(purpose: string, name: string, version: number): Buffer {
  // NUL separators: names cannot contain NUL, so the encoding is unambiguous.
  return Buffer.from(`pai/${purpose}/v1\0${name}\0${version}`, 'utf8');
}

/** Seals `plaintext` under `key` with the given additional data. */
export function seal(key: Buffer, plaintext: Buffer, additional: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(additional);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Opens a sealed buffer; returns undefined when authentication fails. */
export function open(key: Buffer, sealed: Buffer, additional: Buffer): Buffer | undefined {
  if (sealed.length < NONCE + TAG) return undefined;
  const nonce = sealed.subarray(0, NONCE);
  const tag = sealed.subarray(sealed.length - TAG);
  const body = sealed.subarray(NONCE, sealed.length - TAG);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(additional);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** A short, non-secret identifier of a master key (for logs and the key check). */
export function keyId(masterKey: Buffer): string {
  return createHash('sha256').update('pai/key-id/v1\0').update(masterKey).digest('hex').slice(0, 16);
}

const CHECK_PLAINTEXT = Buffer.from('pai master key check', 'utf8');
const CHECK_AAD = Buffer.from('pai/key-check/v1', 'utf8');

/** A sealed marker stored beside the data, proving which master key the database expects. */
export function makeKeyCheck(masterKey: Buffer): Buffer {
  return seal(masterKey, CHECK_PLAINTEXT, CHECK_AAD);
}

/** True when `masterKey` opens the database's key check. */
export function verifyKeyCheck(masterKey: Buffer, check: Buffer): boolean {
  const opened = open(masterKey, check, CHECK_AAD);
  return opened !== undefined && opened.equals(CHECK_PLAINTEXT);
}

export interface SealedSecret {
  readonly wrappedKey: Buffer;
  readonly ciphertext: Buffer;
}

/** Serializes data as JSON of base64 values; the plaintext never leaves this module's callers' memory. */
function encodeData(data: ReadonlyMap<string, Buffer>): Buffer {
  // No prototype: a key named "__proto__" must be an own property like any other.
  const obj: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of data) obj[k] = v.toString('base64');
  return Buffer.from(JSON.stringify(obj), 'utf8');
}

function decodeData(plain: Buffer): Map<string, Buffer> {
  const obj = JSON.parse(plain.toString('utf8')) as Record<string, string>;
  return new Map(Object.entries(obj).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

/** Seals a secret's data for storage at (name, version). */
export function sealSecret(masterKey: Buffer, name: string, version: number, data: ReadonlyMap<string, Buffer>): SealedSecret {
  const dataKey = randomBytes(KEY_BYTES);
  const plain = encodeData(data);
  try {
    return {
      ciphertext: seal(dataKey, plain, aad('data', name, version)),
      wrappedKey: seal(masterKey, dataKey, aad('dek', name, version)),
    };
  } finally {
    dataKey.fill(0);
    plain.fill(0);
  }
}

function integrityError(name: string, version: number): PaiError {
  return new PaiError(
    'integrity',
    `secret "${name}" (version ${version}) failed its integrity check: the record was altered or moved`,
  );
}

/** Opens a secret sealed at (name, version). Throws `integrity` if anything does not authenticate. */
export function openSecret(masterKey: Buffer, name: string, version: number, sealed: SealedSecret): Map<string, Buffer> {
  const dataKey = open(masterKey, sealed.wrappedKey, aad('dek', name, version));
  if (!dataKey || dataKey.length !== KEY_BYTES) throw integrityError(name, version);
  try {
    const plain = open(dataKey, sealed.ciphertext, aad('data', name, version));
    if (!plain) throw integrityError(name, version);
    try {
      return decodeData(plain);
    } finally {
      plain.fill(0);
    }
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps a data key from one master key to another (master-key rotation). */
export function rewrapKey(oldKey: Buffer, newKey: Buffer, name: string, version: number, wrapped: Buffer): Buffer {
  const additional = aad('dek', name, version);
  const dataKey = open(oldKey, wrapped, additional);
  if (!dataKey) throw integrityError(name, version);
  try {
    return seal(newKey, dataKey, additional);
  } finally {
    dataKey.fill(0);
  }
}
