/**
 * The HTTP half of an agent's sidecar bootstrap (sidecar-config.ts): the connection manager both
 * listeners share, with one virtual host per agent host, the agent's identity on every forwarding
 * route, the ext_authz or ext_proc filter, and a 403 for any other host. Pure.
 */
import { EXT_AUTHZ, type Obj, anyOf, extAuthzFilter, routerFilter, stdoutAccessLog } from './envoy-common.js';

export type SidecarMode = 'ext-authz' | 'ext-proc';

/** What the connection manager needs to know about the agent and its upstreams. */
export interface HttpPlan {
  readonly agent: { readonly namespace: string; readonly name: string };
  readonly mode: SidecarMode;
  /** The agent's hosts (sorted), each with the cluster its requests go to. */
  readonly routes: readonly { readonly host: string; readonly cluster: string }[];
  /** Whether some route goes to the dynamic forward proxy (wildcard hosts). */
  readonly dynamic: boolean;
}

/** The ext_proc filter name (also its typed_per_filter_config key; ext_authz's is EXT_AUTHZ, envoy-common.ts). */
export const EXT_PROC = 'envoy.filters.http.ext_proc';
/** The forward-proxy DNS cache, shared by name between the filter and the cluster. */
export const DNS_CACHE = { name: 'agent_egress_dns_cache', dns_lookup_family: 'V4_PREFERRED', max_hosts: 1024 };
/** Most a request body Envoy buffers when the injector asks for it (SigV4, body policies); larger: 413. */
export const BODY_LIMIT = 10 * 1024 * 1024;

// The names the injector reads (src/injector/identity.ts, ext-proc-identity.ts; a test checks they agree).
const AGENT_KEY = 'pai.agent';
const NAMESPACE_KEY = 'pai.namespace';
const ATTRIBUTES = [
  "xds.route_metadata.filter_metadata['pai']['agent']",
  "xds.route_metadata.filter_metadata['pai']['namespace']",
  'xds.route_metadata',
];

// No path, query or header values: paths and queries can carry credentials (telegram bot tokens,
// query-parameter keys) after the injector ran, and headers carry the injected ones.
const ACCESS_LOG_FORMAT = {
  time: '%START_TIME%',
  method: '%REQ(:METHOD)%',
  authority: '%REQ(:AUTHORITY)%',
  sni: '%REQUESTED_SERVER_NAME%',
  status: '%RESPONSE_CODE%',
  details: '%RESPONSE_CODE_DETAILS%',
  flags: '%RESPONSE_FLAGS%',
  duration_ms: '%DURATION%',
  bytes_in: '%BYTES_RECEIVED%',
  bytes_out: '%BYTES_SENT%',
  upstream: '%UPSTREAM_HOST%',
};

const filterName = (mode: SidecarMode): string => (mode === 'ext-authz' ? EXT_AUTHZ : EXT_PROC);

/** typed_per_filter_config turning the mode's filter off (routes that answer themselves). */
function disabled(mode: SidecarMode): Obj {
  const type =
    mode === 'ext-authz'
      ? 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute'
      : 'envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute';
  return { [filterName(mode)]: anyOf(type, { disabled: true }) };
}

