/**
 * `pai render sidecar` (issue 14 item 3), the pure renderer: for an agent of every Provider type
 * and ModelProvider kind (enumerated from the registries, so a new type is covered), in both modes
 * and in shared mode, the bootstrap passes Envoy's config protos and serves exactly the agent's
 * hosts (TLS server_names = the leaf's SANs, one route each, every other host a 403); the names it
 * uses are the ones the injector and the SDS service read; envoy/sidecar-*.yaml equal its output.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { AGENT_ATTRIBUTE, NAMESPACE_ATTRIBUTE, ROUTE_METADATA_ATTRIBUTE } from '../src/injector/ext-proc-identity.js';
import { AGENT_EXTENSION, NAMESPACE_EXTENSION } from '../src/injector/identity.js';
import { hostsOfTargets } from '../src/injector/leaf-hosts.js';
import { AGENT_METADATA, LEAF_RESOURCE, NAMESPACE_METADATA } from '../src/injector/sds-messages.js';
import { PROVIDER_REGISTRY } from '../src/providers/registry.js';
import { targetsOf } from '../src/resources/defaults.js';
import {
  type SidecarInjector,
  type SidecarMode,
  type SidecarTarget,
  LEAF_SECRET,
  endpointsOf,
  renderSidecarConfig,
  sidecarModeFor,
} from '../src/resources/sidecar-config.js';
import { MODEL_PROVIDER_KINDS, PROVIDER_TYPES, type ModelProvider, type Provider } from '../src/resources/types.js';
import { parseResource } from '../src/resources/validate.js';
import { planSans } from '../src/tls/sans.js';
import { EXAMPLES, renderExample } from '../scripts/envoy-examples.js';
import { validateEnvoyBootstrap } from './helpers/envoy-schema.js';

type Json = Record<string, unknown>;
const AGENT = { namespace: 'team-a', name: 'triage-bot' };
const SHARED: SidecarInjector = { kind: 'mtls', address: 'pai-injector.pai-system.svc:9443', sdsCertName: 'default' };

/** What some types need beyond the generic spec (a field without a usable default). */
const PROVIDER_EXTRA: Partial<Record<string, Json>> = {
  gcp: { config: { project: 'my-project-1' } },
  azure: { config: { tenantId: '00000000-0000-0000-0000-000000000000' } },
  aws: { config: { region: 'eu-west-1', services: ['s3', 'sqs'] } },
  mcp: { mcp: { url: 'https://mcp.example.com:8443/sse' }, policy: { mcp: { allowedTools: ['list_issues'] } } },
};
const MODEL_EXTRA: Partial<Record<string, Json>> = {
  'azure-openai': { endpoint: 'https://res.openai.azure.com' },
  vllm: { endpoint: 'http://127.0.0.1:8000' },
  bedrock: { apiKeySecretRef: { name: 'aws' }, region: 'us-east-1' },
};

function providerOf(type: string): Provider {
  const spec: Json = { type, auth: { secretRef: 's' }, ...PROVIDER_EXTRA[type] };
  if (PROVIDER_REGISTRY[type as keyof typeof PROVIDER_REGISTRY].defaultHosts.length === 0 && type !== 'mcp') {
    spec['host'] = `${type}.example.com`;
  }
  return parseResource({ apiVersion: 'pai.io/v1', kind: 'Provider', metadata: { name: type }, spec }, type) as Provider;
}

function modelProviderOf(kind: string): ModelProvider {
  const spec = { provider: kind, apiKeySecretRef: { name: 'k', key: 'api-key' }, ...MODEL_EXTRA[kind] };
  return parseResource({ apiVersion: 'pai.io/v1', kind: 'ModelProvider', metadata: { name: kind }, spec }, kind) as ModelProvider;
}

const FIXTURES: { name: string; resources: (Provider | ModelProvider)[] }[] = [
  ...PROVIDER_TYPES.map((type) => ({ name: `Provider ${type}`, resources: [providerOf(type)] })),
  ...MODEL_PROVIDER_KINDS.map((kind) => ({ name: `ModelProvider ${kind}`, resources: [modelProviderOf(kind)] })),
  {
    name: 'every type at once',
    resources: [...PROVIDER_TYPES.map(providerOf), ...MODEL_PROVIDER_KINDS.map(modelProviderOf)],
  },
];

