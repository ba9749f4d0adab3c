/**
 * Query parameters a target adds when the agent sent none of that name (azure-openai's
 * `api-version` from the ModelProvider's spec.apiVersion). The agent's own value wins: the
 * parameter selects an API version, not a credential. Pure.
 */
import type { InjectionTarget } from '../resources/types.js';
import type { HeaderMutation, InjectRequest } from './mutation.js';

/** True when the query of `path` has a parameter named `name` (exactly, after form decoding). */
function hasParam(path: string, name: string): boolean {
  const q = path.indexOf('?');
  if (q < 0) return false;
  for (const piece of path.slice(q + 1).split('&')) {
    const raw = piece.split('=')[0] ?? '';
    let decoded = raw;
    try {
      decoded = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      // An undecodable name is not this parameter.
    }
    if (decoded === name) return true;
  }
  return false;
}

/**
 * `mutation` with the target's default query parameters the request lacks: as `query` (for
 * ext_authz's query_parameters_to_set) and folded into `path` (for ext_proc's `:path`).
 */
export function withDefaultQuery(target: InjectionTarget, request: InjectRequest, mutation: HeaderMutation): HeaderMutation {
  const defaults = target.defaultQuery;
  if (defaults === undefined) return mutation;
  const base = mutation.path ?? request.path;
  const missing = Object.entries(defaults).filter(([name]) => !hasParam(base, name));
  if (missing.length === 0) return mutation;
  const extra = missing.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&');
  const q = base.indexOf('?');
  const path = q < 0 ? `${base}?${extra}` : `${base}${q === base.length - 1 || base.endsWith('&') ? '' : '&'}${extra}`;
  return { ...mutation, path, query: [...(mutation.query ?? []), ...missing.map(([name, value]) => ({ name, value }))] };
}
