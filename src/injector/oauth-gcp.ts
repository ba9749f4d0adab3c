/**
 * Google service-account tokens (RFC 7523 JWT bearer grant, as Google's OAuth 2.0 for server to
 * server applications describes it): the Provider's secret key (default `key.json`) holds the
 * service account's JSON key; a JWT `{iss: client_email, scope, aud: <token endpoint>, iat, exp:
 * iat + 1 h}` signed RS256 with its private key (`jose`, kid = private_key_id) is exchanged at the
 * token endpoint: `spec.auth.tokenUrl` when set, else the key's `token_uri`, else Google's.
 * Imported private keys are kept per key fingerprint (importing costs about a millisecond). jose is
 * imported on the first gcp target, so injectors without one do not carry it (docs/PERFORMANCE.md).
 */
import type { CryptoKey } from 'jose';
import { badValue, requireKey } from '../inject/mutation.js';
import type { StrategyOf, ValueSource } from '../inject/mutation.js';
import { GCP_KEY_FILE } from '../providers/gcp.js';
import { endpointUrlProblem } from '../resources/hosts.js';
import type { InjectionTarget } from '../resources/types.js';
import type { TokenRequest } from './oauth-http.js';

export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const JWT_LIFETIME_S = 3600;
const MAX_KEYS = 256;

interface ServiceAccount {
  readonly email: string;
  readonly keyId: string | undefined;
  readonly tokenUri: string | undefined;
  readonly key: CryptoKey;
}

function str(json: Record<string, unknown>, field: string): string | undefined {
  const v = json[field];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

async function parseKey(bytes: Buffer, what: ValueSource): Promise<ServiceAccount> {
  let json: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object');
    json = parsed as Record<string, unknown>;
  } catch {
    throw badValue(what, 'is not a service-account key (not a JSON object)');
  }
  const type = json['type'];
  if (type !== undefined && type !== 'service_account')
    throw badValue(what, 'is not a service-account key ("type" is not "service_account")');
  const email = str(json, 'client_email');
  const pem = str(json, 'private_key');
  if (email === undefined) throw badValue(what, 'is not a service-account key (no client_email)');
  if (pem === undefined) throw badValue(what, 'is not a service-account key (no private_key)');
  const tokenUri = str(json, 'token_uri');
  if (tokenUri !== undefined && endpointUrlProblem(tokenUri) !== undefined) {
    throw badValue(what, 'has a token_uri that is not an https URL (http only to localhost)');
  }
  const { importPKCS8 } = await import('jose');
  let key: CryptoKey;
  try {
    key = await importPKCS8(pem, 'RS256');
  } catch {
    // jose's message is dropped: nothing of a private key belongs in an error.
    throw badValue(what, 'has a private_key that is not an RSA key in PKCS#8 PEM form');
  }
  return { email, keyId: str(json, 'private_key_id'), tokenUri, key };
}

/** Parses and signs for gcp targets; parsed keys are kept per caller-supplied fingerprint. */
export class GcpAssertions {
  private readonly keys = new Map<string, Promise<ServiceAccount>>();

  private account(fingerprint: string, bytes: Buffer, what: ValueSource): Promise<ServiceAccount> {
    const known = this.keys.get(fingerprint);
    if (known) return known;
    const parsing = parseKey(bytes, what);
    this.keys.set(fingerprint, parsing);
    // A key that fails to parse is not kept: the secret may be fixed under the same version later.
    parsing.catch(() => this.keys.delete(fingerprint));
    if (this.keys.size > MAX_KEYS) {
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    return parsing;
  }

  /**
   * The token request of a gcp target at `nowMs`. Throws PaiError `key_missing` or
   * `bad_header_value` for a key that is no usable service-account key (naming secret and key).
   */
  async request(
    target: InjectionTarget,
    auth: StrategyOf<'gcp'>,
    values: ReadonlyMap<string, Buffer>,
    fingerprint: string,
    what: string,
    nowMs: number,
  ): Promise<TokenRequest> {
    const keyName = target.requiredKeys[0] ?? GCP_KEY_FILE;
    const source = { secret: target.secret, key: keyName };
    const sa = await this.account(fingerprint, requireKey(values, target.secret, keyName), source);
    const url = auth.tokenUrl ?? sa.tokenUri ?? GOOGLE_TOKEN_URL;
    const iat = Math.floor(nowMs / 1000);
    const { SignJWT } = await import('jose');
    const assertion = await new SignJWT({ scope: auth.scope })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(sa.keyId === undefined ? {} : { kid: sa.keyId }) })
      .setIssuer(sa.email)
      .setAudience(url)
      .setIssuedAt(iat)
      .setExpirationTime(iat + JWT_LIFETIME_S)
      .sign(sa.key);
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
    return { what, url, form };
  }
}
