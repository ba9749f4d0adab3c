/**
 * Pieces of Envoy bootstrap shared by the renderers of the LLM gateway (gateway-config.ts) and of
 * an agent's sidecar (sidecar-config.ts): typed Any values, the injector cluster, upstream TLS to a
 * real API host, the router filter. Plain objects in Envoy's proto3 JSON/YAML field names. Pure.
 */

export type Obj = Record<string, unknown>;

const TYPE = 'type.googleapis.com/';
/** The dotted-decimal IPv4 shape (hosts were validated when written; this only tells names from addresses). */
export const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
/** The system CA bundle of the Envoy image (Debian/Ubuntu path); never the pai CA (docs/TLS.md). */
export const SYSTEM_TRUST = '/etc/ssl/certs/ca-certificates.crt';
/** The injector's unix socket as the Envoy container mounts it. */
export const DEFAULT_INJECTOR_SOCKET = '/var/run/pai/injector.sock';
/** Envoy's admin API: a 0600 socket (384 decimal) in a directory only the Envoy container mounts. */
export const ADMIN = { address: { pipe: { path: '/var/run/pai-envoy/admin.sock', mode: 384 } } } as const;

/** A google.protobuf.Any of `type` (a fully qualified message name) with `fields`. */
export const anyOf = (type: string, fields: Obj): Obj => ({ '@type': `${TYPE}${type}`, ...fields });

const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** typed_extension_protocol_options for a cluster: `config` is the HttpProtocolOptions body. */
export const httpProtocolOptions = (config: Obj): Obj => ({ [HTTP_OPTIONS]: anyOf(HTTP_OPTIONS, config) });

/**
 * The TLS transport socket to a real API host: SNI = host (none for an IP address, whose
 * certificate names the IP), TLS 1.2 or later, a certificate from the system roots that names host.
 */
export function upstreamTls(host: string): Obj {
  const ip = IPV4.test(host);
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: anyOf('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', {
      // SNI must be a name (RFC 6066): none for an IP address, whose certificate names the IP.
      ...(ip ? {} : { sni: host }),
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
        validation_context: {
          trusted_ca: { filename: SYSTEM_TRUST },
          match_typed_subject_alt_names: [{ san_type: ip ? 'IP_ADDRESS' : 'DNS', matcher: { exact: host } }],
        },
      },
    }),
  };
}

/** A cluster `name` of one endpoint host:port (DNS-resolved unless an IPv4 literal), TLS when `tls`. */
export function hostCluster(name: string, host: string, port: number, tls: boolean): Obj {
  const ip = IPV4.test(host);
  return {
    name,
    type: ip ? 'STATIC' : 'LOGICAL_DNS',
    ...(ip ? {} : { dns_lookup_family: 'V4_PREFERRED' }),
    connect_timeout: '5s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }],
    },
    // ALPN picks h2 or HTTP/1.1 over TLS; plain http (loopback only) has no ALPN.
    typed_extension_protocol_options: httpProtocolOptions(
      tls
        ? { auto_config: { http_protocol_options: {}, http2_protocol_options: {} } }
        : { explicit_http_config: { http_protocol_options: {} } },
    ),
    ...(tls ? { transport_socket: upstreamTls(host) } : {}),
  };
}

/** The `pai_injector` cluster (or `name`) over a unix socket, for gRPC (so HTTP/2). */
export function injectorCluster(socket: string, name = 'pai_injector'): Obj {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '0.25s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socket } } } }] }],
    },
    typed_extension_protocol_options: httpProtocolOptions({ explicit_http_config: { http2_protocol_options: {} } }),
  };
}

export const EXT_AUTHZ = 'envoy.filters.http.ext_authz';

/**
 * The ext_authz filter asking the injector (cluster pai_injector): fail closed (an injector error
 * is a 503, never a request passed without its decision), mutations validated, and no routing or
 * Envoy-internal header may be set by the answer. `includePeerCertificate`: the gateway passes the
 * agent's client certificate (its identity); a sidecar has none to pass.
 */
export function extAuthzFilter(includePeerCertificate: boolean): Obj {
  return {
    name: EXT_AUTHZ,
    typed_config: anyOf('envoy.extensions.filters.http.ext_authz.v3.ExtAuthz', {
      transport_api_version: 'V3',
      grpc_service: { envoy_grpc: { cluster_name: 'pai_injector' }, timeout: '0.5s' },
      failure_mode_allow: false,
      status_on_error: { code: 'ServiceUnavailable' },
      include_peer_certificate: includePeerCertificate,
      clear_route_cache: false,
      validate_mutations: true,
      decoder_header_mutation_rules: { allow_all_routing: false, allow_envoy: false, disallow_is_error: true },
    }),
  };
}

/** The router, last http filter; suppress_envoy_headers: third-party APIs learn nothing about this proxy. */
export function routerFilter(): Obj {
  return {
    name: 'envoy.filters.http.router',
    typed_config: anyOf('envoy.extensions.filters.http.router.v3.Router', { suppress_envoy_headers: true }),
  };
}

/** A stdout access log of `format` (JSON). */
export function stdoutAccessLog(format: Obj): Obj {
  return {
    name: 'envoy.access_loggers.stdout',
    typed_config: anyOf('envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', { log_format: { json_format: format } }),
  };
}

/** Sorts names by code unit (locale-independent, so a rendered file is the same everywhere). */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
