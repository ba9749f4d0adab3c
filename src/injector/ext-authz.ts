/**
 * envoy.service.auth.v3.Authorization/Check: maps a CheckRequest onto a decision and the decision
 * onto a CheckResponse. Header credentials become OkHttpResponse header mutations (overwrite) and
 * removals; every failure is a DeniedHttpResponse with a JSON body naming the reason, never a gRPC
 * error (so the agent learns why, and Envoy never has to guess).
 */
import type * as grpc from '@grpc/grpc-js';
import { PaiError, errorBody, toPaiError } from '../errors.js';
import { type HeaderMutation, assertHeaderValue, removalsAfterSet, requireKey } from '../inject/mutation.js';
import type { CheckRequest__Output } from '../generated/envoy/service/auth/v3/CheckRequest.js';
import type { CheckResponse } from '../generated/envoy/service/auth/v3/CheckResponse.js';
import type { HeaderValueOption } from '../generated/envoy/config/core/v3/HeaderValueOption.js';
import type { Decision, DecisionInput, Decider } from './decide.js';
import { GATEWAY_MODE, type GatewayDecider, MODE_EXTENSION, gatewayInputOf } from './gateway.js';
import type { DecisionObserver } from './observe.js';

/** The context extension that names the agent (set per route in the sidecar config). */
export const AGENT_EXTENSION = 'pai.agent';

// google.rpc.Code values used in CheckResponse.status.
const RPC_OK = 0;
const RPC_PERMISSION_DENIED = 7;
const RPC_UNAUTHENTICATED = 16;
const RPC_UNAVAILABLE = 14;

/** Extracts the decision input from a CheckRequest; throws `bad_request` when it has no HTTP request. */
export function checkInput(req: CheckRequest__Output): DecisionInput {
  const attrs = req.attributes;
  const http = attrs?.request?.http;
  if (!http) throw new PaiError('bad_request', 'CheckRequest has no attributes.request.http');
  const headers: [string, string][] = [];
  let hasAuthority = false;
  const raw = http.header_map?.headers;
  if (raw && raw.length > 0) {
    for (const h of raw) {
      const value = h.raw_value && h.raw_value.length > 0 ? h.raw_value.toString('latin1') : (h.value ?? '');
      headers.push([h.key ?? '', value]);
    }
  } else if (http.headers) {
    for (const name of Object.keys(http.headers)) headers.push([name, http.headers[name] ?? '']);
  }
  for (const [name] of headers) if (name === ':authority' || name === 'host') hasAuthority = true;
  if (!hasAuthority && http.host) headers.push([':authority', http.host]);
  const scheme = http.scheme === 'https' ? 'https' : 'http';
  return {
    api: 'check',
    agent: attrs?.context_extensions?.[AGENT_EXTENSION] || undefined,
    headers,
    method: http.method ?? '',
    path: http.path ?? '/',
    scheme,
  };
}

function header(key: string, value: string): HeaderValueOption {
  return { header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}

/** A denial: the status from the error code's table, a JSON body with code and message. */
export function deniedResponse(error: PaiError): CheckResponse {
  const rpc =
    error.code === 'unauthenticated' ? RPC_UNAUTHENTICATED : error.status === 503 ? RPC_UNAVAILABLE : RPC_PERMISSION_DENIED;
  return {
    status: { code: rpc, message: error.code },
    denied_response: {
      status: { code: error.status as never },
      headers: [header('content-type', 'application/json'), header('x-pai-deny-reason', error.code)],
      body: JSON.stringify(errorBody(error)),
    },
  };
}

/**
 * Query-parameter credentials through ext_authz: Envoy cannot replace `:path` from a Check, so the
 * parameter is set with query_parameters_to_set. Envoy matches those names raw (it neither decodes
 * nor encodes the query: http/utility.cc QueryParamsMulti) and writes the value verbatim, so the
 * value is sent percent-encoded, and every other spelling of the parameter the agent sent (case
 * variants, percent-encoded names such as `api%5Fkey`) is removed by its raw name. The exact name
 * is not removed: Envoy applies the removals after the set, which would drop the credential.
 */
function queryParameters(
  d: Extract<Decision, { kind: 'inject' }>,
  path: string,
): Pick<NonNullable<CheckResponse['ok_response']>, 'query_parameters_to_set' | 'query_parameters_to_remove'> {
  const auth = d.target.auth;
  if (auth.strategy !== 'query') return {};
  const value = assertHeaderValue(requireKey(d.values, d.target.secret, auth.key), { secret: d.target.secret, key: auth.key });
  const q = path.indexOf('?');
  const wanted = auth.param.toLowerCase();
  const remove = new Set<string>();
  if (q >= 0) {
    for (const piece of path.slice(q + 1).split('&')) {
      const name = piece.split('=')[0] ?? '';
      let decoded: string;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        decoded = name;
      }
      if (decoded.toLowerCase() === wanted && name !== auth.param) remove.add(name);
    }
  }
  return {
    query_parameters_to_set: [{ key: auth.param, value: encodeURIComponent(value) }],
    query_parameters_to_remove: [...remove],
  };
}

