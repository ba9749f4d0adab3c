/**
 * Rules for the names and fixed texts a resource puts on the wire: header names and prefixes,
 * query parameter names, OAuth scopes, AWS regions. Each returns why a value is not acceptable,
 * or undefined. Pure.
 */

/** RFC 7230 `token` (the grammar of a header field name). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_TEXT = /^[\t\u0020-\u007e]*$/;
const QUERY_PARAM = /^[A-Za-z0-9._~-]+$/;
const SCOPE = /^[\u0021-\u007e]+( [\u0021-\u007e]+)*$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/;

/**
 * Headers a credential must never be written to: hop-by-hop headers (RFC 7230 §6.1) and those that
 * frame or route the request, which Envoy owns.
 */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/** Why `name` is not a header a credential may be set in, or undefined. */
export function headerNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.startsWith(':')) return 'must not be a pseudo-header (":authority", ":path", …)';
  if (name.length > 128) return `must be at most 128 characters (has ${name.length})`;
  if (!TOKEN.test(name)) return "must be a header name (letters, digits and !#$%&'*+-.^_`|~)";
  const lower = name.toLowerCase();
  if (RESERVED_HEADERS.has(lower)) return 'must not be a hop-by-hop or framing header (host, connection, content-length, …)';
  if (lower.startsWith('x-envoy-')) return 'must not be an Envoy-internal "x-envoy-" header';
  return undefined;
}

/** Why `prefix` cannot precede a value in a header (printable ASCII and tab, at most 256 characters), or undefined. */
export function headerPrefixProblem(prefix: string): string | undefined {
  if (prefix.length > 256) return `must be at most 256 characters (has ${prefix.length})`;
  if (!HEADER_TEXT.test(prefix)) return 'must contain only printable ASCII characters, spaces and tabs';
  if (prefix.startsWith(' ') || prefix.startsWith('\t')) return 'must not start with whitespace (HTTP strips it in transit)';
  return undefined;
}

/** Why `param` is not a query parameter name (URL-unreserved characters), or undefined. */
export function queryParamProblem(param: string): string | undefined {
  if (param.length === 0) return 'must not be empty';
  if (param.length > 128) return `must be at most 128 characters (has ${param.length})`;
  if (!QUERY_PARAM.test(param)) return 'must consist of letters, digits, "-", ".", "_" and "~"';
  return undefined;
}

/** Why `scope` is not an OAuth scope list (space-separated printable ASCII words), or undefined. */
export function scopeProblem(scope: string): string | undefined {
  if (scope.length === 0) return 'must not be empty';
  if (scope.length > 1024) return `must be at most 1024 characters (has ${scope.length})`;
  if (!SCOPE.test(scope)) return 'must be printable ASCII words separated by single spaces';
  return undefined;
}

/** Why `region` is not an AWS region name such as us-east-1, or undefined. */
export function awsRegionProblem(region: string): string | undefined {
  return AWS_REGION.test(region) ? undefined : 'must be an AWS region name such as "us-east-1"';
}