/** Every value under a key named `key`, anywhere in a tree. */
function valuesOf(tree: unknown, key: string): unknown[] {
  if (Array.isArray(tree)) return tree.flatMap((item) => valuesOf(item, key));
  if (typeof tree !== 'object' || tree === null) return [];
  return Object.entries(tree).flatMap(([k, v]) => [...(k === key ? [v] : []), ...valuesOf(v, key)]);
}

const listeners = (config: Json): Json[] => valuesOf(config, 'listeners').flat() as Json[];
const forwarding = (listener: Json): Json[] =>
  (valuesOf(listener, 'virtual_hosts').flat() as Json[]).filter((vh) => valuesOf(vh, 'route').length > 0);

// --- failure cases first ---

test('a shared injector address that is not HOST:PORT is refused, naming the field', (t) => {
  for (const address of [
    'pai-injector',
    'pai-injector:',
    'pai-injector:0',
    'pai-injector:70000',
    ':9443',
    'a b:1',
    'http://x:1',
  ]) {
    const err = t.throws(() => renderSidecarConfig(AGENT, [], { injector: { ...SHARED, address } }), undefined, address);
    t.regex(err?.message ?? '', /shared injector address must be HOST:PORT/, address);
  }
});

test('an agent without certifiable hosts gets no HTTPS listener (no chain that could match) and still a valid bootstrap', (t) => {
  const rendered = renderSidecarConfig(AGENT, targetsOf(modelProviderOf('vllm')), {
    endpoints: endpointsOf([modelProviderOf('vllm')]),
  });
  t.deepEqual(rendered.serverNames, []);
  t.deepEqual(
    rendered.skipped.map((s) => s.host),
    ['127.0.0.1'],
  );
  t.deepEqual(
    listeners(rendered.config).map((l) => l['name']),
    ['agent_http'],
  );
  t.deepEqual(validateEnvoyBootstrap(rendered.yaml), []);
  t.deepEqual(valuesOf(rendered.config, 'transport_socket'), [], 'plain http to the loopback vllm, as its endpoint says');
  t.deepEqual(valuesOf(rendered.config, 'port_value').includes(8000), true);
});

// --- every type, both modes, shared mode ---

const MODES: (SidecarMode | undefined)[] = [undefined, 'ext-authz', 'ext-proc'];
for (const fixture of FIXTURES) {
  for (const mode of MODES) {
    for (const injector of [undefined, SHARED]) {
      const label = `${fixture.name}, ${mode ?? 'auto'} mode${injector ? ', shared injector' : ''}`;
      test(`${label}: valid, and exactly the agent's hosts`, (t) => {
        const targets = fixture.resources.flatMap((r) => targetsOf(r));
        const rendered = renderSidecarConfig(AGENT, targets, {
          ...(mode ? { mode } : {}),
          ...(injector ? { injector } : {}),
          endpoints: endpointsOf(fixture.resources),
        });
        t.deepEqual(validateEnvoyBootstrap(rendered.yaml), []);
        const hosts = hostsOfTargets(targets);
        t.true(hosts.length > 0, 'the fixture binds hosts');
        t.deepEqual(rendered.serverNames, planSans(hosts).dnsNames, 'the SNI allow list is the leaf SAN list');
        const https = listeners(rendered.config).find((l) => l['name'] === 'agent_https');
        t.deepEqual(https === undefined ? [] : valuesOf(https, 'server_names'), https ? [rendered.serverNames] : []);
        for (const listener of listeners(rendered.config)) {
          t.deepEqual(
            forwarding(listener)
              .flatMap((vh) => vh['domains'] as string[])
              .sort(),
            hosts,
            'one route per host',
          );
          const domains = (valuesOf(listener, 'virtual_hosts').flat() as Json[]).flatMap((vh) => vh['domains'] as string[]);
          t.is(new Set(domains).size, domains.length, 'Envoy refuses a domain in two virtual hosts');
          const fallback = (valuesOf(listener, 'virtual_hosts').flat() as Json[]).at(-1);
          t.deepEqual(fallback?.['domains'], ['*']);
          t.deepEqual(valuesOf(fallback, 'status'), [403]);
        }
        t.is(rendered.mode, mode ?? sidecarModeFor(targets));
        t.deepEqual(
          valuesOf(rendered.config, 'failure_mode_allow'),
          listeners(rendered.config).map(() => false),
        );
        t.deepEqual(valuesOf(rendered.config, 'retry_policy'), []);
        t.deepEqual(valuesOf(rendered.config, 'internal_redirect_policy'), []);
        for (const c of valuesOf(rendered.config, 'clusters').flat() as Json[]) {
          const name = String(c['name']);
          if (!name.startsWith('upstream_') || valuesOf(c, 'transport_socket').length === 0) continue;
          const host = name.slice('upstream_'.length);
          t.deepEqual(valuesOf(c, 'exact'), [host], `${name}: the certificate must name the host`);
          t.deepEqual(valuesOf(c, 'filename'), ['/etc/ssl/certs/ca-certificates.crt'], `${name}: system roots only`);
        }
      });
    }
  }
}

