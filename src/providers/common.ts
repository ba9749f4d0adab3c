/**
 * Helpers the Provider type entries share: the hosts a Provider covers, its secret key, and the
 * PaiError for a stored resource the parser would have refused. Pure.
 */
import { PaiError } from '../errors.js';
import { quoteName } from '../resources/names.js';
import type { Provider, ProviderSpec } from '../resources/types.js';

/** `auth.secretKey`, else `fallback`. */
export function secretKeyOf(spec: ProviderSpec, fallback: string): string {
  return spec.auth?.secretKey ?? fallback;
}

/** PaiError `invalid` naming the Provider and field (an old stored document the parser would refuse now). */
export function providerError(p: Provider, field: string, problem: string): PaiError {
  return new PaiError('invalid', `Provider ${quoteName(p.metadata.name)}: ${field} ${problem}`, {
    details: { kind: 'Provider', name: p.metadata.name, field },
  });
}

/**
 * The host patterns a Provider covers: `hosts`, else `host`, else `defaults`; lower-case and
 * deduplicated. Throws PaiError `invalid` when that leaves none (a type whose `host` is required).
 */
export function coveredHosts(p: Provider, defaults: readonly string[]): string[] {
  const given = p.spec.hosts ?? (p.spec.host === undefined ? undefined : [p.spec.host]);
  const hosts = [...new Set((given ?? defaults).map((h) => h.toLowerCase()))];
  if (hosts.length === 0) throw providerError(p, 'spec.host', `is required for type ${p.spec.type}`);
  return hosts;
}

/** True when the Provider names its host(s) rather than taking the type's defaults. */
export function namesHosts(spec: ProviderSpec): boolean {
  return spec.host !== undefined || spec.hosts !== undefined;
}

/** The Bearer prefix of an Authorization header. */
export const BEARER = 'Bearer ';
