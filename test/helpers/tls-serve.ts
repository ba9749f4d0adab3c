/**
 * A running `pai serve` (local store) with agents bound to Providers and ModelProviders of every
 * type, for the TLS suites and the TLS benchmark that go through the real server: triage-bot holds
 * one Provider of each type and ModelProviders of five kinds; other-bot holds only Anthropic (a host
 * triage-bot lacks). Also an SDS client for the server's injector socket and the leaf it serves.
 */
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { SecretDiscoveryServiceClient } from '../../src/generated/envoy/service/secret/v3/SecretDiscoveryService.js';
import { loadSdsService } from '../../src/injector/sds-protos.js';
import { Admin } from './injector.js';
import { type ServeHandle, adminToken } from './process.js';
import { fetchSecrets, sdsRequest, secretsOf } from './sds.js';

/** Secrets the manifests below refer to (values are canaries' stand-ins: the TLS suites never inject). */
export const TLS_SECRETS: Readonly<Record<string, Record<string, string>>> = {
  'github-pat': { token: 'ghp_tls_suite_0000' },
  'telegram-token': { token: '123456:tls-suite' },
  'slack-token': { token: 'xoxb-tls-suite' },
  'aws-creds': { access_key_id: 'AKIATLSSUITE', secret_access_key: 'tls-suite-secret-access-key' },
  'gcp-sa': { 'key.json': '{"type":"service_account","client_email":"a@b.iam.gserviceaccount.com"}' },
  'azure-sp': { client_id: 'tls-suite-client', client_secret: 'tls-suite-secret' },
  'stripe-key': { token: 'sk_tls_suite' },
  'linear-token': { token: 'lin_tls_suite' },
  'openai-key': { 'api-key': 'sk-tls-suite' },
  'anthropic-key': { 'api-key': 'sk-ant-tls-suite' },
  'gemini-key': { 'api-key': 'AIza-tls-suite' },
  'openrouter-key': { 'api-key': 'sk-or-tls-suite' },
  'azure-openai-key': { 'api-key': 'azure-tls-suite' },
};

/** One Provider of each type, five ModelProviders, and the two agents (Pai's own form). */
export const TLS_MANIFEST = `apiVersion: pai.io/v1
kind: Provider
metadata: {name: github}
spec: {type: github, auth: {type: pat, secretRef: github-pat}}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: telegram}
spec: {type: telegram, auth: {type: bot-token, secretRef: telegram-token}}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: slack}
spec: {type: slack, auth: {type: bot-token, secretRef: slack-token}}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: aws}
spec: {type: aws, auth: {type: aws-sigv4, secretRef: aws-creds}, config: {region: eu-west-1, services: [s3, sqs]}}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: gcs}
spec: {type: gcp, auth: {type: gcp-service-account, secretRef: gcp-sa, secretKey: key.json}, config: {project: my-gcp-project, services: [storage]}}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: azure}
spec:
  type: azure
  auth: {type: azure-client-credentials, secretRef: azure-sp}
  config: {tenantId: "00000000-0000-0000-0000-000000000000", services: [storage]}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: stripe}
spec: {type: http-token, host: api.stripe.com, auth: {type: api-key, secretRef: stripe-key}}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: linear}
spec: {type: mcp, mcp: {url: "https://mcp.linear.app/sse", transport: sse}, auth: {type: api-key, secretRef: linear-token}}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: openai}
spec: {provider: openai, apiKeySecretRef: {name: openai-key, key: api-key}}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: anthropic}
spec: {provider: anthropic, apiKeySecretRef: {name: anthropic-key, key: api-key}}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: google}
spec: {provider: gemini, apiKeySecretRef: {name: gemini-key, key: api-key}}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: openrouter}
spec: {provider: openrouter, apiKeySecretRef: {name: openrouter-key, key: api-key}}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: azure-gpt}
spec: {provider: azure-openai, endpoint: "https://my-resource.openai.azure.com", apiKeySecretRef: {name: azure-openai-key, key: api-key}}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: vllm}
spec: {provider: vllm, endpoint: "https://vllm.models.example.com/v1"}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: triage-bot}
spec:
  providers: [github, telegram, slack, aws, gcs, azure, stripe, linear]
  models: [openai/gpt-4o, google/gemini-2.5-flash, openrouter/meta-llama/llama-3.1-70b, azure-gpt/gpt-4o, vllm/llama]
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: other-bot}
spec: {models: [anthropic/claude-sonnet-4]}
`;

/** Writes TLS_SECRETS through the admin API. */
export async function seedTlsSecrets(server: ServeHandle): Promise<Admin> {
  const admin = new Admin(server.adminUrl, adminToken(server.dataDir));
  for (const [name, data] of Object.entries(TLS_SECRETS)) await admin.createSecret(name, data);
  return admin;
}

/** An SDS client (Envoy's protos) on the server's injector socket. */
export function sdsClient(server: ServeHandle): SecretDiscoveryServiceClient {
  const { SecretDiscoveryService } = loadSdsService().envoy.service.secret.v3;
  return new SecretDiscoveryService(server.injectorAddress(), grpc.credentials.createInsecure());
}

export interface ServedLeaf {
  readonly chainPem: string;
  readonly keyPem: string;
  readonly version: string;
  /** The leaf's DNS SANs, sorted. */
  readonly sans: string[];
}

/** The DNS names of the first certificate of `chainPem`, sorted. */
export function sansOf(chainPem: string): string[] {
  const alt = new X509Certificate(chainPem).subjectAltName ?? '';
  return alt
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4))
    .sort();
}

/** The leaf FetchSecrets answers for `agent` (throws unless exactly one pai-leaf came back). */
export async function fetchLeaf(client: SecretDiscoveryServiceClient, agent: string, namespace?: string): Promise<ServedLeaf> {
  const res = await fetchSecrets(client, sdsRequest({ agent, ...(namespace ? { namespace } : {}) }));
  const [secret, ...rest] = secretsOf(res);
  if (!secret || rest.length > 0 || secret.name !== 'pai-leaf') throw new Error('unexpected SDS answer');
  return { chainPem: secret.chainPem, keyPem: secret.keyPem, version: res.version_info ?? '', sans: sansOf(secret.chainPem) };
}
