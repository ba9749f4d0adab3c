/**
 * The ext_authz filter of the sidecar simulator: what Envoy's envoy.filters.http.ext_authz does with
 * our injector, written down from Envoy's own documentation and source so that the e2e suites see
 * the request the upstream would really receive.
 *
 * - CheckRequest: built as Envoy builds it (see checkRequest in ./injector.ts), with the route's
 *   context_extensions; the body is not sent.
 * - OK (CheckResponse.status.code 0): OkHttpResponse is applied in Envoy's order (ext_authz.cc,
 *   Filter::onComplete): first `headers` in order, each by its append_action, then
 *   `headers_to_remove`, then `query_parameters_to_set`, then `query_parameters_to_remove`, and `:path`
 *   is rebuilt. So a name in both `headers` and `headers_to_remove` ends up removed: the injector
 *   must not list the header it sets among the removals (src/inject/mutation.ts removalsAfterSet).
 *   - external_auth.proto, OkHttpResponse.headers: "append, add or override headers from the original
 *     request"; headers_to_remove: pseudo-headers and Host "may not be removed … these special
 *     headers will be ignored" (https://envoyproxy.io/docs/envoy/latest/api-v3/service/auth/v3/external_auth.proto).
 *   - base.proto, HeaderValueOption.HeaderAppendAction: APPEND_IF_EXISTS_OR_ADD (the default) adds
 *     another value; ADD_IF_ABSENT adds only when absent; OVERWRITE_IF_EXISTS_OR_ADD "will overwrite
 *     the specified value by discarding any existing values if the header already exists", else adds;
 *     OVERWRITE_IF_EXISTS overwrites only when present. The deprecated `append` BoolValue, when set,
 *     wins: true appends, false overwrites (ext_authz_grpc_impl.cc getAppendAction).
 *   - query_parameters_to_set "set (and overwrite)"; query_parameters_to_remove are "case-sensitive"
 *     names. Envoy neither decodes nor encodes: names match raw, values go in verbatim (applyQuery).
 * - Mutation rules as shipped in envoy/sidecar-ext-authz.yaml (validate_mutations: true,
 *   decoder_header_mutation_rules {allow_all_routing: false, allow_envoy: false, disallow_is_error:
 *   true}): a mutation of host/:authority/:scheme/:method or x-envoy-*, or an invalid header name or
 *   value (CR, LF, NUL), is an error answered 500, never a half-mutated request.
 * - Denied (any other status code): denied_response becomes the agent's answer: its status (403 when
 *   unset), its headers set on the local reply, its body.
 * - A gRPC error (injector down, deadline): failure_mode_allow: false, so the request is denied with
 *   status_on_error (Envoy's default 403; envoy/sidecar-ext-authz.yaml sets 503).
 */
import type { AuthorizationClient } from '../../src/generated/envoy/service/auth/v3/Authorization.js';
import type { CheckResponse__Output } from '../../src/generated/envoy/service/auth/v3/CheckResponse.js';
import type { HeaderValueOption__Output } from '../../src/generated/envoy/config/core/v3/HeaderValueOption.js';
import type { OkHttpResponse__Output } from '../../src/generated/envoy/service/auth/v3/OkHttpResponse.js';
import { loadEnvoyServices } from '../../src/injector/protos.js';
import { check, checkRequest } from './injector.js';
import type { FilterResult, SidecarFilter, SimRequest } from './sidecar-sim.js';

export interface ExtAuthzFilterOptions {
  readonly client: AuthorizationClient;
  /** The route's check_settings.context_extensions (the rendered per-agent sidecar config). */
  readonly contextExtensions: Readonly<Record<string, string>>;
  /** The downstream scheme Envoy reports: the agent speaks plain HTTP to the sidecar. */
  readonly scheme?: 'http' | 'https';
  /** grpc_service.timeout; generous by default so that a loaded test machine does not flake. */
  readonly timeoutMs?: number;
  /** status_on_error: Envoy's default is 403. */
  readonly statusOnError?: number;
}

type Header = [string, string];

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const ROUTING = new Set(['host', ':authority', ':scheme', ':method']);

/** type.v3.StatusCode names (as decoded with enums: String) → numbers, from Envoy's proto. */
let statusCodes: Map<string, number> | undefined;
function httpStatus(code: string | number | undefined): number | undefined {
  if (typeof code === 'number') return code;
  if (code === undefined) return undefined;
  if (!statusCodes) {
    const def = loadEnvoyServices().auth.envoy.type.v3.StatusCode as unknown as {
      type: { value: { name: string; number: number }[] };
    };
    statusCodes = new Map(def.type.value.map((v) => [v.name, v.number]));
  }
  return statusCodes.get(code);
}

class MutationError extends Error {}

function headerText(h: HeaderValueOption__Output): Header {
  const key = h.header?.key ?? '';
  const raw = h.header?.raw_value;
  const value = raw && raw.length > 0 ? Buffer.from(raw).toString('latin1') : (h.header?.value ?? '');
  return [key, value];
}

function checkMutation(name: string, value?: string): void {
  const bare = name.startsWith(':') ? name.slice(1) : name;
  if (name !== name.toLowerCase() || !TOKEN.test(bare)) throw new MutationError(`invalid header name ${JSON.stringify(name)}`);
  if (value !== undefined && /[\r\n\0]/.test(value)) throw new MutationError(`invalid value for header ${name}`);
  if (ROUTING.has(name) || name.startsWith('x-envoy-')) throw new MutationError(`mutation of ${name} is not allowed`);
  if (name.startsWith(':') && name !== ':path') throw new MutationError(`mutation of ${name} is not allowed`);
}

