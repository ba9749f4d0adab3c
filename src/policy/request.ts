/**
 * What an action resolver sees (PolicyRequest) and what it answers (ResolvedAction). Built once
 * per request from the injector's view of it by toPolicyRequest, which refuses a request that is
 * not in normal form before any resolver runs.
 */
import { normalFormProblem, parseQuery, splitPath } from './path.js';
import type { NormalFormOptions, QueryParam } from './path.js';

/** The request as the injector has it: `:path` as sent, canonical host, headers as sent. */
export interface PolicyInput {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly headers: Iterable<readonly [string, string]>;
  readonly body?: Buffer;
}

/** A request in normal form: upper-case method, path without query, parsed query, lower-case header names. */
export interface PolicyRequest {
  readonly method: string;
  readonly path: string;
  readonly query: readonly QueryParam[];
  /** Lower-case names; repeated headers joined with ", " (RFC 9110 5.3). */
  readonly headers: ReadonlyMap<string, string>;
  readonly host: string;
  readonly body?: Buffer;
}

/** One (action, resource) pair that the policy must allow. */
export interface ActionTarget {
  readonly action?: string;
  readonly resource?: string;
}

/**
 * A resolver's answer:
 * - `resolved`: the action (undefined: not one this resolver knows) and the resource (undefined: the
 *   action has no resource, or the resource is unknown); `also` lists further pairs that must pass
 *   too (a copy reads its source); `filterResponse` asks for the response to be filtered.
 * - `needs_body`: the body is needed to tell the action or the resource (`missing`); what is
 *   known without it is given.
 * - `refused`: a look-alike or an unreadable body. With `action` set, only the resource could not
 *   be read (it then matters only when the Provider scopes that resource).
 */
export type ResolvedAction =
  | {
      readonly kind: 'resolved';
      readonly action?: string;
      readonly resource?: string;
      readonly also?: readonly ActionTarget[];
      readonly filterResponse?: 'tools/list';
    }
  | { readonly kind: 'needs_body'; readonly missing: 'action' | 'resource'; readonly action?: string; readonly resource?: string }
  | { readonly kind: 'refused'; readonly code: RefusalCode; readonly why: string; readonly action?: string };

export type RefusalCode = 'bad_request' | 'bad_body';

export type ActionResolver = (req: PolicyRequest) => ResolvedAction;

/** A `resolved` answer with the given action, resource and further pairs (undefined fields left out). */
export function resolved(action?: string, resource?: string, also?: readonly ActionTarget[]): ResolvedAction {
  // Field by field (hot: once per request); spreading conditional literals is several times slower.
  const out: { kind: 'resolved'; action?: string; resource?: string; also?: readonly ActionTarget[] } = { kind: 'resolved' };
  if (action !== undefined) out.action = action;
  if (resource !== undefined) out.resource = resource;
  if (also !== undefined && also.length > 0) out.also = also;
  return out;
}

/** A `refused` answer; with `action`, a refusal of the resource only. */
export function refused(code: RefusalCode, why: string, action?: string): ResolvedAction {
  return { kind: 'refused', code, why, ...(action === undefined ? {} : { action }) };
}

/** A `needs_body` answer carrying what is known without the body. */
export function needsBodyFor(missing: 'action' | 'resource', action?: string, resource?: string): ResolvedAction {
  return {
    kind: 'needs_body',
    missing,
    ...(action === undefined ? {} : { action }),
    ...(resource === undefined ? {} : { resource }),
  };
}

const METHOD = /^[A-Z]+$/;

/** Header names lower-cased, repeated headers joined with ", ". */
function headerMap(list: PolicyInput['headers']): Map<string, string> {
  const headers = new Map<string, string>();
  for (const [rawName, value] of list) {
    const name = rawName.toLowerCase();
    const seen = headers.get(name);
    headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
  }
  return headers;
}

/**
 * The PolicyRequest for `input`, or the reason it is not in normal form: the method must be an
 * upper-case token (`get`, `Delete` are refused, not guessed at), the path must pass
 * normalFormProblem and the query parseQuery.
 */
export function toPolicyRequest(
  input: PolicyInput,
  options?: NormalFormOptions,
): { readonly request: PolicyRequest } | { readonly problem: string } {
  if (!METHOD.test(input.method)) return { problem: 'method is not an upper-case token' };
  const { path, query } = splitPath(input.path);
  const pathProblem = normalFormProblem(path, options);
  if (pathProblem !== undefined) return { problem: `path: ${pathProblem}` };
  let params: readonly QueryParam[] = [];
  if (query !== undefined) {
    const parsed = parseQuery(query);
    if ('problem' in parsed) return { problem: parsed.problem };
    params = parsed.params;
  }
  // The header map is built on first use: most resolvers never look at a header.
  let headers: Map<string, string> | undefined;
  const request: { -readonly [K in keyof PolicyRequest]: PolicyRequest[K] } = {
    method: input.method,
    path,
    query: params,
    get headers(): ReadonlyMap<string, string> {
      headers ??= headerMap(input.headers);
      return headers;
    },
    host: input.host,
  };
  if (input.body !== undefined) request.body = input.body;
  return { request };
}
