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
import { decodeCheckRequest } from './check-decode.js';
import { encodeCheckResponse } from './check-encode.js';
import type { Decision, DecisionInput, Decider } from './decide.js';
import { GATEWAY_MODE, type GatewayDecider, MODE_EXTENSION, gatewayInputOf } from './gateway.js';
import { AGENT_EXTENSION, NAMESPACE_EXTENSION, agentIdentity } from './identity.js';
import type { DecisionObserver } from './observe.js';
import type { PeerIdentity } from './peer-identity.js';
import { servedService } from './service-shapes.js';

export { AGENT_EXTENSION, NAMESPACE_EXTENSION } from './identity.js';

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
    agent: agentIdentity(attrs?.context_extensions?.[AGENT_EXTENSION], attrs?.context_extensions?.[NAMESPACE_EXTENSION]),
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
  const added = (d.mutation.query ?? []).map((e) => ({ key: e.name, value: encodeURIComponent(e.value) }));
  if (auth.strategy !== 'query') return added.length === 0 ? {} : { query_parameters_to_set: added };
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
    query_parameters_to_set: [{ key: auth.param, value: encodeURIComponent(value) }, ...added],
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
      case 'body':
        return deniedResponse(
          new PaiError('needs_ext_proc', "the Provider's policy reads the request body, which needs ext_proc"),
        );
      case 'deny':
        return deniedResponse(d.error);
    }
  } catch (err) {
    return deniedResponse(toPaiError(err));
  }
}

/** The most header sets kept per (record, target, removal list) for strategies other than header and basic. */
const MAX_VARIANTS = 8;

/** Serializes a CheckResponse to its protobuf bytes (the service definition's serializer). */
export type CheckSerializer = (response: CheckResponse) => Buffer;

/**
 * The Authorization service implementation, bound to a decider and an observer.
 *
 * Hot path: an injection's OK response depends only on the target, the secret's values and the
 * header set the strategy chose, so its protobuf bytes are built once and reused until the record
 * leaves the cache (WeakMaps keyed by the record's data and the target; see `respond`). The
 * service is registered with a serializer that passes such bytes through (`serviceDefinition`).
 */
export class ExtAuthzService {
  private readonly encoded = new WeakMap<object, WeakMap<object, Buffer | WeakMap<readonly string[], Map<string, Buffer>>>>();

  constructor(
    private readonly decider: Decider,
    private readonly observer: DecisionObserver,
    /** Decides routes with context_extensions `pai.mode: gateway` (the shared LLM gateway). */
    private readonly gateway?: GatewayDecider,
    private readonly serialize?: CheckSerializer,
    /** Shared mode: the agent is the mTLS client certificate's SPIFFE ID (peer-identity.ts). */
    private readonly peer?: PeerIdentity,
  ) {}

  /** Sidecar mode unless the route sets `pai.mode`; a mode this injector does not serve is denied. */
  private decide(req: CheckRequest__Output, input: DecisionInput): Decision | Promise<Decision> {
    const mode = req.attributes?.context_extensions?.[MODE_EXTENSION] || undefined;
    if (mode === undefined) return this.decider.decide(input);
    if (this.peer) {
      // The gateway's caller is a gateway Envoy, not an agent: a shared injector serves sidecars only.
      const error = new PaiError('no_identity', `a shared injector (peer-certificate identity) does not serve ${MODE_EXTENSION}`);
      return { kind: 'deny', error };
    }
    if (mode === GATEWAY_MODE && this.gateway) return this.gateway.decide(gatewayInputOf(req, input));
    const error = new PaiError('no_identity', `the route sets ${MODE_EXTENSION} to a mode this injector does not serve`);
    return { kind: 'deny', error };
  }

