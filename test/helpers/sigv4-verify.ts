/**
 * An independent SigV4 verifier for tests: recomputes the canonical request, string to sign and
 * signature with node:crypto, the way an AWS endpoint does, without @smithy/signature-v4. The
 * end-to-end suites run it in their fake AWS upstream; the unit suite checks it against AWS's
 * published test vectors, so a bug shared by the signer and this file would still show up there.
 * Written by hand on purpose (the point is not to reuse the library under test).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The example credentials and time of AWS's SigV4 test suite (service "service", us-east-1). */
export const AWS_SUITE = Object.freeze({
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  now: new Date('2015-08-30T12:36:00Z'),
});

/** secretFor of the test-suite credentials. */
export function suiteSecretFor(accessKeyId: string): string | undefined {
  return accessKeyId === AWS_SUITE.accessKeyId ? AWS_SUITE.secretAccessKey : undefined;
}

/**
 * The headers an upstream receives after an injector mutation: `Host: host`, the agent's headers
 * minus those removed (and minus its own host), then those set, in order.
 */
export function upstreamHeaders(
  host: string,
  headers: readonly (readonly [string, string])[],
  m: { readonly set: readonly { readonly name: string; readonly value: string }[]; readonly remove: readonly string[] },
): [string, string][] {
  const kept = headers.filter(([n]) => !m.remove.includes(n.toLowerCase()) && n.toLowerCase() !== 'host');
  return [
    ['host', host],
    ...kept.map(([n, v]): [string, string] => [n, v]),
    ...m.set.map(({ name, value }): [string, string] => [name, value]),
  ];
}

export type HeaderInput =
  readonly (readonly [string, string])[] | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface SigV4VerifyInput {
  readonly method: string;
  /** The request target as received: path and query. */
  readonly path: string;
  /** Pairs (best: keeps repeated headers apart) or a Node-style header record. */
  readonly headers: HeaderInput;
  readonly body: Buffer;
  /** The secret for an access key id, or undefined for an unknown key. */
  readonly secretFor: (accessKeyId: string) => string | undefined;
  /** When given, x-amz-date must be within `maxSkewMs` (default 15 min) of it. */
  readonly now?: Date;
  readonly maxSkewMs?: number;
  readonly expectService?: string;
  readonly expectRegion?: string;
  /** When given, the request must carry (and sign) exactly this session token. */
  readonly expectSessionToken?: string;
}

export interface SigV4Verdict {
  readonly ok: boolean;
  /** Why verification failed ('' when ok). */
  readonly reason: string;
  readonly accessKeyId?: string;
  readonly service?: string;
  readonly region?: string;
  readonly signedHeaders?: readonly string[];
  readonly canonicalRequest?: string;
  readonly stringToSign?: string;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** Pairs from Node's `req.rawHeaders` (name, value, name, value, …). */
export function pairsFromRawHeaders(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] ?? '', raw[i + 1] ?? '']);
  return out;
}

function valuesOf(headers: HeaderInput, name: string): string[] {
  if (Array.isArray(headers)) {
    return (headers as readonly (readonly [string, string])[]).filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  }
  const out: string[] = [];
  for (const [n, v] of Object.entries(headers as Readonly<Record<string, string | readonly string[] | undefined>>)) {
    if (n.toLowerCase() !== name || v === undefined) continue;
    if (typeof v === 'string') out.push(v);
    else out.push(...v);
  }
  return out;
}