test('auto mode: ext-proc exactly when a target rewrites the path, signs, or has a policy that reads the body', (t) => {
  const modeOf = (r: Provider | ModelProvider): SidecarMode => sidecarModeFor(targetsOf(r));
  t.is(modeOf(providerOf('github')), 'ext-authz');
  t.is(modeOf(providerOf('telegram')), 'ext-proc');
  t.is(modeOf(providerOf('aws')), 'ext-proc');
  t.is(modeOf(modelProviderOf('bedrock')), 'ext-proc');
  t.is(modeOf(modelProviderOf('openai')), 'ext-authz');
  t.is(modeOf(providerOf('mcp')), 'ext-proc', 'policy.mcp reads the JSON-RPC body');
  const plainMcp = { ...providerOf('mcp'), spec: { ...providerOf('mcp').spec, policy: {} } } as Provider;
  t.is(modeOf(plainMcp), 'ext-authz');
  const none: SidecarTarget[] = [];
  t.is(sidecarModeFor(none), 'ext-authz');
});

test('the identity, SDS and attribute names are the ones the injector and the SDS service read', (t) => {
  const targets = targetsOf(providerOf('github'));
  const authz = renderSidecarConfig(AGENT, targets, { mode: 'ext-authz' }).config;
  const proc = renderSidecarConfig(AGENT, targets, { mode: 'ext-proc' }).config;
  t.deepEqual((authz['node'] as { metadata: Json }).metadata, { [AGENT_METADATA]: 'triage-bot', [NAMESPACE_METADATA]: 'team-a' });
  t.is(LEAF_SECRET, LEAF_RESOURCE);
  t.deepEqual(
    (valuesOf(authz, 'tls_certificate_sds_secret_configs').flat() as Json[]).map((s) => s['name']),
    [LEAF_RESOURCE],
  );
  for (const ext of valuesOf(authz, 'context_extensions')) {
    t.deepEqual(ext, { [AGENT_EXTENSION]: 'triage-bot', [NAMESPACE_EXTENSION]: 'team-a' });
  }
  t.deepEqual(valuesOf(proc, 'request_attributes')[0], [AGENT_ATTRIBUTE, NAMESPACE_ATTRIBUTE, ROUTE_METADATA_ATTRIBUTE]);
  t.deepEqual(valuesOf(proc, 'filter_metadata')[0], { pai: { agent: 'triage-bot', namespace: 'team-a' } });
  t.deepEqual(valuesOf(authz, 'alpn_protocols'), [['h2', 'http/1.1']]);
  t.deepEqual(valuesOf(authz, 'path').includes('/var/run/pai/injector.sock'), true);
});

test('shared mode: no unix injector; Envoy presents its SDS client certificate to the injector over mTLS', (t) => {
  const config = renderSidecarConfig(AGENT, targetsOf(providerOf('github')), { injector: SHARED }).config;
  const clusters = valuesOf(config, 'clusters').flat() as Json[];
  const injector = clusters.find((c) => c['name'] === 'pai_injector');
  t.deepEqual(valuesOf(injector, 'socket_address'), [{ address: 'pai-injector.pai-system.svc', port_value: 9443 }]);
  t.deepEqual(valuesOf(injector, 'sni'), ['pai-injector.pai-system.svc']);
  t.deepEqual(
    (valuesOf(injector, 'tls_certificate_sds_secret_configs').flat() as Json[]).map((s) => s['name']),
    ['default'],
  );
  t.deepEqual(valuesOf(valuesOf(injector, 'validation_context_sds_secret_config'), 'name'), ['ROOTCA']);
  t.false(valuesOf(config, 'path').includes('/var/run/pai/injector.sock'));
});

for (const example of EXAMPLES) {
  test(`envoy/${example.file} is the renderer's output for the fixture at its top`, (t) => {
    const file = readFileSync(new URL(`../envoy/${example.file}`, import.meta.url), 'utf8');
    t.is(file, renderExample(example).text, 'regenerate with: make envoy-examples');
  });
}
