/**
 * One OAuth 2.0 token request (RFC 6749 §4.4 client credentials, RFC 7523 JWT bearer): a form POST
 * with Node's fetch, bounded by a timeout, never following redirects (a redirect would re-send the
 * client secret or assertion to another URL), the answer read up to a size limit and parsed into
 * an access token and its lifetime.
 *
 * Failures are PaiError `token_endpoint_failed` (denied 503) whose message names the provider, the
 * endpoint's host and what went wrong (timeout, unreachable, HTTP status and, when it is one of
 * RFC 6749's registered error codes, that code). Never in a message, a log or a cause: the form
 * (client secret, assertion), the endpoint's answer, the access token.
 */
import { PaiError } from '../errors.js';

/** What a token endpoint granted. */
export interface TokenGrant {
  readonly accessToken: string;
  /** The lifetime the endpoint announced (expires_in), in ms; undefined when it gave none. */
  readonly expiresInMs: number | undefined;
}

/** The outcome label of pai_oauth_token_requests_total{result}. */
export type TokenResult = 'ok' | 'timeout' | 'unreachable' | 'http_error' | 'bad_response';

export interface TokenRequest {
  /** Who asks, for messages: e.g. `azure Provider "arm"`. */
  readonly what: string;
  readonly url: string;
  readonly form: URLSearchParams;
}

export interface TokenHttpOptions {
  readonly timeoutMs: number;
  readonly fetch: typeof fetch;
  /** Called once per request with its outcome (metrics). */
  readonly onResult?: (result: TokenResult) => void;
}

const MAX_ANSWER = 64 * 1024;
// RFC 6749 §5.2 error codes: printed when the endpoint answers one, never any other text of its answer.
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
]);

class TokenFailure extends PaiError {
  constructor(
    readonly result: Exclude<TokenResult, 'ok'>,
    message: string,
  ) {
    super('token_endpoint_failed', message);
  }
}

/** The answer's bytes; undefined when it is larger than MAX_ANSWER. */
async function readLimited(res: Response): Promise<Buffer | undefined> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_ANSWER) return undefined;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function parseJson(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** expires_in as ms: a positive number, or a numeric string (Azure's v1 endpoint); undefined when absent. */
function lifetimeMs(value: unknown): number | undefined | null {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 ? Math.round(n * 1000) : null;
}

function grantOf(json: Record<string, unknown> | undefined, fail: (problem: string) => TokenFailure): TokenGrant {
  if (json === undefined) throw fail('answered with something other than a JSON object');
  const token = json['access_token'];
  if (typeof token !== 'string' || token.length === 0) throw fail('answered without an access_token');
  const type = json['token_type'];
  if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer'))
    throw fail('answered a token that is not a Bearer token');
  const expires = lifetimeMs(json['expires_in']);
  if (expires === null) throw fail('answered an expires_in that is not a positive number');
  return { accessToken: token, expiresInMs: expires };
}

/** Performs the token request. Throws PaiError `token_endpoint_failed` (never carrying a value). */
export async function requestToken(req: TokenRequest, options: TokenHttpOptions): Promise<TokenGrant> {
  let host: string;
  try {
    host = new URL(req.url).host;
  } catch {
    throw new PaiError('token_endpoint_failed', `${req.what}: the token endpoint is not a valid URL`);
  }
  const failure = (result: Exclude<TokenResult, 'ok'>, problem: string): TokenFailure =>
    new TokenFailure(result, `${req.what}: the token endpoint at ${host} ${problem}`);
  try {
    const grant = await exchange(req, options, failure);
    options.onResult?.('ok');
    return grant;
  } catch (err) {
    const known = err instanceof TokenFailure ? err : failure('unreachable', 'could not be reached');
    options.onResult?.(known.result);
    throw known;
  }
}

async function exchange(
  req: TokenRequest,
  options: TokenHttpOptions,
  failure: (r: Exclude<TokenResult, 'ok'>, p: string) => TokenFailure,
): Promise<TokenGrant> {
  let res: Response;
  let bytes: Buffer | undefined;
  try {
    res = await options.fetch(req.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: req.form.toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    bytes = await readLimited(res);
  } catch (err) {
    // The cause is dropped on purpose: fetch errors are not trusted to be free of request data.
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      throw failure('timeout', `did not answer within ${options.timeoutMs} ms`);
    }
    throw failure('unreachable', 'could not be reached');
  }
  if (bytes === undefined) throw failure('bad_response', `answered more than ${MAX_ANSWER} bytes`);
  const json = parseJson(bytes);
  if (res.status < 200 || res.status > 299) {
    const code = json?.['error'];
    const why = typeof code === 'string' && OAUTH_ERRORS.has(code) ? ` (${code})` : '';
    throw failure('http_error', `answered HTTP ${res.status}${why}`);
  }
  return grantOf(json, (problem) => failure('bad_response', problem));
}
