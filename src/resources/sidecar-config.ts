/**
 * An agent's Envoy sidecar bootstrap (`pai render sidecar`, issue 14; envoy/sidecar-*.yaml are
 * worked examples of this output, docs/ENVOY.md the pod around it). The agent's ordinary HTTPS to
 * its own hosts reaches 127.0.0.1:8443 (hosts file + a uid-scoped 443 redirect), where Envoy
 * terminates TLS with the agent's `pai-leaf` from SDS, only for SNI names the leaf carries; plain
 * HTTP reaches 127.0.0.1:8081. Each request goes through the injector (ext_authz or ext_proc) with
 * the agent's identity from this file, then over TLS to the real host, whose certificate must
 * chain to the system roots and name the host. Any other host gets a 403 (or no TLS chain at all).
 * Pure: no I/O.
 */
import { PaiError } from '../errors.js';
import { planSans } from '../tls/sans.js';
import type { AgentId } from '../tls/types.js';
import { typeNeedsExtProc } from './defaults.js';
import { exactHostProblem } from './hosts.js';
import {
  ADMIN,
  DEFAULT_INJECTOR_SOCKET,
  SYSTEM_TRUST,
  type Obj,
  anyOf,
  byCodeUnit,
  hostCluster,
  httpProtocolOptions,
  injectorCluster,
} from './envoy-common.js';
import { BODY_LIMIT, DNS_CACHE, type HttpPlan, type SidecarMode, connectionManager } from './sidecar-http.js';
import { commented } from './sidecar-comments.js';
import type { InjectionTarget } from './types.js';

export type { SidecarMode } from './sidecar-http.js';

/** What the renderer reads of a bound Provider/ModelProvider target (an InjectionTarget fits). */
export type SidecarTarget = Pick<InjectionTarget, 'kind' | 'name' | 'hosts' | 'auth' | 'policy'>;

/** A host reached elsewhere than TLS on port 443 (a ModelProvider endpoint or mcp URL with a port; loopback http). */
export interface SidecarEndpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

/**
 * How Envoy reaches the injector. unix (default): the pod's own injector over its 0600 socket.
 * mtls (shared mode): a shared pai-injector at `address` (host:port), Envoy presenting the client
 * certificate `sdsCertName` and validating the injector against `trustSdsName`, both from the SDS
 * server on `sdsSocket` (a SPIRE agent by default); no injector in the pod.
 */
export type SidecarInjector =
  | { readonly kind: 'unix'; readonly path?: string }
  | {
      readonly kind: 'mtls';
      readonly address: string;
      readonly sdsCertName: string;
      readonly trustSdsName?: string;
      readonly sdsSocket?: string;
    };

export interface SidecarRenderOptions {
  /** ext-authz or ext-proc; absent: ext-proc when a target needs it (sidecarModeFor), else ext-authz. */
  readonly mode?: SidecarMode;
  readonly injector?: SidecarInjector;
  /** Hosts not reached over TLS on 443 (endpointsOf); every other host is. */
  readonly endpoints?: readonly SidecarEndpoint[];
}

export interface RenderedSidecar {
  /** The bootstrap as a YAML text (with comments) and as a plain object (for JSON). */
  readonly yaml: string;
  readonly config: Record<string, unknown>;
  readonly mode: SidecarMode;
  /** The SNI names the HTTPS listener accepts: exactly the SANs of the agent's leaf. */
  readonly serverNames: readonly string[];
  /** Hosts left out of the HTTPS listener (IP literals, uncertifiable patterns), with the reason. */
  readonly skipped: readonly { readonly host: string; readonly reason: string }[];
}

/** ext-proc when some target rewrites :path or signs (telegram, sigv4) or has a policy that reads the body; else ext-authz. */
export function sidecarModeFor(targets: readonly SidecarTarget[]): SidecarMode {
  return targets.some((t) => typeNeedsExtProc(t.auth) || t.policy?.bodyMatters === true) ? 'ext-proc' : 'ext-authz';
}

export const LEAF_SECRET = 'pai-leaf';
export const DEFAULT_SHARED_SDS_SOCKET = '/run/spire/sockets/agent.sock';
const HTTPS_PORT = 8443;
const HTTP_PORT = 8081;

const sdsFrom = (cluster: string): Obj => ({
  resource_api_version: 'V3',
  api_config_source: {
    api_type: 'GRPC',
    transport_api_version: 'V3',
    grpc_services: [{ envoy_grpc: { cluster_name: cluster } }],
  },
});

/** Cluster name of an exact host; wildcard hosts share the dynamic forward proxy. */
const clusterOf = (host: string): string => (host.startsWith('*.') ? 'dynamic_forward_proxy_cluster' : `upstream_${host}`);

function dynamicCluster(): Obj {
  return {
    name: 'dynamic_forward_proxy_cluster',
    lb_policy: 'CLUSTER_PROVIDED',
    connect_timeout: '5s',
    cluster_type: {
      name: 'envoy.clusters.dynamic_forward_proxy',
      typed_config: anyOf('envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig', { dns_cache_config: DNS_CACHE }),
    },
    typed_extension_protocol_options: httpProtocolOptions({
      upstream_http_protocol_options: { auto_sni: true, auto_san_validation: true },
      auto_config: { http_protocol_options: {}, http2_protocol_options: {} },
    }),
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: anyOf('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', {
        common_tls_context: {
          tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
          validation_context: { trusted_ca: { filename: SYSTEM_TRUST } },
        },
      }),
    },
  };
}

