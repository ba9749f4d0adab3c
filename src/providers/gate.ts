/**
 * Request gates: per-request reasons a matched host still gets no credential (a credential-minting
 * endpoint the Provider did not name, a service outside `config.services`, a region other than
 * `config.region`, a customer-owned host). Built once per target, evaluated per request. Pure.
 */
import { PaiError } from '../errors.js';

/** What a gate sees of the request: the canonical host (no port), method and `:path`. */
export interface GateRequest {
  readonly host: string;
  readonly method: string;
  readonly path: string;
}

/** Why the request must get no credential, or undefined. */
export type RequestGate = (request: GateRequest) => PaiError | undefined;

/** Reasons a gate withholds a credential (the `reason` detail of a `credential_withheld` denial). */
export type WithheldReason = 'credential_minting' | 'service_not_allowed' | 'region_not_allowed' | 'customer_host';

/** The 403 denial of a gate, naming the Provider and why (no value). */
export function withheld(provider: string, reason: WithheldReason, message: string): PaiError {
  return new PaiError('credential_withheld', `Provider ${JSON.stringify(provider)}: ${message}`, {
    details: { provider, reason },
  });
}

/** A gate that applies every gate in turn; undefined when there are none. */
export function allGates(gates: readonly (RequestGate | undefined)[]): RequestGate | undefined {
  const list = gates.filter((g): g is RequestGate => g !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return (request) => {
    for (const gate of list) {
      const denied = gate(request);
      if (denied !== undefined) return denied;
    }
    return undefined;
  };
}

/** True when `host` equals `pattern` or, for `*.suffix`, lies under the suffix. */
export function hostCovered(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1);
  return host.length > suffix.length && host.endsWith(suffix);
}
