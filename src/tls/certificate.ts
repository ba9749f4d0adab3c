/**
 * X.509 v3 certificates (RFC 5280) built and read with src/tls/der.ts and node:crypto: the pai CA
 * and its leaves are the only certificates pai makes, always ECDSA P-256 signed with SHA-256
 * (RFC 5758: the algorithm identifier carries no parameters). Keys are node:crypto KeyObjects;
 * generation and signing run on libuv's thread pool, off the event loop.
 *
 * Extensions are built from plain values (`Extension`), so each CA and leaf profile reads as a
 * list (ca.ts, leaf.ts). Reading goes only as deep as pai needs: the raw subject (a leaf's issuer
 * must be byte-identical to its CA's subject), the public key, and the extensions by OID.
 */
import { type KeyObject, createHash, generateKeyPair, sign } from 'node:crypto';
import { promisify } from 'node:util';
import {
  DerError,
  TAG,
  bitStringOctets,
  boolean,
  children,
  explicit,
  implicitConstructed,
  implicitPrimitive,
  namedBits,
  octetString,
  oid,
  oidText,
  readTlv,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der.js';

export const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** keyUsage bit numbers (RFC 5280 4.2.1.3). */
export const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** One extension: its OID, criticality and the DER of its value (what the OCTET STRING wraps). */
export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

export const basicConstraints = (ca: boolean, pathLength?: number): Extension => ({
  oid: OID.basicConstraints,
  critical: true,
  // cA DEFAULT FALSE is omitted when false (DER never encodes a default).
  value: ca ? sequence(boolean(true), ...(pathLength === undefined ? [] : [smallInteger(pathLength)])) : sequence(),
});

export const keyUsage = (bits: readonly number[]): Extension => ({ oid: OID.keyUsage, critical: true, value: namedBits(bits) });

export const extKeyUsage = (purposes: readonly string[]): Extension => ({
  oid: OID.extKeyUsage,
  critical: false,
  value: sequence(...purposes.map(oid)),
});

/** subjectAltName of dNSName entries ([2] IA5String); the names are checked by src/tls/sans.ts. */
export const dnsSubjectAltName = (names: readonly string[]): Extension => ({
  oid: OID.subjectAltName,
  critical: false,
  value: sequence(...names.map((n) => implicitPrimitive(2, Buffer.from(n, 'ascii')))),
});

export const subjectKeyIdentifier = (keyId: Buffer): Extension => ({
  oid: OID.subjectKeyIdentifier,
  critical: false,
  value: octetString(keyId),
});

export const authorityKeyIdentifier = (keyId: Buffer): Extension => ({
  oid: OID.authorityKeyIdentifier,
  critical: false,
  value: sequence(implicitPrimitive(0, keyId)),
});

/** nameConstraints excluding every IPv4 and IPv6 address (iPAddress: address then mask, all zero). */
export const excludeAllIpAddresses = (): Extension => ({
  oid: OID.nameConstraints,
  critical: true,
  value: sequence(
    implicitConstructed(1, sequence(implicitPrimitive(7, Buffer.alloc(8))), sequence(implicitPrimitive(7, Buffer.alloc(32)))),
  ),
});

/** A distinguished name of UTF8String attributes, one per RDN, in order. */
export function distinguishedName(attributes: ReadonlyArray<readonly [string, string]>): Buffer {
  return sequence(...attributes.map(([type, value]) => set(sequence(oid(type), utf8String(value)))));
}

export interface CertificateFields {
  /** Hex of a positive serial (randomSerial in ca.ts). */
  readonly serialHex: string;
  /** DER Name of the issuer: for a leaf, its CA's subject exactly as encoded there. */
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER SubjectPublicKeyInfo of the certified key. */
  readonly subjectPublicKeyInfo: Buffer;
  readonly extensions: readonly Extension[];
}

const ECDSA_WITH_SHA256 = sequence(oid(OID.ecdsaWithSha256));
const signAsync = promisify(sign);
const generateKeyPairAsync = promisify(generateKeyPair);

/** A fresh ECDSA P-256 key pair. */
export function newP256KeyPair(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return generateKeyPairAsync('ec', { namedCurve: 'P-256' });
}

function encodeExtension(e: Extension): Buffer {
  return sequence(oid(e.oid), ...(e.critical ? [boolean(true)] : []), octetString(e.value));
}

/** The DER certificate: `fields` as a v3 TBSCertificate signed by `signingKey` (ECDSA P-256, SHA-256). */
export async function signCertificate(fields: CertificateFields, signingKey: KeyObject): Promise<Buffer> {
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(Buffer.from(fields.serialHex, 'hex')),
    ECDSA_WITH_SHA256,
    fields.issuer,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    fields.subjectPublicKeyInfo,
    explicit(3, sequence(...fields.extensions.map(encodeExtension))),
  );
  // node:crypto's ECDSA signatures are DER Ecdsa-Sig-Value by default, which X.509 wants.
  const signature = await signAsync('sha256', tbs, signingKey);
  return sequence(tbs, ECDSA_WITH_SHA256, bitStringOctets(signature));
}

