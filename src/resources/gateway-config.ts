/**
 * The shared LLM gateway's Envoy bootstrap (envoy/gateway.yaml is the worked example; docs/GATEWAY.md)
 * rendered from ModelProviders: per ModelProvider NAME with base URL SCHEME://HOST[:PORT][/PATH] one
 * route (prefix /NAME/ → PATH/, Host rewritten to HOST[:PORT], ext_authz context_extensions
 * {pai.mode: gateway, pai.modelprovider: NAME}) and one cluster (modelprovider_NAME, TLS with SNI
 * and a certificate that must name HOST). Nothing per agent: agents prove who they are per request.
 * Pure: no I/O.
 */
import { Document } from 'yaml';
import { baseUrlOf } from './defaults.js';
import {
  ADMIN,
  DEFAULT_INJECTOR_SOCKET,
  EXT_AUTHZ,
  type Obj,
  anyOf,
  byCodeUnit,
  extAuthzFilter,
  hostCluster,
  injectorCluster,
  routerFilter,
  stdoutAccessLog,
} from './envoy-common.js';
import type { ModelProvider } from './types.js';

export type ClientCertificateMode = 'required' | 'optional' | 'none';

export interface GatewayRenderOptions {
  /** The listener's TCP port (default 8080). */
  readonly port?: number;
  /** The injector's unix socket as Envoy's container mounts it (default /var/run/pai/injector.sock). */
  readonly injectorSocket?: string;
  /**
   * required (default): every agent presents a client certificate (identity spiffe://TD/agent/NAME);
   * optional: a certificate if the agent has one, else an agent token; none: agent tokens only.
   */
  readonly clientCertificates?: ClientCertificateMode;
  /** The SPIFFE trust domain whose agent certificates are accepted (default pai; PAI_SPIFFE_TRUST_DOMAIN). */
  readonly trustDomain?: string;
  /** Where the gateway's tls.crt, tls.key and agents-ca.crt are mounted (default /etc/pai/gateway). */
  readonly tlsDir?: string;
}

export interface RenderedGateway {
  /** The bootstrap as a YAML text (with comments) and as a plain object (for JSON). */
  readonly yaml: string;
  readonly config: Record<string, unknown>;
  /** ModelProviders left out, with the reason (names only). */
  readonly skipped: readonly { readonly name: string; readonly reason: string }[];
}

interface Upstream {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The Host header the provider receives: the host, with the port when it is not the default. */
  readonly authority: string;
  readonly pathPrefix: string;
  readonly tls: boolean;
}

function upstreamOf(mp: ModelProvider): Upstream {
  const url = new URL(baseUrlOf(mp));
  const tls = url.protocol === 'https:';
  return {
    name: mp.metadata.name,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
    authority: url.host,
    pathPrefix: `${url.pathname.replace(/\/+$/, '')}/`,
    tls,
  };
}

function route(u: Upstream): Obj {
  return {
    name: `modelprovider_${u.name}`,
    match: { prefix: `/${u.name}/` },
    route: { cluster: `modelprovider_${u.name}`, prefix_rewrite: u.pathPrefix, host_rewrite_literal: u.authority, timeout: '0s' },
    typed_per_filter_config: {
      [EXT_AUTHZ]: anyOf('envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute', {
        check_settings: { context_extensions: { 'pai.mode': 'gateway', 'pai.modelprovider': u.name } },
      }),
    },
  };
}

const NOT_FOUND_BODY =
  '{"error":{"code":"not_found","message":"no ModelProvider route matches this path; call /<modelprovider>/..."}}';

function fallbackRoute(): Obj {
  return {
    name: 'no_modelprovider',
    match: { prefix: '/' },
    direct_response: { status: 404, body: { inline_string: NOT_FOUND_BODY } },
    response_headers_to_add: [
      { header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ],
    typed_per_filter_config: {
      [EXT_AUTHZ]: anyOf('envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute', { disabled: true }),
    },
  };
}

const cluster = (u: Upstream): Obj => hostCluster(`modelprovider_${u.name}`, u.host, u.port, u.tls);

function downstreamTls(mode: ClientCertificateMode, trustDomain: string, dir: string): Obj {
  const context: Obj = {
    tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
    alpn_protocols: ['h2', 'http/1.1'],
    tls_certificates: [{ certificate_chain: { filename: `${dir}/tls.crt` }, private_key: { filename: `${dir}/tls.key` } }],
  };
  if (mode !== 'none') {
    // Only agent identities of the trust domain get through the handshake (the injector accepts nothing else).
    context['validation_context'] = {
      trusted_ca: { filename: `${dir}/agents-ca.crt` },
      match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: `spiffe://${trustDomain}/agent/` } }],
    };
  }
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: anyOf('envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', {
      ...(mode === 'none' ? {} : { require_client_certificate: mode === 'required' }),
      common_tls_context: context,
    }),
  };
}

