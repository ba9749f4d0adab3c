/**
 * The Envoy configs we ship, checked against Envoy's own config protos (no Envoy binary can be
 * installed here), plus the security properties DESIGN.md §6 asks of them. Every file in envoy/ is
 * picked up by listing the directory.
 */
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseDocument } from 'yaml';
import { loadEnvoyRoot, validateEnvoyBootstrap } from './helpers/envoy-schema.js';

const ENVOY_DIR = fileURLToPath(new URL('../envoy/', import.meta.url));
const FILES = readdirSync(ENVOY_DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const read = (file: string): string => readFileSync(path.join(ENVOY_DIR, file), 'utf8');

const HCM = ['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config'];
const EXT_AUTHZ = [...HCM, 'http_filters', 0, 'typed_config'];
// listeners[0] is agent_https; its virtual_hosts[1] is the second of the agent's hosts (a forwarding route).
const ROUTE = [...HCM, 'route_config', 'virtual_hosts', 1, 'routes', 0];
const BASE = 'sidecar-ext-authz.yaml';

type Edit = { path: (string | number)[]; value?: unknown };

/** The base file with each edit applied (value undefined = delete), as YAML text. */
function edited(edits: Edit[]): string {
  const doc = parseDocument(read(BASE));
  for (const e of edits) {
    if (e.value === undefined) doc.deleteIn(e.path);
    else doc.setIn(e.path, e.value);
  }
  return doc.toString();
}

/** Every [key, value] pair in a parsed YAML tree, depth first. */
function* entries(v: unknown): Generator<[string, unknown]> {
  if (Array.isArray(v)) {
    for (const item of v) yield* entries(item);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, item] of Object.entries(v)) {
      yield [k, item];
      yield* entries(item);
    }
  }
}

/** The values of every `key` anywhere in the tree. */
const valuesOf = (tree: unknown, key: string): unknown[] => [...entries(tree)].filter(([k]) => k === key).map(([, v]) => v);

test.before('load the Envoy protos once', (t) => {
  const started = performance.now();
  loadEnvoyRoot();
  t.log(`Envoy protos loaded in ${Math.round(performance.now() - started)} ms`);
});

// --- The validator catches what Envoy would reject (failure cases first) ---

