/**
 * The shared LLM gateway (envoy/gateway.yaml) as a SidecarFilter of the simulator: what Envoy does
 * with one request on that listener, in Envoy's order.
 *
 * 1. Route match: `/<modelprovider>/…` picks the ModelProvider's route by prefix; anything else is
 *    the `no_modelprovider` route's direct 404 JSON, answered without asking the injector.
 * 2. ext_authz (the filter runs before the router): a CheckRequest with the ORIGINAL path and the
 *    gateway's own :authority, scheme https (the listener is TLS), the route's context_extensions
 *    `{pai.mode: gateway, pai.modelprovider: NAME}` and, when the agent connected with a client
 *    certificate, `attributes.source.principal` (its URI SAN). The answer is applied exactly as the
 *    sidecar's ext_authz filter applies it (ExtAuthzFilter in ./ext-authz-filter.ts, reused here),
 *    with status_on_error 503 as the gateway file sets.
 * 3. Router: `prefix_rewrite` replaces `/NAME/` by the base URL's path + "/", and
 *    `host_rewrite_literal` sets :authority to the provider's host, so the upstream recorder sees
 *    what the provider would.
 *
 * The principal is per filter (per simulated connection): start one filter per client identity.
 */
import type { AuthorizationClient } from '../../src/generated/envoy/service/auth/v3/Authorization.js';
import type { CheckRequest } from '../../src/generated/envoy/service/auth/v3/CheckRequest.js';
import type { CheckResponse__Output } from '../../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { ExtAuthzFilter } from './ext-authz-filter.js';
import type { FilterResult, SidecarFilter, SimRequest } from './sidecar-sim.js';

/** One ModelProvider route of the gateway file. */
export interface GatewayRoute {
  /** The ModelProvider's name: the route prefix `/NAME/` and pai.modelprovider. */
  readonly modelProvider: string;
  /** host_rewrite_literal: the provider's host (with a non-default port). */
  readonly host: string;
  /** prefix_rewrite: the base URL's path followed by "/" (default "/"). */
  readonly pathPrefix?: string;
}

export interface GatewayFilterOptions {
  readonly client: AuthorizationClient;
  readonly routes: readonly GatewayRoute[];
  /** attributes.source.principal: the client certificate's URI SAN; absent for a token-only client. */
  readonly principal?: string;
  readonly timeoutMs?: number;
}

const NOT_FOUND =
  '{"error":{"code":"not_found","message":"no ModelProvider route matches this path; call /<modelprovider>/..."}}';

/** `client` with attributes.source.principal added to every CheckRequest, as Envoy adds it for an mTLS peer. */
function withPrincipal(client: AuthorizationClient, principal: string | undefined): AuthorizationClient {
  if (principal === undefined) return client;
  return new Proxy(client, {
    get(target, prop, receiver): unknown {
      if (prop !== 'Check') return Reflect.get(target, prop, receiver) as unknown;
      return (request: CheckRequest, ...rest: unknown[]): unknown => {
        const attributes = { ...request.attributes, source: { ...request.attributes?.source, principal } };
        return (target.Check as (...args: unknown[]) => unknown).call(target, { ...request, attributes }, ...rest);
      };
    },
  });
}

interface CompiledRoute {
  readonly route: GatewayRoute;
  readonly prefix: string;
  readonly authz: ExtAuthzFilter;
}

export class GatewayFilter implements SidecarFilter {
  private readonly routes: CompiledRoute[];

  constructor(options: GatewayFilterOptions) {
    const client = withPrincipal(options.client, options.principal);
    this.routes = options.routes.map((route) => ({
      route,
      prefix: `/${route.modelProvider}/`,
      authz: new ExtAuthzFilter({
        client,
        contextExtensions: { 'pai.mode': 'gateway', 'pai.modelprovider': route.modelProvider },
        scheme: 'https',
        statusOnError: 503,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      }),
    }));
  }

  /** Every CheckResponse received, over all routes. */
  get responses(): CheckResponse__Output[] {
    return this.routes.flatMap((r) => r.authz.responses);
  }

  async onRequest(req: SimRequest): Promise<FilterResult> {
    const matched = this.routes.find((r) => req.path.startsWith(r.prefix));
    if (!matched) {
      return { kind: 'deny', status: 404, headers: [['content-type', 'application/json']], body: Buffer.from(NOT_FOUND) };
    }
    const result = await matched.authz.onRequest(req);
    if (result.kind === 'deny') return result;
    const forwarded = result.request;
    return {
      kind: 'forward',
      request: {
        ...forwarded,
        path: (matched.route.pathPrefix ?? '/') + forwarded.path.slice(matched.prefix.length),
        authority: matched.route.host,
      },
    };
  }
}