function jsonAnswer(name: string, domains: string[], status: number, body: string, mode: SidecarMode): Obj {
  return {
    name,
    domains,
    routes: [
      {
        name,
        match: { prefix: '/' },
        direct_response: { status, body: { inline_string: body } },
        response_headers_to_add: [
          { header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        ],
        typed_per_filter_config: disabled(mode),
      },
    ],
  };
}

/** The forwarding route of one host, carrying the agent's identity as the mode's filter reads it. */
function hostRoute(plan: HttpPlan, host: string, cluster: string): Obj {
  const { name, namespace } = plan.agent;
  const identity =
    plan.mode === 'ext-authz'
      ? {
          typed_per_filter_config: {
            [EXT_AUTHZ]: anyOf('envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute', {
              check_settings: { context_extensions: { [AGENT_KEY]: name, [NAMESPACE_KEY]: namespace } },
            }),
          },
        }
      : { metadata: { filter_metadata: { pai: { agent: name, namespace } } } };
  return {
    name: host,
    domains: [host],
    routes: [
      {
        name: host,
        match: { prefix: '/' },
        ...(plan.mode === 'ext-proc' ? identity : {}),
        route: { cluster, timeout: '0s' },
        ...(plan.mode === 'ext-authz' ? identity : {}),
      },
    ],
  };
}

function extProcFilter(): Obj {
  return {
    name: EXT_PROC,
    typed_config: anyOf('envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor', {
      grpc_service: { envoy_grpc: { cluster_name: 'pai_injector' } },
      failure_mode_allow: false,
      processing_mode: {
        request_header_mode: 'SEND',
        response_header_mode: 'SKIP',
        request_body_mode: 'NONE',
        response_body_mode: 'NONE',
        request_trailer_mode: 'SKIP',
        response_trailer_mode: 'SKIP',
      },
      allow_mode_override: true,
      message_timeout: '0.5s',
      max_message_timeout: '5s',
      request_attributes: ATTRIBUTES,
      mutation_rules: { allow_all_routing: false, allow_envoy: false, disallow_system: false, disallow_is_error: true },
      route_cache_action: 'RETAIN',
    }),
  };
}

function httpFilters(plan: HttpPlan): Obj[] {
  const dfp = {
    name: 'envoy.filters.http.dynamic_forward_proxy',
    typed_config: anyOf('envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig', { dns_cache_config: DNS_CACHE }),
  };
  return [plan.mode === 'ext-authz' ? extAuthzFilter(false) : extProcFilter(), ...(plan.dynamic ? [dfp] : []), routerFilter()];
}

const PROXY_ITSELF =
  '{"error":{"code":"no_upstream_host","message":"this proxy needs the API host in the URL: keep http://<api host>/... and set HTTP_PROXY=http://127.0.0.1:8081"}}';

/** The 403 body for a host the agent has no binding for (names the agent, never a credential). */
const notBound = (agent: string): string =>
  `{"error":{"code":"host_not_bound","message":"agent ${agent} has no Provider or ModelProvider for this host; its sidecar routes only its own hosts"}}`;

/** The http_connection_manager of listener `stat` (agent_https or agent_http). */
export function connectionManager(plan: HttpPlan, stat: 'agent_https' | 'agent_http'): Obj {
  const plain = stat === 'agent_http';
  const label = plan.agent.namespace === 'default' ? plan.agent.name : `${plan.agent.namespace}/${plan.agent.name}`;
  const self = ['127.0.0.1', 'localhost'].filter((d) => !plan.routes.some((r) => r.host === d));
  const virtualHosts = [
    // Envoy refuses a domain named by two virtual hosts: a bound loopback host keeps its own route.
    ...(plain && self.length > 0 ? [jsonAnswer('proxy_itself', self, 400, PROXY_ITSELF, plan.mode)] : []),
    ...plan.routes.map((r) => hostRoute(plan, r.host, r.cluster)),
    jsonAnswer('not_bound', ['*'], 403, notBound(label), plan.mode),
  ];
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: anyOf('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', {
      stat_prefix: stat,
      codec_type: 'AUTO',
      ...(plain ? { http_protocol_options: { allow_absolute_url: true } } : {}),
      use_remote_address: true,
      skip_xff_append: true,
      internal_address_config: { cidr_ranges: [{ address_prefix: '192.0.2.1', prefix_len: 32 }] },
      strip_any_host_port: true,
      stream_idle_timeout: '300s',
      request_headers_timeout: '10s',
      access_log: [stdoutAccessLog(ACCESS_LOG_FORMAT)],
      route_config: {
        name: stat,
        request_headers_to_remove: ['x-envoy-external-address', 'x-forwarded-proto'],
        virtual_hosts: virtualHosts,
      },
      http_filters: httpFilters(plan),
    }),
  };
}
