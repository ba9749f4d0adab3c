/**
 * AWS Signature Version 4 over the buffered request (aws providers, bedrock model providers).
 * The signing itself is AWS's own @smithy/signature-v4, given a node:crypto SHA-256 (NodeSha256
 * below: 10-35x faster than the pure-JS @aws-crypto/sha256-js on a 1 MiB body, bench/ext-proc.ts);
 * this file only decides what is signed and maps the result onto a HeaderMutation.
 *
 * Signed headers: host (the authority the upstream sees), content-type and the agent's x-amz-*
 * headers, plus x-amz-date, x-amz-security-token (when a session token is given) and, for S3,
 * x-amz-content-sha256 (the payload hash, so S3 checks the body). Nothing hop-by-hop or
 * proxy-added is signed, so a proxy along the way cannot break the signature. The agent's own
 * authorization, x-amz-date, x-amz-security-token and x-amz-content-sha256 are removed and
 * regenerated. Query values are percent-decoded before the signer re-encodes them; "+" is a literal
 * plus (RFC 3986), as AWS SDKs never send "+" for a space. The query is bounded and put in
 * canonical form by sigv4-query.ts (smithy's own canonical query is quadratic in repeated names).
 */
import { type Hash, type Hmac, createHash, createHmac } from 'node:crypto';
import type { HttpRequest } from '@smithy/protocol-http';
import type { SignatureV4, SignatureV4Init, SignatureV4CryptoInit } from '@smithy/signature-v4';
import type { HeaderBag, HttpRequest as SmithyRequest } from '@smithy/types';
import { PaiError } from '../errors.js';
import type { InjectionTarget } from '../resources/types.js';
import { awsScopeFromHost } from './aws-scope.js';
import { assertHeaderValue, authOf, CREDENTIAL_HEADERS, requireKey } from './mutation.js';
import type { HeaderEntry, HeaderMutation, InjectRequest } from './mutation.js';
import { canonicalQuery, parseQuery } from './sigv4-query.js';

/** The keys of an AWS secret (DESIGN §3). */
export const AWS_KEYS = Object.freeze({
  accessKeyId: 'access_key_id',
  secretAccessKey: 'secret_access_key',
  sessionToken: 'session_token',
});

/** Headers the signer owns: always removed from the agent's request, and regenerated. */
export const AWS_SIGNING_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
]);

export interface AwsSignInput {
  readonly method: string;
  /** The authority the upstream receives as Host (with a port if it carries one). */
  readonly host: string;
  /** `:path`: path and query, as sent. */
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  /** Signing name and region; derived from `host` when not given. */
  readonly service?: string | undefined;
  readonly region?: string | undefined;
  readonly now: Date;
}

export interface AwsSignature {
  /** x-amz-date, x-amz-security-token?, x-amz-content-sha256? and, last, authorization. */
  readonly set: readonly HeaderEntry[];
  readonly remove: readonly string[];
  readonly service: string;
  readonly region: string;
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/**
 * SHA-256 and HMAC-SHA-256 over node:crypto in the shape @smithy/signature-v4 expects of its
 * `sha256` option (smithy's ChecksumConstructor: `new (secret?)`, update, async digest, reset).
 * Computation only; no I/O.
 */
export class NodeSha256 {
  private readonly key: Buffer | undefined;
  private hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.key = secret === undefined ? undefined : Buffer.from(bytesOf(secret));
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.key === undefined ? createHash('sha256') : createHmac('sha256', this.key);
  }

  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

function badRequest(message: string): PaiError {
  return new PaiError('bad_request', message);
}

/** The host without its port, for scope derivation. */
function hostName(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1);
  const colon = authority.lastIndexOf(':');
  return colon === -1 ? authority : authority.slice(0, colon);
}

/**
 * smithy's SignatureV4 with the canonical query line computed by canonicalQuery (linear-ithmic)
 * instead of smithy's quadratic one; path, headers, payload hash, string to sign and key
 * derivation stay smithy's. The canonical request is `METHOD \n PATH \n QUERY \n …`: smithy builds
 * it over an empty query, and the query line (the third) is filled in. signAws refuses a method or
 * path with a line break first, so the third line is where the query goes.
 *
 * smithy is imported on the first signature, not at start: only injectors serving an aws or
 * bedrock provider pay its memory (~2 MiB RSS, docs/PERFORMANCE.md).
 */
interface Smithy {
  readonly Signer: new (init: SignatureV4Init & SignatureV4CryptoInit) => SignatureV4;
  readonly HttpRequest: typeof HttpRequest;
}
let smithy: Promise<Smithy> | undefined;

function loadSmithy(): Promise<Smithy> {
  smithy ??= Promise.all([import('@smithy/signature-v4'), import('@smithy/protocol-http')]).then(([sig, http]) => {
    class CanonicalQuerySignatureV4 extends sig.SignatureV4 {
      protected override createCanonicalRequest(
        request: SmithyRequest,
        canonicalHeaders: HeaderBag,
        payloadHash: string,
      ): string {
        const query = canonicalQuery(request.query ?? {});
        const text = super.createCanonicalRequest({ ...request, query: {} }, canonicalHeaders, payloadHash);
        const afterPath = text.indexOf('\n', text.indexOf('\n') + 1) + 1;
        return `${text.slice(0, afterPath)}${query}${text.slice(afterPath)}`;
      }
    }
    return { Signer: CanonicalQuerySignatureV4, HttpRequest: http.HttpRequest };
  });
  return smithy;
}