/** Applies one HeaderValueOption to `headers` (in place) the way Envoy does. */
export function applyHeaderOption(headers: Header[], option: HeaderValueOption__Output): void {
  const [rawKey, value] = headerText(option);
  const key = rawKey.toLowerCase();
  checkMutation(key, value);
  const present = headers.some(([n]) => n === key);
  const overwrite = (): void => {
    for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === key) headers.splice(i, 1);
    headers.push([key, value]);
  };
  const append = option.append?.value;
  if (append !== undefined) {
    if (!append) return overwrite();
    // Deprecated append: true concatenates into the existing value (HeaderMap::appendCopy).
    const at = headers.findIndex(([n]) => n === key);
    const existing = headers[at];
    if (existing) existing[1] = `${existing[1]},${value}`;
    else headers.push([key, value]);
    return;
  }
  switch (option.append_action ?? 'APPEND_IF_EXISTS_OR_ADD') {
    case 'APPEND_IF_EXISTS_OR_ADD':
      headers.push([key, value]);
      return;
    case 'ADD_IF_ABSENT':
      if (!present) headers.push([key, value]);
      return;
    case 'OVERWRITE_IF_EXISTS_OR_ADD':
      return overwrite();
    case 'OVERWRITE_IF_EXISTS':
      if (present) overwrite();
      return;
  }
}

/**
 * Sets and removes query parameters on `path` as Envoy does (http/utility.cc QueryParamsMulti):
 * the query is parsed without decoding into a map sorted by raw name, `set` overwrites a name's
 * values with one value put in verbatim, `remove` erases a raw name (case-sensitive), and the query
 * is written back as `?k=v&…` in name order (dropped entirely when nothing is left).
 */
export function applyQuery(path: string, set: readonly { key?: string; value?: string }[], remove: readonly string[]): string {
  const q = path.indexOf('?');
  const base = q === -1 ? path : path.slice(0, q);
  const params = new Map<string, string[]>();
  if (q !== -1) {
    for (const piece of path.slice(q + 1).split('&')) {
      if (piece.length === 0) continue;
      const eq = piece.indexOf('=');
      const [k, v] = eq === -1 ? [piece, ''] : [piece.slice(0, eq), piece.slice(eq + 1)];
      params.set(k, [...(params.get(k) ?? []), v]);
    }
  }
  for (const { key = '', value = '' } of set) params.set(key, [value]);
  for (const key of remove) params.delete(key);
  if (params.size === 0) return base;
  const names = [...params.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `${base}?${names.flatMap((k) => (params.get(k) ?? []).map((v) => `${k}=${v}`)).join('&')}`;
}

/** The request Envoy forwards after an OK CheckResponse; throws MutationError for a mutation Envoy would refuse. */
export function applyOkResponse(req: SimRequest, ok: OkHttpResponse__Output | undefined, scheme: string): SimRequest {
  const headers: Header[] = [
    [':authority', req.authority],
    [':method', req.method],
    [':path', req.path],
    [':scheme', scheme],
    ...req.headers.map(([n, v]): Header => [n, v]),
  ];
  for (const option of ok?.headers ?? []) applyHeaderOption(headers, option);
  for (const raw of ok?.headers_to_remove ?? []) {
    const name = raw.toLowerCase();
    // Pseudo-headers and Host are ignored (external_auth.proto); x-envoy-* falls under the mutation rules.
    if (name.startsWith(':') || name === 'host') continue;
    checkMutation(name);
    for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === name) headers.splice(i, 1);
  }
  let path = headers.find(([n]) => n === ':path')?.[1] ?? req.path;
  const set = ok?.query_parameters_to_set ?? [];
  const remove = ok?.query_parameters_to_remove ?? [];
  // Envoy rebuilds :path only when there is something to change.
  if (set.length > 0 || remove.length > 0) path = applyQuery(path, set, remove);
  return {
    method: req.method,
    path,
    authority: req.authority,
    headers: headers.filter(([n]) => !n.startsWith(':')),
    body: req.body,
  };
}

function deniedResult(res: CheckResponse__Output): FilterResult {
  const denied = res.denied_response;
  const status = httpStatus(denied?.status?.code) || 403;
  const headers: Header[] = [];
  // The local reply: each header removed, then set (ext_authz.cc, CheckStatus::Denied).
  for (const option of denied?.headers ?? []) {
    const [key, value] = headerText(option);
    const name = key.toLowerCase();
    for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === name) headers.splice(i, 1);
    headers.push([name, value]);
  }
  return { kind: 'deny', status, headers, body: Buffer.from(denied?.body ?? '', 'utf8') };
}

/** The ext_authz SidecarFilter: one Check per request. */
export class ExtAuthzFilter implements SidecarFilter {
  /** Every CheckResponse received, in order (for assertions on what crossed the wire). */
  readonly responses: CheckResponse__Output[] = [];

  constructor(private readonly options: ExtAuthzFilterOptions) {}

  async onRequest(req: SimRequest): Promise<FilterResult> {
    const scheme = this.options.scheme ?? 'http';
    const request = checkRequest({
      method: req.method,
      path: req.path,
      authority: req.authority,
      scheme,
      headers: req.headers,
      contextExtensions: this.options.contextExtensions,
    });
    let res: CheckResponse__Output;
    try {
      res = await check(this.options.client, request, this.options.timeoutMs ?? 2000);
    } catch {
      return { kind: 'deny', status: this.options.statusOnError ?? 403, headers: [], body: Buffer.alloc(0) };
    }
    this.responses.push(res);
    if ((res.status?.code ?? 0) !== 0) return deniedResult(res);
    try {
      return { kind: 'forward', request: applyOkResponse(req, res.ok_response, scheme) };
    } catch (err) {
      if (err instanceof MutationError) return { kind: 'deny', status: 500, headers: [], body: Buffer.alloc(0) };
      throw err;
    }
  }
}
