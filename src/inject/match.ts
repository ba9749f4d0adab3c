/**
 * Which of an agent's injection targets a canonical host belongs to (DESIGN §6).
 *
 * Rules:
 * - An exact host beats any wildcard. Among wildcards the longest suffix wins.
 * - `*.x.com` matches `a.x.com` and `a.b.x.com`, never `x.com` itself; matching is by whole
 *   labels, so `x.com.evil.net`, `evilx.com` and `x-com` never match `x.com` or `*.x.com`.
 * - Ports take no part: target hosts carry none, and a request to a non-default port of a matched
 *   host matches (the port was already canonicalised; the credential belongs to the host's owner).
 * - IP literals match only an identical exact entry, never a wildcard (a DNS suffix says nothing
 *   about an address: `*.0.1` must not capture `10.0.0.1`).
 * - Two targets claiming the same exact host (or the same wildcard) are resolved deterministically:
 *   the first in the agent's order wins. Validation should refuse such overlaps; this only makes
 *   the outcome stable if one slips through.
 */
import { PaiError } from '../errors.js';
import type { InjectionTarget } from '../resources/types.js';

/** A compiled matcher: canonical host → the target whose hosts contain it, or undefined. */
export type HostMatcher = (host: string) => InjectionTarget | undefined;

interface HostPattern {
  readonly exact: boolean;
  /** The exact name, or the wildcard's suffix without the leading `*.`. */
  readonly name: string;
}

/** Parses a target host entry; throws PaiError `invalid` for anything but `name` or `*.suffix`. */
function parsePattern(target: InjectionTarget, raw: string): HostPattern {
  let host = raw.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  const wildcard = host.startsWith('*.');
  const name = wildcard ? host.slice(2) : host;
  if (name.length === 0 || name.includes('*') || name.startsWith('.') || name.includes('..') || name.endsWith('.')) {
    throw new PaiError('invalid', `${target.kind} ${JSON.stringify(target.name)}: bad host pattern ${JSON.stringify(raw)}`, {
      details: { field: 'hosts' },
    });
  }
  return { exact: !wildcard, name };
}

/** True for an IPv4 literal (last label all digits) or a bracketed IPv6 literal (and for "", never matchable). */
function isIpLiteral(host: string): boolean {
  if (host.length === 0 || host.charCodeAt(0) === 0x5b) return true;
  const last = host.charCodeAt(host.length - 1);
  if (last < 0x30 || last > 0x39) return false;
  for (let i = host.length - 2; i >= 0; i--) {
    const c = host.charCodeAt(i);
    if (c === 0x2e) return true;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Precompiles `targets` into a matcher: one Map lookup for exact names, then a walk over the
 * host's proper suffixes (longest first) in a Map of wildcard suffixes, O(labels).
 * Throws PaiError `invalid` for a malformed host pattern.
 */
export function compileMatcher(targets: readonly InjectionTarget[]): HostMatcher {
  const exact = new Map<string, InjectionTarget>();
  const wildcard = new Map<string, InjectionTarget>();
  for (const target of targets) {
    for (const raw of target.hosts) {
      const p = parsePattern(target, raw);
      const map = p.exact ? exact : wildcard;
      // First in the agent's order wins.
      if (!map.has(p.name)) map.set(p.name, target);
    }
  }
  if (wildcard.size === 0) return (host) => exact.get(host);
  return (host) => {
    const hit = exact.get(host);
    if (hit !== undefined) return hit;
    if (isIpLiteral(host)) return undefined;
    // Proper suffixes only, longest first: "a.b.x.com" tries "b.x.com", then "x.com", then "com".
    for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
      const found = wildcard.get(host.slice(dot + 1));
      if (found !== undefined) return found;
    }
    return undefined;
  };
}

/**
 * The target of `targets` that `host` (canonical) belongs to, or undefined. A direct, uncompiled
 * reading of the rules above; use compileMatcher on the request path.
 */
export function matchTarget(targets: readonly InjectionTarget[], host: string): InjectionTarget | undefined {
  let best: InjectionTarget | undefined;
  let bestLength = -1;
  const ip = isIpLiteral(host);
  for (const target of targets) {
    for (const raw of target.hosts) {
      const p = parsePattern(target, raw);
      if (p.exact) {
        // The first exact entry met in the agent's order wins.
        if (p.name === host) return target;
      } else if (!ip && p.name.length > bestLength && host.length > p.name.length + 1) {
        if (host.endsWith(p.name) && host.charCodeAt(host.length - p.name.length - 1) === 0x2e) {
          best = target;
          bestLength = p.name.length;
        }
      }
    }
  }
  return best;
}
