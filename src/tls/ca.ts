/**
 * The pai CA: one ECDSA P-256 certificate authority per installation, trusted only inside agent
 * containers (through the rendered CA bundle), used only to sign the short-lived leaves the sidecar
 * presents for the agent's own hosts. Its key is created here, kept by the store as an encrypted
 * secret (src/tls/ca-state.ts), and never printed (src/tls/secret-pem.ts).
 *
 * Choices, each narrowing what the key can vouch for should it ever be stolen:
 * - basicConstraints CA:TRUE, pathLen 0 (critical): it signs leaves, never another CA.
 * - keyUsage keyCertSign + cRLSign (critical): nothing else.
 * - extendedKeyUsage serverAuth: validators that check EKU along the chain (OpenSSL's purpose
 *   check, Go, Windows) then refuse client, code- or mail-signing certificates made under it.
 * - nameConstraints (critical) excluding every IPv4 and IPv6 address: leaves certify DNS names
 *   only (src/tls/sans.ts), so a forged leaf for an IP address fails every validator. Permitted
 *   DNS subtrees are not used: the set of hosts changes with every binding, and a CA re-issued on
 *   each change would have to be redistributed to every agent container.
 * - The name carries a short id, the first 8 hex digits of SHA-256 over the public key
 *   (SubjectPublicKeyInfo), so two CAs (before and after a rotation) are told apart at a glance,
 *   and anyone can recompute the id from the certificate.
 * - Validity: 5 years by default. A CA that expires breaks every agent at once and its rotation
 *   needs the bundle redistributed, while the key it protects sits in the same store as every
 *   credential (a thief of the store needs no CA). Rotation is for compromise or policy.
 */
import { type KeyObject, X509Certificate, createHash, createPrivateKey, randomBytes, sign, verify } from 'node:crypto';
import { promisify } from 'node:util';
import { PaiError } from '../errors.js';
import {
  KEY_USAGE,
  OID,
  authorityKeyIdOf,
  authorityKeyIdentifier,
  basicConstraints,
  certificateParts,
  distinguishedName,
  excludeAllIpAddresses,
  extKeyUsage,
  keyIdentifierOf,
  keyUsage,
  newP256KeyPair,
  signCertificate,
  subjectKeyIdentifier,
  type Extension,
} from './certificate.js';
import { SecretPem, fromPem, toPem } from './secret-pem.js';

const DAY_MS = 86_400_000;
export const DEFAULT_CA_VALIDITY_MS = 1826 * DAY_MS;
/** notBefore is back-dated by this much, so that a client whose clock is behind still accepts. */
export const DEFAULT_SKEW_MS = 5 * 60_000;
export const SERVER_AUTH = OID.serverAuth;
const ORGANIZATION = 'pai-secrets';

/** A CA as created: its certificate and its key (the key only ever goes to the store). */
export interface NewCa {
  readonly id: string;
  readonly certPem: string;
  readonly key: SecretPem;
}

/** A CA ready to sign leaves. */
export interface SigningCa {
  readonly id: string;
  readonly certPem: string;
  /** The CA's subject exactly as its certificate encodes it: every leaf's issuer. */
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly privateKey: KeyObject;
  /** The authorityKeyIdentifier every leaf of this CA carries (computed once). */
  readonly authorityKeyId: Extension;
}

/**
 * A random positive 128-bit serial number, hex (RFC 5280 allows 20 octets; CA/B asks for at least
 * 64 random bits). The top bit is cleared so the DER INTEGER needs no sign octet, and the next one
 * set so the length is always 16 octets: 126 random bits.
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/** The short id of a CA: first 8 hex digits of SHA-256 over its DER SubjectPublicKeyInfo. */
export function caIdOf(spkiDer: ArrayBuffer | Uint8Array): string {
  const bytes = spkiDer instanceof ArrayBuffer ? new Uint8Array(spkiDer) : spkiDer;
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

/** The id of the CA whose certificate is `certPem` (node:crypto parses it). */
export function caIdOfPem(certPem: string): string {
  return caIdOf(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' }));
}

/** Creates a CA valid from `now - skewMs` for `validityMs`. Resolves with its certificate and (wrapped) key. */
export async function createCa(now: number, options: { validityMs?: number; skewMs?: number } = {}): Promise<NewCa> {
  const validityMs = options.validityMs ?? DEFAULT_CA_VALIDITY_MS;
  if (!(validityMs > 0)) throw new PaiError('invalid', 'the CA validity must be a positive duration');
  const keys = await newP256KeyPair();
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  const id = caIdOf(spki);
  const name = distinguishedName([
    [OID.commonName, `pai CA ${id}`],
    [OID.organization, ORGANIZATION],
  ]);
  const der = await signCertificate(
    {
      serialHex: randomSerial(),
      subject: name,
      issuer: name,
      notBefore: new Date(now - (options.skewMs ?? DEFAULT_SKEW_MS)),
      notAfter: new Date(now + validityMs),
      subjectPublicKeyInfo: spki,
      extensions: [
        basicConstraints(true, 0),
        keyUsage([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
        extKeyUsage([SERVER_AUTH]),
        excludeAllIpAddresses(),
        subjectKeyIdentifier(keyIdentifierOf(spki)),
      ],
    },
    keys.privateKey,
  );
  const pkcs8 = keys.privateKey.export({ type: 'pkcs8', format: 'der' });
  return { id, certPem: toPem('CERTIFICATE', der), key: new SecretPem(toPem('PRIVATE KEY', pkcs8)) };
}

/**
 * Opens a stored CA for signing: parses the certificate and the key, checks the key is P-256 and
 * proves that the two belong together (a signature made with the key verifies with the
 * certificate). Throws PaiError `integrity` when they do not, or either does not parse; the
 * message never quotes the key.
 */
export async function openSigningCa(certPem: string, key: SecretPem): Promise<SigningCa> {
  let cert: X509Certificate;
  let privateKey: KeyObject;
  let parts: ReturnType<typeof certificateParts>;
  try {
    cert = new X509Certificate(certPem);
    parts = certificateParts(cert.raw);
    const der = fromPem('PRIVATE KEY', key.reveal());
    if (der === undefined) throw new Error('no PRIVATE KEY block');
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new PaiError('integrity', 'the stored pai CA does not parse (certificate or key)', { cause: redactCause(cause) });
  }
  const id = caIdOf(parts.subjectPublicKeyInfo);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new PaiError('integrity', `the stored key of pai CA ${id} is not an ECDSA P-256 key`);
  }
  const challenge = randomBytes(32);
  const signature = await promisify(sign)('sha256', challenge, privateKey);
  if (!verify('sha256', challenge, cert.publicKey, signature)) {
    throw new PaiError('integrity', `the stored key of pai CA ${id} does not match its certificate`);
  }
  return {
    id,
    certPem,
    subject: parts.subject,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    privateKey,
    authorityKeyId: authorityKeyIdentifier(authorityKeyIdOf(parts)),
  };
}

/**
 * A library error may quote its input; when that input was the key, the message must not travel
 * on as a cause (causes are logged). Keep only the error's class name.
 */
function redactCause(cause: unknown): Error {
  return new Error(cause instanceof Error ? `${cause.name} (message withheld)` : 'error (message withheld)');
}
