/**
 * Host and endpoint URL rules (DESIGN §3, §6). A Provider's hosts are exact lower-case DNS names
 * (or IPv4 literals) or "*.suffix" wildcards; endpoint URLs (baseUrl, tokenUrl) are https, with
 * plain http allowed only to loopback. Pure: no I/O, no DNS.
 */

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
const ALL_DIGITS = /^[0-9]+$/;
const USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i;

/** Host names that plain http may reach (URL.hostname form: IPv6 in brackets). */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True when `text` contains a space, a C0 control character or DEL (which the URL parser would strip or encode). */
function hasSpaceOrControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** The message for a name that is not a DNS name, shared by hosts and URLs. */
const NOT_DNS =
  'must be a DNS name: dot-separated labels of lower-case letters, digits and "-" (1-63 characters each, ' +
  'not starting or ending with "-"); use the "xn--" form for international names';

/** Why `host` has the shape of something other than a bare host name (URL, port, path, …), or undefined. */
function notBareHostProblem(host: string): string | undefined {
  if (host.length === 0) return 'must not be empty';
  if (host.includes('://')) return 'must be a host name, not a URL';
  if (host.includes('/')) return 'must not contain a path';
  if (host.includes('@')) return 'must not contain user info';
  if (host.startsWith('[')) return 'IPv6 literals are not supported; use a host name';
  if (host.includes(':')) return 'must not contain a port';
  if (host !== host.toLowerCase()) return 'must be lower-case';
  if (host.endsWith('.')) return 'must not end with "."';
  return undefined;
}

/** Why `host` is not an exact lower-case DNS name or dotted-decimal IPv4 address, or undefined. */
export function exactHostProblem(host: string): string | undefined {
  const shape = notBareHostProblem(host);
  if (shape !== undefined) return shape;
  if (host.includes('*')) return 'a wildcard must be the whole first label, as in "*.example.com"';
  if (host.length > 253) return `must be at most 253 characters (has ${host.length})`;
  const labels = host.split('.');
  if (!labels.every((label) => label.length <= 63 && LABEL.test(label))) return NOT_DNS;
  // The URL parser reads a name ending in a number as an IPv4 address (`1.2.3`, `0x7f.1`): only
  // the canonical dotted-decimal form is accepted, so a host matches exactly what Envoy sees.
  const last = labels[labels.length - 1] ?? '';
  if (ALL_DIGITS.test(last) && !IPV4.test(host)) return 'a numeric name must be an IPv4 address in dotted-decimal form';
  return undefined;
}

/** Why `pattern` is neither an exact host nor a "*.suffix" wildcard with at least two suffix labels, or undefined. */
export function hostPatternProblem(pattern: string): string | undefined {
  if (pattern === '*') return 'a bare "*" would match every host; use "*.suffix"';
  if (!pattern.startsWith('*.')) return exactHostProblem(pattern);
  const suffix = pattern.slice(2);
  if (ALL_DIGITS.test(suffix.slice(suffix.lastIndexOf('.') + 1))) return 'a wildcard must not cover IP addresses';
  const problem = exactHostProblem(suffix);
  if (problem !== undefined) return `the suffix after "*." ${problem}`;
  if (suffix.split('.').length < 2) return 'a wildcard needs at least two labels after "*." (e.g. "*.example.com")';
  return undefined;
}

/** True for the host names plain http is allowed to (localhost, 127.0.0.1, [::1]). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.has(hostname);
}

/** Why the raw text of a URL has a shape the URL parser would silently repair or hide, or undefined. */
function rawUrlProblem(raw: string): string | undefined {
  if (raw.length > 2048) return `must be at most 2048 characters (has ${raw.length})`;
  if (hasSpaceOrControl(raw)) return 'must not contain spaces or control characters';
  if (raw.includes('\\')) return 'must not contain "\\"';
  if (!/^https?:\/\//i.test(raw)) return 'must be an absolute https:// URL';
  if (USERINFO.test(raw)) return 'must not contain user info (credentials belong in a secret)';
  if (raw.includes('?')) return 'must not have a query';
  if (raw.includes('#')) return 'must not have a fragment';
  return undefined;
}

/** The host as written in a URL that passed rawUrlProblem (no user info): the authority without its port. */
function rawHost(raw: string): string {
  const authority = raw.slice(raw.indexOf('//') + 2).split('/')[0] ?? '';
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1);
  return authority.replace(/:[^:]*$/, '');
}

/**
 * Why `raw` is not an acceptable endpoint URL, or undefined: absolute https (http only for
 * localhost, 127.0.0.1, [::1]), no user info, query or fragment, and a valid host.
 */
export function endpointUrlProblem(raw: string): string | undefined {
  const problem = rawUrlProblem(raw);
  if (problem !== undefined) return problem;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute https:// URL';
  }
  // The URL parser rewrites some hosts (`1.2.3` → `1.2.0.3`, `0x7f.1`, IDN → punycode): require
  // the host as it will be matched, so the manifest says what the injector does.
  if (rawHost(raw).toLowerCase() !== url.hostname) {
    return 'host must be written in canonical form (the URL parser rewrites it: a short or hex IPv4 address, or a non-ASCII name?)';
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    return 'must use https (plain http is allowed only for localhost, 127.0.0.1 and [::1])';
  }
  if (url.hostname === '[::1]') return undefined;
  const hostProblem = exactHostProblem(url.hostname);
  return hostProblem === undefined ? undefined : `host ${hostProblem}`;
}

/**
 * The host an endpoint URL is matched by: lower-case, IPv6 in brackets, without a port (the
 * injector matches hosts, not ports: src/inject/match.ts). Throws on an invalid URL.
 */
export function endpointHost(raw: string): string {
  return new URL(raw).hostname;
}

/** The URL without a trailing "/" (paths kept): the form the gateway joins request paths to. */
export function normalizeEndpoint(raw: string): string {
  const url = new URL(raw);
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}
