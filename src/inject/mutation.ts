/**
 * The neutral result of an injection decision, and the value checks every strategy shares. The
 * gRPC glue maps a HeaderMutation onto an ext_authz OkHttpResponse or an ext_proc HeaderMutation.
 */
import { PaiError } from '../errors.js';
import type { AuthStrategy, InjectionTarget } from '../resources/types.js';

export interface HeaderEntry {
  /** Lower-case header name. */
  readonly name: string;
  readonly value: string;
}

/**
 * What to do to the request. Semantics: first remove every header named in `remove`, then set each
 * entry of `set` (overwrite: the header ends with exactly that one value), then replace `:path` with
 * `path` when present. `set` names also appear in `remove`, and the credential is the last entry
 * of `set`.
 *
 * Mapping note: ext_proc applies remove_headers before set_headers, as above. Envoy's ext_authz
 * filter applies `headers` (set) first and `headers_to_remove` last, so an ext_authz mapper must
 * send only removalsAfterSet(m) as headers_to_remove, or it would delete the injected credential.
 */
export interface HeaderMutation {
  readonly set: readonly HeaderEntry[];
  readonly remove: readonly string[];
  /** The new `:path` (path and query), e.g. for a query-parameter or Telegram credential. */
  readonly path?: string;
  /**
   * Query parameters to add (already folded into `path`): what an ext_authz mapper sends as
   * query_parameters_to_set, since Check cannot replace `:path`.
   */
  readonly query?: readonly HeaderEntry[];
}

/** What a strategy sees of the request. Header names may be in any case; values are as received. */
export interface InjectRequest {
  readonly method: string;
  /** `:path` as received: path and query. */
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  /**
   * The authority the upstream receives as Host. SigV4 signs it verbatim, so pass the `:authority`
   * Envoy forwards (header strategies do not read it).
   */
  readonly host: string;
}

/** Where a value came from, for error messages (names only, never the value). */
export interface ValueSource {
  readonly secret: string;
  readonly key: string;
}

/**
 * Credential headers an agent may have sent for a matched host; always removed so the agent cannot
 * pick or add to the credential.
 */
export const CREDENTIAL_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'x-api-key',
  'x-goog-api-key',
  'api-key',
  'proxy-authorization',
]);

/** `remove` without the names that `set` overwrites: the headers_to_remove of an ext_authz reply. */
export function removalsAfterSet(m: HeaderMutation): string[] {
  return m.remove.filter((name) => !m.set.some((entry) => entry.name === name));
}

/** The value of `key` in the fetched secret. Throws PaiError `key_missing` naming secret and key. */
export function requireKey(values: ReadonlyMap<string, Buffer>, secret: string, key: string): Buffer {
  const value = values.get(key);
  if (value === undefined) {
    throw new PaiError('key_missing', `secret ${JSON.stringify(secret)} has no key ${JSON.stringify(key)}`, {
      details: { secret, key },
    });
  }
  return value;
}

/** A PaiError `bad_header_value` about the value of `what`; the message never contains the value. */
export function badValue(what: ValueSource, problem: string): PaiError {
  return new PaiError(
    'bad_header_value',
    `value of key ${JSON.stringify(what.key)} in secret ${JSON.stringify(what.secret)} ${problem}`,
    { details: { secret: what.secret, key: what.key } },
  );
}

/**
 * Checks that `value` can be sent as (part of) a header value and returns it as a string. Allowed:
 * visible ASCII (0x21–0x7E) with inner spaces and tabs; not empty, no leading or trailing
 * whitespace (HTTP strips it in transit, so the upstream would see another credential).
 * Refused with PaiError `bad_header_value` naming secret and key: CR, LF, NUL, other controls,
 * and bytes ≥ 0x80 (obs-text): Envoy's ext_proc `value` is a UTF-8 proto string, obs-text is
 * obsolete (RFC 9110 §5.5) and handled inconsistently, and a real token never needs it; a
 * non-ASCII byte almost always means a wrong file (BOM, smart quotes).
 */
export function assertHeaderValue(value: Buffer | string, what: ValueSource): string {
  const str = typeof value === 'string';
  const n = value.length;
  if (n === 0) throw badValue(what, 'is empty');
  for (let i = 0; i < n; i++) {
    const c = str ? value.charCodeAt(i) : (value[i] ?? 0);
    if (c > 0x20 && c < 0x7f) continue;
    if (c === 0x20 || c === 0x09) {
      if (i === 0 || i === n - 1) throw badValue(what, 'has leading or trailing whitespace');
      continue;
    }
    if (c === 0x0d || c === 0x0a) throw badValue(what, 'contains a line break (CR or LF)');
    if (c === 0) throw badValue(what, 'contains a NUL byte');
    if (c < 0x20 || c === 0x7f) throw badValue(what, 'contains a control character');
    throw badValue(what, 'contains a non-ASCII byte (header values must be visible ASCII)');
  }
  return str ? value : value.toString('latin1');
}

/** The AuthStrategy variant with the given `strategy` tag. */
export type StrategyOf<S extends AuthStrategy['strategy']> = Extract<AuthStrategy, { strategy: S }>;

/** The target's auth if it is of kind `strategy`; throws PaiError `internal` otherwise (a wiring bug). */
export function authOf<S extends AuthStrategy['strategy']>(target: InjectionTarget, strategy: S): StrategyOf<S> {
  const auth = target.auth;
  if (auth.strategy !== strategy) {
    throw new PaiError('internal', `${target.kind} ${JSON.stringify(target.name)} uses ${auth.strategy}, not ${strategy}`);
  }
  return auth as StrategyOf<S>;
}

/** The credential headers plus `name`, deduplicated (the agent's copies of all of them go). */
export function removalsWith(name: string): readonly string[] {
  return CREDENTIAL_HEADERS.includes(name) ? CREDENTIAL_HEADERS : Object.freeze([...CREDENTIAL_HEADERS, name]);
}