  /**
   * The response to send: pre-encoded bytes for an injection whose answer does not depend on the
   * path (no query parameter set or removed), else the message.
   *
   * A `header` or `basic` target always sends the same bytes for one secret record; they are kept
   * per (record data, target). Other strategies (github's Bearer or Basic by route, an OAuth
   * token) send one of a few header sets; their bytes are kept per (record data, target, removal
   * list, header set), at most MAX_VARIANTS per removal list.
   */
  private respond(d: Decision, path: string): CheckResponse | Buffer {
    const serialize = this.serialize;
    if (!serialize || d.kind !== 'inject') return checkResponse(d, path);
    const strategy = d.target.auth.strategy;
    if (d.target.defaultQuery !== undefined || strategy === 'query' || (d.mutation.query?.length ?? 0) > 0) {
      return checkResponse(d, path);
    }
    let byTarget = this.encoded.get(d.values);
    if (!byTarget) this.encoded.set(d.values, (byTarget = new WeakMap()));
    if (strategy === 'header' || strategy === 'basic') {
      let bytes = byTarget.get(d.target);
      if (!(bytes instanceof Buffer)) byTarget.set(d.target, (bytes = serialize(checkResponse(d, path))));
      return bytes;
    }
    let byRemovals = byTarget.get(d.target);
    if (!(byRemovals instanceof WeakMap)) byTarget.set(d.target, (byRemovals = new WeakMap()));
    const removals = headersToRemove(d.mutation);
    let bySet = byRemovals.get(removals);
    if (!bySet) byRemovals.set(removals, (bySet = new Map<string, Buffer>()));
    const set = d.mutation.set;
    const key =
      set.length === 1 ? `${set[0]?.name}\u0000${set[0]?.value}` : set.map((e) => `${e.name}\u0000${e.value}`).join('\u0001');
    let bytes = bySet.get(key);
    if (!bytes) {
      // A rotating credential (an OAuth token) makes new header sets: the oldest are dropped.
      if (bySet.size >= MAX_VARIANTS) bySet.clear();
      bySet.set(key, (bytes = serialize(checkResponse(d, path))));
    }
    return bytes;
  }

  private finish(d: Decision, path: string, started: bigint, callback: grpc.sendUnaryData<CheckResponse>, method = ''): void {
    const response = this.respond(d, path);
    this.observer.observe('check', d, started, { method, path });
    // A Buffer is passed through by the serializer of serviceDefinition().
    callback(null, response as CheckResponse);
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
      this.finish({ kind: 'deny', error: toPaiError(err) }, '/', started, callback);
      return;
    }
    if (this.peer) {
      const extensions = call.request.attributes?.context_extensions;
      const named = { agent: extensions?.[AGENT_EXTENSION], namespace: extensions?.[NAMESPACE_EXTENSION] };
      const agent = this.peer.agentOf(call, named);
      if (agent instanceof PaiError) {
        this.finish({ kind: 'deny', error: agent }, input.path, started, callback, input.method);
        return;
      }
      input = { ...input, agent };
    }
    const decided = this.decide(call.request, input);
    if (!(decided instanceof Promise)) {
      this.finish(decided, input.path, started, callback, input.method);
      return;
    }
    decided.then(
      (d) => this.finish(d, input.path, started, callback, input.method),
      (err: unknown) => this.finish({ kind: 'deny', error: toPaiError(err) }, input.path, started, callback, input.method),
    );
  };
}

/**
 * The Authorization service definition the injector serves, from hand-written codecs (no .proto
 * loaded: service-shapes.ts): requests are read by the Check decoder (check-decode.ts: only the
 * fields the handler uses, in one pass), and responses are written by the Check encoder
 * (check-encode.ts), except pre-encoded CheckResponse bytes, which are sent as they are.
 */
export function serviceDefinition(): { definition: grpc.ServiceDefinition; serialize: CheckSerializer } {
  const definition = servedService('auth', {
    Check: {
      requestDeserialize: decodeCheckRequest,
      responseSerialize: (value: CheckResponse | Buffer) => (Buffer.isBuffer(value) ? value : encodeCheckResponse(value)),
    },
  });
  return { definition, serialize: encodeCheckResponse };
}
