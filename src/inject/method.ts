/**
 * Request methods that never get a credential (issue 16, item 7). TRACE makes the upstream (or any
 * proxy on the way) echo the request back, credential included, to the agent that must not hold
 * it; CONNECT opens a tunnel whose content the injector neither sees nor binds to a host, so a
 * credential on it would go to whatever the tunnel reaches. Pure: no I/O.
 */
import { PaiError } from '../errors.js';
import { quoteName } from '../resources/names.js';
import type { InjectionTarget } from '../resources/types.js';

const WHY: Readonly<Record<string, string>> = Object.freeze({
  TRACE: 'TRACE echoes the request, credential included, back to the sender',
  CONNECT: 'CONNECT opens a tunnel the injector cannot see into',
});

/**
 * PaiError `method_not_allowed` (405) when `method` is TRACE or CONNECT (any letter case: some
 * servers and proxies treat methods case-insensitively), for a request to `target`'s host;
 * undefined for every other method. The message names the method and the target, no value.
 */
export function refusedMethodError(method: string, target: InjectionTarget): PaiError | undefined {
  const upper = method.toUpperCase();
  const why = WHY[upper];
  if (why === undefined) return undefined;
  return new PaiError(
    'method_not_allowed',
    `${upper} requests get no credential (${why}); ${target.kind} ${quoteName(target.name)} covers this host, so the request is refused`,
    { details: { method: upper } },
  );
}
