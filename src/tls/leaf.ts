/**
 * Leaf certificates: one per agent, naming exactly the agent's certifiable hosts (src/tls/sans.ts),
 * for TLS servers only, short-lived. The leaf's key is made here, fresh for every leaf, and leaves
 * this module only wrapped (SecretPem) on its way into an SDS answer.
 *
 * - serverAuth EKU, keyUsage digitalSignature (critical; ECDSA keys sign, they never encipher),
 *   basicConstraints CA:FALSE (critical), authorityKeyIdentifier. No subjectKeyIdentifier: nothing
 *   chains to a leaf, the CA/Browser Forum baseline requirements (7.1.2.7) no longer recommend it
 *   for leaves, and it costs a digest per issue.
 * - Lifetime 24 h by default: a leaf that leaks is worth a day at most, and renewal is automatic
 *   (src/injector/sds-leaves.ts). notBefore is back-dated by the skew allowance; notAfter never
 *   passes the CA's own notAfter (a chain is only as valid as its shortest link).
 * - Subject: CN is the first SAN when it fits the 64-character CN limit (RFC 5280 ub-common-name),
 *   for humans reading the certificate; clients match against the SANs only (RFC 6125 §6.4.4).
 *   The agent's name is not put in the certificate: the agent could read it, and nothing checks it.
 */
import { PaiError } from '../errors.js';
import { type SigningCa, DEFAULT_SKEW_MS, SERVER_AUTH, randomSerial } from './ca.js';
import { type SkippedHost, planSans } from './sans.js';
import { SecretPem, toPem } from './secret-pem.js';
import { type AgentId, agentKey } from './types.js';
import {
  KEY_USAGE,
  OID,
  basicConstraints,
  distinguishedName,
  dnsSubjectAltName,
  extKeyUsage,
  keyUsage,
  newP256KeyPair,
  signCertificate,
} from './certificate.js';

export const DEFAULT_LEAF_LIFETIME_MS = 24 * 3_600_000;
const MAX_CN = 64;

export interface LeafOptions {
  readonly lifetimeMs?: number;
  readonly skewMs?: number;
}

/** A leaf as issued. `key` is the only secret part. */
export interface IssuedLeaf {
  readonly agent: AgentId;
  readonly caId: string;
  readonly serial: string;
  readonly dnsNames: readonly string[];
  /** Host patterns left out of the SANs, with the reason (to log; host names are not secrets). */
  readonly skipped: readonly SkippedHost[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly certPem: string;
  /** The leaf, then the CA that signed it: Envoy's certificate_chain. */
  readonly chainPem: string;
  readonly key: SecretPem;
}

/**
 * Issues a leaf for `agent` naming its certifiable `hosts`, valid from `now - skew` to
 * `now + lifetime` (capped at the CA's notAfter). Throws PaiError `invalid` when no host is
 * certifiable or the lifetime is not positive, `internal` when the CA has expired.
 */
export async function issueLeaf(
  ca: SigningCa,
  agent: AgentId,
  hosts: readonly string[],
  now: number,
  options: LeafOptions = {},
): Promise<IssuedLeaf> {
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS;
  if (!(lifetimeMs > 0)) throw new PaiError('invalid', 'the leaf lifetime must be a positive duration');
  const { dnsNames, skipped } = planSans(hosts);
  const first = dnsNames[0];
  if (first === undefined) {
    throw new PaiError('invalid', `agent ${agentKey(agent)} has no host that can be certified`, {
      details: { agent: agentKey(agent), skipped: skipped.map((s) => s.host) },
    });
  }
  if (now >= ca.notAfter.getTime()) {
    throw new PaiError('internal', `pai CA ${ca.id} expired at ${ca.notAfter.toISOString()}; rotate it (pai rotate ca)`);
  }
  const keys = await newP256KeyPair();
  const notBefore = new Date(now - (options.skewMs ?? DEFAULT_SKEW_MS));
  const notAfter = new Date(Math.min(now + lifetimeMs, ca.notAfter.getTime()));
  const organization = [OID.organization, 'pai-secrets'] as const;
  const subject = distinguishedName(first.length <= MAX_CN ? [[OID.commonName, first], organization] : [organization]);
  const serial = randomSerial();
  const der = await signCertificate(
    {
      serialHex: serial,
      subject,
      issuer: ca.subject,
      notBefore,
      notAfter,
      subjectPublicKeyInfo: keys.publicKey.export({ type: 'spki', format: 'der' }),
      extensions: [
        basicConstraints(false),
        keyUsage([KEY_USAGE.digitalSignature]),
        extKeyUsage([SERVER_AUTH]),
        dnsSubjectAltName(dnsNames),
        ca.authorityKeyId,
      ],
    },
    ca.privateKey,
  );
  const certPem = toPem('CERTIFICATE', der);
  const key = new SecretPem(toPem('PRIVATE KEY', keys.privateKey.export({ type: 'pkcs8', format: 'der' })));
  return {
    agent,
    caId: ca.id,
    serial,
    dnsNames,
    skipped,
    notBefore,
    notAfter,
    certPem,
    chainPem: certPem + ca.certPem,
    key,
  };
}
