/**
 * The fixture agents whose `pai render sidecar` output is shipped as envoy/sidecar-ext-authz.yaml
 * and envoy/sidecar-ext-proc.yaml. `npx tsx scripts/render-envoy-examples.ts` (make envoy-examples)
 * writes them; test/sidecar-render.test.ts checks the files equal this output, byte for byte.
 */
import { parse } from 'yaml';
import { type RenderedSidecar, endpointsOf, renderSidecarConfig } from '../src/resources/sidecar-config.js';
import { resolveAgent } from '../src/resources/resolve.js';
import type { Agent, ModelProvider, Provider } from '../src/resources/types.js';
import { parseResource } from '../src/resources/validate.js';
import { yamlDocuments } from '../src/resources/yaml-documents.js';

export interface Example {
  /** The file under envoy/. */
  readonly file: string;
  /** The manifests applied (the agent last), as written at the top of the file. */
  readonly manifests: string;
}

const PROVIDERS = `apiVersion: pai.io/v1
kind: Provider
metadata: {name: github}
spec: {type: github, auth: {type: pat, secretRef: github-token}}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: openai}
spec: {provider: openai, apiKeySecretRef: {name: openai-key, key: api-key}}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: gcp}
spec: {type: gcp, auth: {type: gcp-service-account, secretRef: gcp-sa}}`;

export const EXAMPLES: readonly Example[] = [
  {
    file: 'sidecar-ext-authz.yaml',
    manifests: `${PROVIDERS}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: triage-bot}
spec: {modelProviders: [openai], providers: [github, gcp]}`,
  },
  {
    file: 'sidecar-ext-proc.yaml',
    manifests: `${PROVIDERS}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: telegram}
spec: {type: telegram, auth: {type: bot-token, secretRef: telegram-bot}}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: aws}
spec: {type: aws, auth: {type: aws-sigv4, secretRef: aws-keys}, config: {region: eu-west-1, services: [s3, sqs]}}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: triage-bot}
spec: {modelProviders: [openai], providers: [github, gcp, telegram, aws]}`,
  },
];

/** The rendered sidecar of an example (auto mode, the pod's own injector). */
export function renderExample(example: Example): { rendered: RenderedSidecar; text: string } {
  const resources = yamlDocuments(example.manifests, example.file, 1 << 20).map((doc) => parseResource(doc.value, example.file));
  const agent = resources.find((r): r is Agent => r.kind === 'Agent');
  if (agent === undefined) throw new Error(`${example.file}: no Agent in the fixture`);
  const providers = resources.filter((r): r is Provider => r.kind === 'Provider');
  const modelProviders = resources.filter((r): r is ModelProvider => r.kind === 'ModelProvider');
  const { agent: resolved } = resolveAgent(
    agent,
    new Map(providers.map((p) => [p.metadata.name, p])),
    new Map(modelProviders.map((m) => [m.metadata.name, m])),
  );
  const rendered = renderSidecarConfig({ namespace: resolved.namespace, name: resolved.name }, resolved.targets, {
    endpoints: endpointsOf([...providers, ...modelProviders]),
  });
  const fixture = example.manifests
    .split('\n')
    .map((line) => `#   ${line}`.trimEnd())
    .join('\n');
  const intro = [
    `# EXAMPLE of \`pai render sidecar triage-bot\` for these resources (regenerate: make envoy-examples;`,
    '# test/sidecar-render.test.ts checks this file equals the output):',
    '#',
    fixture,
    '#',
  ].join('\n');
  return { rendered, text: `${intro}\n${rendered.yaml}` };
}

/** The parsed YAML of an example file (for tests that look inside). */
export const parsedExample = (text: string): unknown => parse(text);