// removalsAfterSet filters a frozen array, which V8 runs off its fast path (about 1 µs a Check in
// bench/injector.ts profiles); its inputs repeat per target (strategies share their `remove` lists),
// so the result is computed once per (remove list, set names). The arrays are never mutated.
const removalCache = new WeakMap<readonly string[], Map<string, string[]>>();

function headersToRemove(m: HeaderMutation): string[] {
  const names = m.set.length === 1 ? (m.set[0]?.name ?? '') : m.set.map((e) => e.name).join('\n');
  let byNames = removalCache.get(m.remove);
  if (byNames === undefined) removalCache.set(m.remove, (byNames = new Map<string, string[]>()));
  let removals = byNames.get(names);
  if (removals === undefined) byNames.set(names, (removals = removalsAfterSet(m)));
  return removals;
}

/** The CheckResponse for a decision (never throws: a mapping failure is an internal denial). */
export function checkResponse(d: Decision, path: string): CheckResponse {
  try {
    switch (d.kind) {
      case 'pass':
        return { status: { code: RPC_OK }, ok_response: {} };
      case 'inject':
        return {
          status: { code: RPC_OK },
          ok_response: {
            headers: d.mutation.set.map((e) => header(e.name, e.value)),
            headers_to_remove: headersToRemove(d.mutation),
            ...queryParameters(d, path),
          },
        };
      case 'sign':
        return deniedResponse(new PaiError('needs_ext_proc', 'SigV4 signing needs ext_proc'));
      case 'deny':
        return deniedResponse(d.error);
    }
  } catch (err) {
    return deniedResponse(toPaiError(err));
  }
}

/** The Authorization service implementation, bound to a decider and an observer. */
export class ExtAuthzService {
  constructor(
    private readonly decider: Decider,
    private readonly observer: DecisionObserver,
    /** Decides routes with context_extensions `pai.mode: gateway` (the shared LLM gateway). */
    private readonly gateway?: GatewayDecider,
  ) {}

  /** Sidecar mode unless the route sets `pai.mode`; a mode this injector does not serve is denied. */
  private decide(req: CheckRequest__Output, input: DecisionInput): Promise<Decision> {
    const mode = req.attributes?.context_extensions?.[MODE_EXTENSION] || undefined;
    if (mode === undefined) return this.decider.decide(input);
    if (mode === GATEWAY_MODE && this.gateway) return this.gateway.decide(gatewayInputOf(req, input));
    const error = new PaiError('no_identity', `the route sets ${MODE_EXTENSION} to a mode this injector does not serve`);
    return Promise.resolve({ kind: 'deny', error });
  }

  /** The unary handler grpc-js calls. */
  readonly check = (
    call: grpc.ServerUnaryCall<CheckRequest__Output, CheckResponse>,
    callback: grpc.sendUnaryData<CheckResponse>,
  ): void => {
    const started = process.hrtime.bigint();
    let input: DecisionInput;
    try {
      input = checkInput(call.request);
    } catch (err) {
      const d: Decision = { kind: 'deny', error: toPaiError(err) };
      this.observer.observe('check', d, started);
      callback(null, checkResponse(d, '/'));
      return;
    }
    this.decide(call.request, input).then(
      (d) => {
        const response = checkResponse(d, input.path);
        this.observer.observe('check', d, started);
        callback(null, response);
      },
      (err: unknown) => {
        const d: Decision = { kind: 'deny', error: toPaiError(err) };
        this.observer.observe('check', d, started);
        callback(null, checkResponse(d, input.path));
      },
    );
  };
}