/** `host:port` of the shared injector; throws PaiError `invalid` for anything else. */
function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535 || exactHostProblem(host) !== undefined) {
    throw new PaiError(
      'invalid',
      `the shared injector address must be HOST:PORT (a DNS name or IPv4 address and a port), got ${JSON.stringify(address.slice(0, 80))}`,
      {
        details: { field: 'injector.address' },
      },
    );
  }
  return { host, port };
}

/** The injector cluster(s): the local socket, or the shared injector over mTLS plus the SDS server of Envoy's own certificate. */
function injectorClusters(injector: SidecarInjector): Obj[] {
  if (injector.kind === 'unix') return [injectorCluster(injector.path ?? DEFAULT_INJECTOR_SOCKET)];
  const { host, port } = splitAddress(injector.address);
  const shared = hostCluster('pai_injector', host, port, false);
  const tls = anyOf('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', {
    sni: host,
    common_tls_context: {
      tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
      tls_certificate_sds_secret_configs: [{ name: injector.sdsCertName, sds_config: sdsFrom('pai_sds') }],
      validation_context_sds_secret_config: { name: injector.trustSdsName ?? 'ROOTCA', sds_config: sdsFrom('pai_sds') },
    },
  });
  return [
    {
      ...shared,
      typed_extension_protocol_options: httpProtocolOptions({ explicit_http_config: { http2_protocol_options: {} } }),
      transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: tls },
    },
    injectorCluster(injector.sdsSocket ?? DEFAULT_SHARED_SDS_SOCKET, 'pai_sds'),
  ];
}

function httpsListener(plan: HttpPlan, serverNames: readonly string[], bodyLimit: Obj): Obj {
  const downstream = anyOf('envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', {
    common_tls_context: {
      tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
      alpn_protocols: ['h2', 'http/1.1'],
      tls_certificate_sds_secret_configs: [{ name: LEAF_SECRET, sds_config: sdsFrom('pai_injector') }],
    },
  });
  return {
    name: 'agent_https',
    address: { socket_address: { address: '127.0.0.1', port_value: HTTPS_PORT } },
    ...bodyLimit,
    listener_filters: [
      {
        name: 'envoy.filters.listener.tls_inspector',
        typed_config: anyOf('envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', {}),
      },
    ],
    filter_chains: [
      {
        filter_chain_match: { server_names: [...serverNames] },
        transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: downstream },
        filters: [connectionManager(plan, 'agent_https')],
      },
    ],
  };
}

/**
 * The sidecar bootstrap of `agent` with `targets` (its resolved Provider/ModelProvider targets).
 * Never throws for targets the store accepted; a `mtls` injector address without a port throws PaiError `invalid`.
 */
export function renderSidecarConfig(
  agent: AgentId,
  targets: readonly SidecarTarget[],
  options: SidecarRenderOptions = {},
): RenderedSidecar {
  const mode = options.mode ?? sidecarModeFor(targets);
  const hosts = [...new Set(targets.flatMap((t) => t.hosts))].sort(byCodeUnit);
  const plan: HttpPlan = {
    agent,
    mode,
    routes: hosts.map((host) => ({ host, cluster: clusterOf(host) })),
    dynamic: hosts.some((h) => h.startsWith('*.')),
  };
  const sans = planSans(hosts);
  const endpoints = new Map((options.endpoints ?? []).map((e) => [e.host, e]));
  const upstreams = hosts
    .filter((h) => !h.startsWith('*.'))
    .map((h) => hostCluster(clusterOf(h), h, endpoints.get(h)?.port ?? 443, endpoints.get(h)?.tls ?? true));
  const bodyLimit = mode === 'ext-proc' ? { per_connection_buffer_limit_bytes: BODY_LIMIT } : {};
  const httpListener = {
    name: 'agent_http',
    address: { socket_address: { address: '127.0.0.1', port_value: HTTP_PORT } },
    ...bodyLimit,
    filter_chains: [{ filters: [connectionManager(plan, 'agent_http')] }],
  };
  const injector = options.injector ?? { kind: 'unix' };
  const config: Obj = {
    node: { id: 'pai-sidecar', cluster: 'pai-sidecar', metadata: { 'pai.agent': agent.name, 'pai.namespace': agent.namespace } },
    admin: ADMIN,
    static_resources: {
      listeners: [...(sans.dnsNames.length > 0 ? [httpsListener(plan, sans.dnsNames, bodyLimit)] : []), httpListener],
      clusters: [...upstreams, ...(plan.dynamic ? [dynamicCluster()] : []), ...injectorClusters(injector)],
    },
  };
  const yaml = commented(config, { agent, mode, injector, skipped: sans.skipped.map((s) => `${s.host} (${s.reason})`) });
  return { yaml, config, mode, serverNames: sans.dnsNames, skipped: sans.skipped };
}