const rejected: { name: string; edits: Edit[]; expect: RegExp }[] = [
  {
    name: 'an unknown field, with its path',
    edits: [{ path: [...EXT_AUTHZ, 'failure_mode_allowed'], value: false }],
    expect: /^static_resources\.listeners\[0\].*http_filters\[0\]\.typed_config\.failure_mode_allowed: unknown field/,
  },
  {
    name: 'a string where a bool goes',
    edits: [{ path: [...EXT_AUTHZ, 'failure_mode_allow'], value: 'false' }],
    expect: /failure_mode_allow: expected true or false/,
  },
  {
    name: 'a word where a port number goes',
    edits: [{ path: ['static_resources', 'listeners', 0, 'address', 'socket_address', 'port_value'], value: 'fifteen' }],
    expect: /port_value: expected an integer/,
  },
  {
    name: 'a number where a string goes',
    edits: [{ path: [...HCM, 'stat_prefix'], value: 42 }],
    expect: /stat_prefix: expected a string/,
  },
  {
    name: 'an object where a list goes',
    edits: [{ path: [...HCM, 'access_log'], value: { name: 'envoy.access_loggers.stdout' } }],
    expect: /access_log: expected a list/,
  },
  {
    name: 'a single string where a list goes',
    edits: [{ path: [...HCM, 'route_config', 'virtual_hosts', 0, 'domains'], value: '*' }],
    expect: /domains: expected a list, got string/,
  },
  {
    name: 'a list where a map goes',
    edits: [{ path: [...ROUTE, 'typed_per_filter_config'], value: ['x'] }],
    expect: /typed_per_filter_config: expected an object \(map\)/,
  },
  {
    name: 'a misspelled enum',
    edits: [{ path: [...EXT_AUTHZ, 'transport_api_version'], value: 'V33' }],
    expect: /transport_api_version: "V33" is not a value of enum envoy\.config\.core\.v3\.ApiVersion/,
  },
  {
    name: 'a lower-cased enum',
    edits: [{ path: [...HCM, 'codec_type'], value: 'auto' }],
    expect: /codec_type: "auto" is not a value/,
  },
  {
    name: 'an undefined enum number',
    edits: [{ path: [...HCM, 'codec_type'], value: 99 }],
    expect: /codec_type: 99 is not a number of enum/,
  },
  {
    name: 'an unresolvable @type',
    edits: [{ path: [...EXT_AUTHZ, '@type'], value: 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuth' }],
    expect: /typed_config\.@type: unresolvable type envoy\.extensions\.filters\.http\.ext_authz\.v3\.ExtAuth/,
  },
  {
    name: 'an @type without the type.googleapis.com/ prefix',
    edits: [{ path: [...EXT_AUTHZ, '@type'], value: 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz' }],
    expect: /@type: type URL must start with type\.googleapis\.com\//,
  },
  { name: 'an Any without @type', edits: [{ path: [...EXT_AUTHZ, '@type'] }], expect: /typed_config\.@type: missing "@type"/ },
  {
    name: 'a field of the wrong message inside an Any',
    edits: [{ path: [...EXT_AUTHZ, 'request_attributes'], value: ['xds.route_metadata'] }],
    expect: /request_attributes: unknown field in envoy\.extensions\.filters\.http\.ext_authz\.v3\.ExtAuthz/,
  },
  {
    name: 'a duration in milliseconds',
    edits: [{ path: [...EXT_AUTHZ, 'grpc_service', 'timeout'], value: '250ms' }],
    expect: /grpc_service\.timeout: expected a duration string like "1\.5s", got "250ms"/,
  },
  {
    name: 'a duration as a bare number',
    edits: [{ path: [...HCM, 'stream_idle_timeout'], value: 300 }],
    expect: /stream_idle_timeout: expected a duration string/,
  },
  {
    name: 'two members of one oneof',
    edits: [{ path: [...ROUTE, 'route', 'cluster_header'], value: 'x-cluster' }],
    expect: /route\.cluster_header: oneof cluster_specifier already set by cluster/,
  },
  {
    name: 'a field given by both its proto and JSON name',
    edits: [{ path: [...HCM, 'statPrefix'], value: 'again' }],
    expect: /statPrefix: field stat_prefix is also set as stat_prefix/,
  },
  {
    name: 'a missing required string (validate.rules min_len)',
    edits: [{ path: [...HCM, 'stat_prefix'] }],
    expect: /typed_config\.stat_prefix: required field is missing/,
  },
  {
    name: 'a missing required message (validate.rules required)',
    edits: [{ path: [...ROUTE, 'match'] }],
    expect: /virtual_hosts\[1\]\.routes\[0\]\.match: required field is missing/,
  },
  {
    name: 'a oneof that must be set',
    edits: [{ path: [...ROUTE, 'typed_per_filter_config', 'envoy.filters.http.ext_authz', 'check_settings'] }],
    expect: /one of disabled, check_settings is required/,
  },
  {
    name: 'a number outside a validate.rules range (pipe mode 600 decimal)',
    edits: [{ path: ['admin', 'address', 'pipe', 'mode'], value: 600 }],
    expect: /admin\.address\.pipe\.mode: 600 violates validate rule lte 511/,
  },
  {
    name: 'an out-of-range integer',
    edits: [{ path: ['static_resources', 'listeners', 0, 'address', 'socket_address', 'port_value'], value: -1 }],
    expect: /port_value: expected an integer in range/,
  },
  {
    name: 'a deprecated field',
    edits: [
      {
        path: [
          'static_resources',
          'clusters',
          0,
          'transport_socket',
          'typed_config',
          'common_tls_context',
          'validation_context',
          'match_subject_alt_names',
        ],
        value: [{ exact: 'api.github.com' }],
      },
    ],
    expect: /match_subject_alt_names: deprecated field/,
  },
];

for (const c of rejected) {
  test(`rejects ${c.name}`, (t) => {
    const problems = validateEnvoyBootstrap(edited(c.edits));
    t.true(
      problems.some((p) => c.expect.test(p)),
      `no problem matched ${String(c.expect)}; got:\n${problems.join('\n')}`,
    );
  });
}

test('rejects a plain yes/on (yaml-cpp reads it as a bool) where a string goes', (t) => {
  const text = read(BASE).replace('stat_prefix: agent_https', 'stat_prefix: on');
  t.true(validateEnvoyBootstrap(text).some((p) => /stat_prefix: expected a string \(string\), got boolean/.test(p)));
});

test('reads a leading-zero integer as octal, as Envoy (yaml-cpp) does', (t) => {
  t.deepEqual(validateEnvoyBootstrap(read(BASE).replace('mode: 384', 'mode: 0600')), []);
  t.true(validateEnvoyBootstrap(read(BASE).replace('mode: 384', 'mode: 0800')).some((p) => /mode: 800 violates/.test(p)));
});

test('rejects a TypedStruct whose value does not fit its type_url', (t) => {
  const typed = {
    '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
    type_url: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
    value: { suppress_envoy_header: true },
  };
  const problems = validateEnvoyBootstrap(edited([{ path: [...HCM, 'http_filters', 2, 'typed_config'], value: typed }]));
  t.true(
    problems.some((p) => /typed_config\.value\.suppress_envoy_header: unknown field/.test(p)),
    problems.join('\n'),
  );
});

test('reports YAML syntax errors and duplicate keys instead of throwing', (t) => {
  t.regex(validateEnvoyBootstrap('admin: [unclosed').join('\n'), /^yaml: /);
  t.regex(validateEnvoyBootstrap('node: {id: a}\nnode: {id: b}\n').join('\n'), /yaml: .*unique/i);
});

// --- ...and accepts what Envoy's proto3 JSON mapping accepts ---

const accepted: { name: string; edits: Edit[] }[] = [
  {
    name: 'JSON (lowerCamel) field names',
    edits: [{ path: [...HCM, 'stat_prefix'] }, { path: [...HCM, 'statPrefix'], value: 'agent_egress' }],
  },
  {
    name: 'integers written as strings',
    edits: [{ path: ['static_resources', 'listeners', 0, 'address', 'socket_address', 'port_value'], value: '15001' }],
  },
  { name: 'enums by number', edits: [{ path: [...HCM, 'codec_type'], value: 0 }] },
  { name: 'null as "unset"', edits: [{ path: [...HCM, 'request_headers_timeout'], value: null }] },
  {
    name: 'wrappers as bare scalars',
    edits: [{ path: ['static_resources', 'listeners', 0, 'per_connection_buffer_limit_bytes'], value: '10485760' }],
  },
];

for (const c of accepted) {
  test(`accepts ${c.name}`, (t) => {
    t.deepEqual(validateEnvoyBootstrap(edited(c.edits)), []);
  });
}

// --- Every shipped file is valid ---

test('envoy/ holds the three shipped configs (and any new file is checked below)', (t) => {
  for (const f of ['gateway.yaml', 'sidecar-ext-authz.yaml', 'sidecar-ext-proc.yaml']) t.true(FILES.includes(f), f);
});

for (const file of FILES) {
  test(`envoy/${file} is a valid Envoy bootstrap`, (t) => {
    t.deepEqual(validateEnvoyBootstrap(read(file)), []);
  });

  test(`envoy/${file} fails closed and exposes nothing to the agent`, (t) => {
    const tree: unknown = parse(read(file));
    const failOpen = valuesOf(tree, 'failure_mode_allow');
    t.true(failOpen.length > 0, 'has an ext_authz or ext_proc filter');
    t.true(
      failOpen.every((v) => v === false),
      'failure_mode_allow: false everywhere',
    );
    t.deepEqual(valuesOf(tree, 'internal_redirect_policy'), [], 'Envoy never follows redirects itself');
    t.deepEqual(valuesOf(tree, 'retry_policy'), [], 'a request with a credential is sent once');
    const admin = (tree as { admin?: { address?: unknown } }).admin;
    t.deepEqual(admin === undefined ? [] : valuesOf(admin, 'socket_address'), [], 'admin is on a unix socket or off');
    t.true(
      valuesOf(tree, 'pipe').some((p) => (p as { path?: string }).path === '/var/run/pai/injector.sock'),
      'the injector is reached over its unix socket',
    );
  });
}

test('every route either forwards with the filter on, or answers itself with the filter off', (t) => {
  for (const file of FILES) {
    const routes = valuesOf(parse(read(file)), 'routes').flat() as Record<string, unknown>[];
    for (const r of routes) {
      const disabled = valuesOf(r, 'disabled');
      if ('route' in r) t.deepEqual(disabled, [], `${file}: ${String(r['name'])} forwards, so it must be checked`);
      else t.deepEqual(disabled, [true], `${file}: ${String(r['name'])} answers directly`);
    }
  }
});

test('the sidecars listen on loopback only (TLS 8443, HTTP 8081) and name the agent on every forwarding route', (t) => {
  for (const file of FILES.filter((f) => f.startsWith('sidecar-'))) {
    const tree: unknown = parse(read(file));
    t.deepEqual(
      valuesOf(tree, 'socket_address').filter((a) => [8443, 8081].includes((a as { port_value?: number }).port_value ?? 0)),
      [
        { address: '127.0.0.1', port_value: 8443 },
        { address: '127.0.0.1', port_value: 8081 },
      ],
      file,
    );
    const routes = (valuesOf(tree, 'routes').flat() as Record<string, unknown>[]).filter((r) => 'route' in r);
    t.true(routes.length > 0, file);
    for (const r of routes) {
      const agents = [...valuesOf(r, 'pai.agent'), ...valuesOf(valuesOf(r, 'pai'), 'agent')];
      t.deepEqual(agents, ['triage-bot'], `${file}: route ${String(r['name'])} carries the agent name`);
    }
  }
});

test('the ext_proc sidecar forwards the route metadata as request attributes', (t) => {
  const tree: unknown = parse(read('sidecar-ext-proc.yaml'));
  const attributes = [
    "xds.route_metadata.filter_metadata['pai']['agent']",
    "xds.route_metadata.filter_metadata['pai']['namespace']",
    'xds.route_metadata',
  ];
  t.deepEqual(valuesOf(tree, 'request_attributes'), [attributes, attributes], 'one filter per listener');
  t.deepEqual(valuesOf(tree, 'per_connection_buffer_limit_bytes'), [10 * 1024 * 1024, 10 * 1024 * 1024]);
});

test('the gateway maps /<name>/ to the provider host with matching context, cluster and TLS name', (t) => {
  const tree: unknown = parse(read('gateway.yaml'));
  t.deepEqual(valuesOf(tree, 'include_peer_certificate'), [true]);
  t.deepEqual(valuesOf(tree, 'require_client_certificate'), [true]);
  const clusters = valuesOf(tree, 'clusters').flat() as { name: string }[];
  const routes = (valuesOf(tree, 'routes').flat() as { name: string }[]).filter((r) => r.name.startsWith('modelprovider_'));
  t.deepEqual(routes.map((r) => r.name).sort(), ['modelprovider_anthropic', 'modelprovider_gemini', 'modelprovider_openai']);
  for (const r of routes) {
    const provider = r.name.slice('modelprovider_'.length);
    const host = valuesOf(r, 'host_rewrite_literal')[0];
    t.deepEqual(valuesOf(r, 'prefix'), [`/${provider}/`]);
    t.deepEqual(valuesOf(r, 'pai.modelprovider'), [provider]);
    t.deepEqual(valuesOf(r, 'pai.mode'), ['gateway']);
    const cluster = clusters.find((c) => c.name === r.name);
    t.deepEqual(cluster && valuesOf(cluster, 'sni'), [host], `${r.name}: SNI is the rewritten host`);
    t.deepEqual(cluster && valuesOf(cluster, 'exact'), [host], `${r.name}: certificate must name the host`);
  }
});