/** AWS URI-encoding: every byte but A–Z a–z 0–9 - _ . ~ as %XX (upper-case hex). */
export function awsUriEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The canonical URI: S3 signs the path as sent; other services the normalised path, encoded again. */
export function canonicalUri(path: string, service: string): string {
  if (service === 's3') return path.length === 0 ? '/' : path;
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${segments.map(awsUriEncode).join('/')}${trailing}`;
}

/** The canonical query string: decoded, AWS-encoded, sorted by name then value. */
export function canonicalQuery(query: string): string {
  const pairs: [string, string][] = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = decodeURIComponent(eq === -1 ? piece : piece.slice(0, eq));
    const value = eq === -1 ? '' : decodeURIComponent(piece.slice(eq + 1));
    pairs.push([awsUriEncode(name), awsUriEncode(value)]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** The SigV4 signing key for a date (YYYYMMDD), region and service. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

function fail(reason: string, partial: Partial<SigV4Verdict> = {}): SigV4Verdict {
  return { ok: false, reason, ...partial };
}

/** Verifies the SigV4 Authorization header of a request; never throws. */
export function verifySigV4(input: SigV4VerifyInput): SigV4Verdict {
  const [authorization, ...extraAuth] = valuesOf(input.headers, 'authorization');
  if (authorization === undefined) return fail('no authorization header');
  if (extraAuth.length > 0) return fail('more than one authorization header');
  const m = AUTH.exec(authorization);
  if (m === null) return fail('authorization header is not AWS4-HMAC-SHA256');
  const [accessKeyId, date, region, service, terminator, ...more] = (m[1] ?? '').split('/');
  if (!accessKeyId || !date || !region || !service || terminator !== 'aws4_request' || more.length > 0) {
    return fail('malformed credential scope');
  }
  const signedHeaders = (m[2] ?? '').split(';');
  const given = m[3] ?? '';
  const base = { accessKeyId, service, region, signedHeaders };
  if (input.expectService !== undefined && service !== input.expectService) return fail(`service ${service}`, base);
  if (input.expectRegion !== undefined && region !== input.expectRegion) return fail(`region ${region}`, base);
  const sorted = [...signedHeaders].sort();
  if (signedHeaders.join(';') !== sorted.join(';')) return fail('signed headers not sorted', base);
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) return fail(`${required} is not signed`, base);
  }
  const [amzDate] = valuesOf(input.headers, 'x-amz-date');
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate)) return fail('bad x-amz-date', base);
  if (!amzDate.startsWith(date)) return fail('scope date differs from x-amz-date', base);
  if (input.now !== undefined) {
    const iso = `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13)}`;
    if (Math.abs(Date.parse(iso) - input.now.getTime()) > (input.maxSkewMs ?? 15 * 60_000))
      return fail('request time skewed', base);
  }
  const tokens = valuesOf(input.headers, 'x-amz-security-token');
  if (tokens.length > 0 && !signedHeaders.includes('x-amz-security-token')) return fail('session token not signed', base);
  if (input.expectSessionToken !== undefined && (tokens.length !== 1 || tokens[0] !== input.expectSessionToken)) {
    return fail('session token missing or different', base);
  }
  const secret = input.secretFor(accessKeyId);
  if (secret === undefined) return fail('unknown access key', base);

  const bodyHash = sha256Hex(input.body);
  const [declared] = valuesOf(input.headers, 'x-amz-content-sha256');
  if (declared !== undefined && declared !== 'UNSIGNED-PAYLOAD' && declared !== bodyHash)
    return fail('payload hash mismatch', base);
  const canonicalHeaders = signedHeaders.map((name) => {
    const values = valuesOf(input.headers, name);
    return `${name}:${values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}\n`;
  });
  const q = input.path.indexOf('?');
  let query: string;
  try {
    query = canonicalQuery(q === -1 ? '' : input.path.slice(q + 1));
  } catch {
    return fail('malformed query', base);
  }
  const canonicalRequest = [
    input.method,
    canonicalUri(q === -1 ? input.path : input.path.slice(0, q), service),
    query,
    canonicalHeaders.join(''),
    signedHeaders.join(';'),
    declared ?? bodyHash,
  ].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    `${date}/${region}/${service}/aws4_request`,
    sha256Hex(canonicalRequest),
  ].join('\n');
  const expected = createHmac('sha256', signingKey(secret, date, region, service))
    .update(stringToSign, 'utf8')
    .digest();
  const ok = timingSafeEqual(expected, Buffer.from(given, 'hex'));
  return { ok, reason: ok ? '' : 'signature mismatch', ...base, canonicalRequest, stringToSign };
}
