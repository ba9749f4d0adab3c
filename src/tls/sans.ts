/**
 * Which of an agent's host patterns go into its leaf certificate's subjectAltName. Pure.
 *
 * The patterns were validated when the resources were written; they are checked again here, more
 * strictly, because this CA can impersonate any host inside the agent container: a SAN is the one
 * place a bad pattern would turn into a power (a bare `*`, `*.com` or `a*.x.com` certified would let
 * the sidecar pose as far more than the agent's own hosts). Anything doubtful is left out, with
 * the reason, rather than repaired.
 *
 * Rules (RFC 5280 §4.2.1.6 dNSName, RFC 6125 §6.4.3 wildcards, CA/Browser Forum BR 7.1.2.7.12):
 * - dNSName only: lower-case LDH labels of 1–63 characters, at most 253 characters, no trailing
 *   dot, no `_`, no empty label.
 * - `*` only as the whole left-most label, followed by at least two labels (`*.x.com`, never `*`,
 *   `*.com`, `a*.x.com` or `x.*.com`). A wildcard SAN matches exactly one label: `*.x.com` covers
 *   `a.x.com` but neither `x.com` nor `a.b.x.com` (RFC 6125 §6.4.3; every TLS client in use
 *   implements it so). The injector's own host matching lets `*.x.com` match deeper names; over
 *   TLS those deeper names fail at the client's certificate check (fail closed: the agent gets a
 *   TLS error, never a credential). Bind `*.b.x.com` too when deeper names are needed.
 * - IP literals are never certified (decided): clients send no SNI for an IP address (RFC 6066 §3),
 *   so the sidecar's listener, which selects by SNI, could not serve them anyway, and the CA's
 *   nameConstraints exclude every IP address (src/tls/ca.ts).
 * A public suffix such as `*.co.uk` cannot be told apart without the Public Suffix List; the
 * pattern came from the agent's own bindings, so it certifies no more than the agent was given.
 */

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NUMERIC = /^[0-9]+$/;
const MAX_NAME = 253;
const MAX_LABEL = 63;

/** A host pattern left out of a leaf, and why (host names are not secrets: safe to log). */
export interface SkippedHost {
  readonly host: string;
  readonly reason: string;
}

/** The leaf's DNS SANs (sorted, without duplicates) and the patterns left out. */
export interface SanPlan {
  readonly dnsNames: readonly string[];
  readonly skipped: readonly SkippedHost[];
}

/** Why `pattern` must not become a dNSName SAN, or undefined when it may. */
export function sanProblem(pattern: string): string | undefined {
  if (typeof pattern !== 'string' || pattern.length === 0) return 'empty';
  if (pattern.length > MAX_NAME) return `longer than ${MAX_NAME} characters`;
  if (pattern !== pattern.toLowerCase()) return 'not lower-case';
  if (pattern.endsWith('.')) return 'ends with "."';
  if (pattern === '*') return 'a bare "*" would cover every host';
  const labels = pattern.split('.');
  const wildcard = labels[0] === '*';
  const rest = wildcard ? labels.slice(1) : labels;
  if (rest.some((label) => label.includes('*'))) return '"*" is allowed only as the whole left-most label';
  if (rest.some((label) => label.length === 0)) return 'empty label';
  if (rest.some((label) => label.length > MAX_LABEL || !LABEL.test(label))) return 'not a DNS name (letters, digits, "-")';
  if (NUMERIC.test(rest[rest.length - 1] ?? '')) return 'an IP address or numeric name: not certified (no SNI for IP literals)';
  if (wildcard && rest.length < 2) return 'a wildcard needs at least two labels after "*."';
  return undefined;
}

/** Splits `hosts` into the SANs a leaf may carry and the patterns left out. Never throws. */
export function planSans(hosts: readonly string[]): SanPlan {
  const names = new Set<string>();
  const skipped: SkippedHost[] = [];
  for (const host of hosts) {
    const problem = sanProblem(host);
    if (problem === undefined) names.add(host);
    else skipped.push({ host: String(host).slice(0, MAX_NAME + 2), reason: problem });
  }
  return { dnsNames: [...names].sort(), skipped };
}

/**
 * True when a certificate for `pattern` is valid for `host` by RFC 6125 (the rule TLS clients apply):
 * exact names compare equal; `*.x.com` matches one extra left-most label only.
 */
export function sanCovers(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
}