/** The headers to sign, lower-cased, repeated values joined with "," as SigV4 prescribes. */
function headersToSign(headers: readonly (readonly [string, string])[], host: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [rawName, value] of headers) {
    const name = rawName.toLowerCase();
    const signable = name === 'content-type' || (name.startsWith('x-amz-') && !AWS_SIGNING_HEADERS.includes(name));
    if (!signable) continue;
    const prior = out[name];
    out[name] = prior === undefined ? value : `${prior},${value}`;
  }
  out.host = host;
  return out;
}

/** Refuses aws-chunked streaming uploads: their per-chunk signatures cannot be redone here. */
function refuseStreaming(headers: readonly (readonly [string, string])[]): void {
  for (const [rawName, value] of headers) {
    const name = rawName.toLowerCase();
    if (
      (name === 'x-amz-content-sha256' && value.startsWith('STREAMING-')) ||
      (name === 'content-encoding' && value.toLowerCase().includes('aws-chunked'))
    ) {
      throw badRequest('AWS: aws-chunked streaming uploads cannot be signed by the injector; send a plain body');
    }
  }
}

/**
 * Signs the request with SigV4 and returns the headers to set (authorization last) and to remove.
 * Credentials must already be checked (see sigv4Mutation). Throws PaiError `bad_host` when service
 * and region are not given and cannot be derived from `host`, `bad_request` for an unsignable
 * request (a query over the bounds of sigv4-query.ts or malformed, a line break in the method or
 * path, an aws-chunked upload).
 */
export async function signAws(input: AwsSignInput): Promise<AwsSignature> {
  const { service, region } = resolveScope(input);
  refuseStreaming(input.headers);
  if (/[\r\n]/.test(input.method) || /[\r\n]/.test(input.path)) {
    throw badRequest('AWS: the method or path contains a line break and cannot be signed');
  }
  const isS3 = service === 's3';
  const { Signer, HttpRequest } = await loadSmithy();
  const signer = new Signer({
    service,
    region,
    credentials: {
      accessKeyId: input.accessKeyId,
      secretAccessKey: input.secretAccessKey,
      ...(input.sessionToken === undefined ? {} : { sessionToken: input.sessionToken }),
    },
    sha256: NodeSha256,
    // S3 signs the path as sent and wants the payload hash header; every other service signs the
    // normalised, twice-encoded path (AWS SigV4 rules).
    uriEscapePath: !isS3,
    applyChecksum: isS3,
  });
  // Built outside the try: its own refusals (query bounds, percent-encoding) keep their messages.
  const request = toSmithyRequest(input, HttpRequest);
  let signed: HttpRequest;
  try {
    signed = (await signer.sign(request, { signingDate: input.now })) as HttpRequest;
  } catch (err) {
    // The signer only fails on input it cannot encode (e.g. lone surrogates in the path).
    throw new PaiError('bad_request', 'AWS: the request cannot be signed (unencodable path or query)', { cause: err });
  }
  const set: HeaderEntry[] = [];
  const take = (name: string): void => {
    const value = signed.headers[name];
    if (value !== undefined) set.push({ name, value });
  };
  take('x-amz-date');
  if (input.sessionToken !== undefined) take('x-amz-security-token');
  if (isS3) take('x-amz-content-sha256');
  take('authorization');
  return { set, remove: AWS_SIGNING_HEADERS, service, region };
}

function resolveScope(input: AwsSignInput): { service: string; region: string } {
  if (input.service !== undefined && input.region !== undefined) return { service: input.service, region: input.region };
  const derived = awsScopeFromHost(hostName(input.host));
  return { service: input.service ?? derived.service, region: input.region ?? derived.region };
}

function toSmithyRequest(input: AwsSignInput, HttpRequest: Smithy['HttpRequest']): HttpRequest {
  const q = input.path.indexOf('?');
  return new HttpRequest({
    method: input.method,
    protocol: 'https:',
    hostname: hostName(input.host),
    path: q === -1 ? input.path : input.path.slice(0, q),
    query: q === -1 ? {} : parseQuery(input.path.slice(q + 1)),
    headers: headersToSign(input.headers, input.host),
    body: input.body,
  });
}

const SIGV4_REMOVE: readonly string[] = Object.freeze([...new Set([...CREDENTIAL_HEADERS, ...AWS_SIGNING_HEADERS])]);

/**
 * The SigV4 mutation for a sigv4 target: reads access_key_id, secret_access_key and the optional
 * (non-empty) session_token from `values`, signs `request` with `body` at `now` (`request.host` is
 * signed as Host: it must be the authority the upstream receives). Throws `key_missing`,
 * `bad_header_value` (a key that is not a clean ASCII value), `bad_host` or `bad_request`.
 */
export async function sigv4Mutation(
  target: InjectionTarget,
  values: ReadonlyMap<string, Buffer>,
  request: InjectRequest,
  body: Buffer,
  now: Date,
): Promise<HeaderMutation> {
  const auth = authOf(target, 'sigv4');
  const secret = target.secret;
  const read = (key: string): string => assertHeaderValue(requireKey(values, secret, key), { secret, key });
  const accessKeyId = read(AWS_KEYS.accessKeyId);
  const secretAccessKey = read(AWS_KEYS.secretAccessKey);
  // An empty session_token means "none" (a placeholder left by a form), not a broken value.
  const sessionToken = (values.get(AWS_KEYS.sessionToken)?.length ?? 0) > 0 ? read(AWS_KEYS.sessionToken) : undefined;
  const signature = await signAws({
    method: request.method,
    host: request.host,
    path: request.path,
    headers: request.headers,
    body,
    accessKeyId,
    secretAccessKey,
    sessionToken,
    service: auth.service,
    region: auth.region,
    now,
  });
  return { set: signature.set, remove: SIGV4_REMOVE };
}