const ACCESS_LOG_FORMAT = {
  time: '%START_TIME%',
  method: '%REQ(:METHOD)%',
  route: '%ROUTE_NAME%',
  principal: '%DOWNSTREAM_PEER_URI_SAN%',
  status: '%RESPONSE_CODE%',
  details: '%RESPONSE_CODE_DETAILS%',
  flags: '%RESPONSE_FLAGS%',
  duration_ms: '%DURATION%',
  bytes_in: '%BYTES_RECEIVED%',
  bytes_out: '%BYTES_SENT%',
};

function connectionManager(upstreams: readonly Upstream[]): Obj {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: anyOf('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', {
      stat_prefix: 'llm_gateway',
      codec_type: 'AUTO',
      use_remote_address: true,
      skip_xff_append: true,
      internal_address_config: { cidr_ranges: [{ address_prefix: '192.0.2.1', prefix_len: 32 }] },
      forward_client_cert_details: 'SANITIZE',
      stream_idle_timeout: '300s',
      request_headers_timeout: '10s',
      access_log: [stdoutAccessLog(ACCESS_LOG_FORMAT)],
      route_config: {
        name: 'llm_gateway',
        request_headers_to_remove: ['x-envoy-external-address'],
        virtual_hosts: [{ name: 'model_providers', domains: ['*'], routes: [...upstreams.map(route), fallbackRoute()] }],
      },
      http_filters: [extAuthzFilter(true), routerFilter()],
    }),
  };
}

const HEADER = [
  ' pai-secrets: shared LLM gateway, rendered by `pai render gateway` (docs/GATEWAY.md).',
  '',
  ' Agents call https://<gateway>:PORT/<modelprovider>/… instead of the provider base URL; the injector',
  ' (ext_authz Check over a unix socket, context_extensions pai.mode: gateway) identifies the agent by',
  ' its client certificate or its agent token, checks spec.modelProviders, removes the token and sets',
  ' the provider key. failure_mode_allow: false: no answer from the injector, no request upstream.',
  ' No retry_policy and no internal_redirect_policy: a request carrying a key goes once, to one host.',
].join('\n');

/**
 * The gateway bootstrap for `modelProviders` (sorted by name; bedrock is skipped: SigV4 needs
 * ext_proc, which the gateway does not run). Throws PaiError `invalid` for a ModelProvider without
 * a usable base URL.
 */
export function renderGatewayConfig(
  modelProviders: readonly ModelProvider[],
  options: GatewayRenderOptions = {},
): RenderedGateway {
  const mode = options.clientCertificates ?? 'required';
  const dir = (options.tlsDir ?? '/etc/pai/gateway').replace(/\/+$/, '');
  const sorted = [...modelProviders].sort((a, b) => byCodeUnit(a.metadata.name, b.metadata.name));
  const skipped = sorted
    .filter((mp) => mp.spec.provider === 'bedrock')
    .map((mp) => ({ name: mp.metadata.name, reason: 'bedrock signs requests with SigV4, which needs ext_proc' }));
  const upstreams = sorted.filter((mp) => mp.spec.provider !== 'bedrock').map(upstreamOf);
  const config: Obj = {
    node: { id: 'pai-gateway', cluster: 'pai-gateway' },
    admin: ADMIN,
    static_resources: {
      listeners: [
        {
          name: 'llm_gateway',
          address: { socket_address: { address: '0.0.0.0', port_value: options.port ?? 8080 } },
          filter_chains: [
            { transport_socket: downstreamTls(mode, options.trustDomain ?? 'pai', dir), filters: [connectionManager(upstreams)] },
          ],
        },
      ],
      clusters: [...upstreams.map(cluster), injectorCluster(options.injectorSocket ?? DEFAULT_INJECTOR_SOCKET)],
    },
  };
  const doc = new Document(config);
  const skippedNote = skipped.map((s) => `\n Not routed: ModelProvider ${s.name} (${s.reason}).`).join('');
  doc.commentBefore = `${HEADER}\n Client certificates: ${mode}.${skippedNote}`;
  return { yaml: doc.toString({ lineWidth: 0 }), config, skipped };
}