/** The parts of a certificate pai reads. */
export interface CertificateParts {
  /** The subject Name exactly as encoded. */
  readonly subject: Buffer;
  /** The SubjectPublicKeyInfo exactly as encoded. */
  readonly subjectPublicKeyInfo: Buffer;
  readonly extensions: ReadonlyMap<string, { readonly critical: boolean; readonly value: Buffer }>;
}

/** Reads `der` as far as CertificateParts. Throws DerError when it is not a well-formed certificate. */
export function certificateParts(der: Uint8Array): CertificateParts {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const outer = readTlv(buf);
  if (outer.tag !== TAG.sequence || outer.encoded.length !== buf.length) throw new DerError('not a DER certificate');
  const tbs = children(outer.content)[0];
  if (tbs?.tag !== TAG.sequence) throw new DerError('no TBSCertificate');
  const fields = children(tbs.content);
  const at = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[at + 4];
  const spki = fields[at + 5];
  if (subject?.tag !== TAG.sequence || spki?.tag !== TAG.sequence) throw new DerError('TBSCertificate is missing fields');
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  const wrapped = fields.slice(at + 6).find((f) => f.tag === 0xa3);
  if (wrapped !== undefined) {
    const list = readTlv(wrapped.content);
    if (list.tag !== TAG.sequence) throw new DerError('extensions are not a SEQUENCE');
    for (const ext of children(list.content)) {
      const parts = children(ext.content);
      const id = parts[0];
      const critical = parts.length === 3 && parts[1]?.tag === TAG.boolean && parts[1].content[0] !== 0;
      const value = parts[parts.length - 1];
      if (id?.tag !== TAG.oid || value?.tag !== TAG.octetString) throw new DerError('malformed extension');
      const key = oidText(id.content);
      if (extensions.has(key)) throw new DerError(`extension ${key} appears twice`);
      extensions.set(key, { critical, value: value.content });
    }
  }
  return { subject: subject.encoded, subjectPublicKeyInfo: spki.encoded, extensions };
}

/** The subjectPublicKey bits of a SubjectPublicKeyInfo (the EC point for P-256). */
export function publicKeyBits(subjectPublicKeyInfo: Buffer): Buffer {
  const bits = children(readTlv(subjectPublicKeyInfo).content)[1];
  if (bits?.tag !== TAG.bitString) throw new DerError('SubjectPublicKeyInfo has no BIT STRING');
  return bits.content.subarray(1);
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 over the subjectPublicKey bits. */
export function keyIdentifierOf(subjectPublicKeyInfo: Buffer): Buffer {
  return createHash('sha1').update(publicKeyBits(subjectPublicKeyInfo)).digest();
}

/**
 * The key identifier a certificate's children must name as their authority: its
 * subjectKeyIdentifier when present (RFC 5280 4.2.1.1), else method 1 over its key.
 */
export function authorityKeyIdOf(parts: CertificateParts): Buffer {
  const ski = parts.extensions.get(OID.subjectKeyIdentifier);
  if (ski === undefined) return keyIdentifierOf(parts.subjectPublicKeyInfo);
  const id = readTlv(ski.value);
  if (id.tag !== TAG.octetString) throw new DerError('subjectKeyIdentifier is not an OCTET STRING');
  return id.content;
}

/** The uniformResourceIdentifier entries ([6] IA5String) of a certificate's subjectAltName, in order. */
export function uriSubjectAltNames(parts: CertificateParts): string[] {
  const san = parts.extensions.get(OID.subjectAltName);
  if (san === undefined) return [];
  const names = readTlv(san.value);
  if (names.tag !== TAG.sequence) throw new DerError('subjectAltName is not a SEQUENCE');
  return children(names.content)
    .filter((n) => n.tag === 0x86)
    .map((n) => n.content.toString('ascii'));
}
