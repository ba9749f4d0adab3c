/**
 * The Envoy side of SDS as docs/TLS.md shows it (the TLS excerpt of what `pai render sidecar` emits): valid
 * against Envoy's own config protos, and naming exactly what the SDS service serves (resource
 * names, node metadata keys, state-of-the-world gRPC).
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parse } from 'yaml';
import { AGENT_METADATA, NAMESPACE_METADATA, SDS_RESOURCE_NAMES } from '../src/injector/sds-messages.js';
import { validateEnvoyBootstrap } from './helpers/envoy-schema.js';

const DOC = readFileSync(new URL('../docs/TLS.md', import.meta.url), 'utf8');
const SECTION = DOC.slice(DOC.indexOf('### Envoy side'));
const YAML_BLOCK = /```yaml\n([\s\S]*?)```/.exec(SECTION)?.[1] ?? '';

/** Every value under a key named `key`, anywhere in a parsed YAML tree. */
function valuesOf(tree: unknown, key: string): unknown[] {
  if (Array.isArray(tree)) return tree.flatMap((item) => valuesOf(item, key));
  if (typeof tree !== 'object' || tree === null) return [];
  return Object.entries(tree).flatMap(([k, v]) => [...(k === key ? [v] : []), ...valuesOf(v, key)]);
}

test("docs/TLS.md carries an Envoy block, valid against Envoy's protos", (t) => {
  t.true(YAML_BLOCK.length > 500, 'the block was found');
  t.deepEqual(validateEnvoyBootstrap(YAML_BLOCK), []);
});

test('a broken copy of the block is refused (the check can fail)', (t) => {
  t.notDeepEqual(
    validateEnvoyBootstrap(YAML_BLOCK.replace('tls_certificate_sds_secret_configs', 'tls_certificate_sds_configs')),
    [],
  );
});

test('it names exactly the SDS resources and node metadata keys the service uses, over state-of-the-world gRPC', (t) => {
  const doc = parse(YAML_BLOCK) as Record<string, unknown>;
  const sds = valuesOf(doc, 'tls_certificate_sds_secret_configs').flat() as { name: string; sds_config: unknown }[];
  t.deepEqual(sds.map((s) => s.name).sort(), [...SDS_RESOURCE_NAMES].sort());
  t.deepEqual(valuesOf(sds, 'api_type'), ['GRPC']);
  t.deepEqual(valuesOf(sds, 'cluster_name'), ['pai_injector']);
  const metadata = (doc['node'] as { metadata: Record<string, string> }).metadata;
  t.deepEqual(Object.keys(metadata).sort(), [AGENT_METADATA, NAMESPACE_METADATA].sort());
  t.deepEqual(valuesOf(doc, 'alpn_protocols'), [['h2', 'http/1.1']]);
  t.deepEqual(valuesOf(doc, 'path'), ['/var/run/pai/injector.sock']);
});
