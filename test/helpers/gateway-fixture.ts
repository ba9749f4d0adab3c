/**
 * The gateway suites' fixture: ModelProviders of every API-key type (and bedrock, which the gateway
 * cannot serve), agents bound to some of them, and agent tokens made through the admin API. Every
 * key is a canary (helpers/canary.ts) so that a leak is findable; so is every token.
 */
import type { Admin, Stack } from './injector.js';
import { resource } from './injector.js';

/** The gateway routes of the fixture: ModelProvider → the host its base URL names, and the base path. */
export const MODEL_PROVIDERS = {
  openai: { host: 'api.openai.com', header: 'authorization', prefix: 'Bearer ', pathPrefix: '/' },
  anthropic: { host: 'api.anthropic.com', header: 'x-api-key', prefix: '', pathPrefix: '/' },
  gemini: { host: 'generativelanguage.googleapis.com', header: 'x-goog-api-key', prefix: '', pathPrefix: '/' },
  azure: { host: 'pai-test.openai.azure.com', header: 'api-key', prefix: '', pathPrefix: '/' },
  compat: { host: 'llm.compat.example', header: 'authorization', prefix: 'Bearer ', pathPrefix: '/v1/' },
} as const;
export type ApiKeyProvider = keyof typeof MODEL_PROVIDERS;

export interface GatewayFixture {
  /** The real key of each ModelProvider. */
  readonly keys: Readonly<Record<ApiKeyProvider, string>>;
  /** Every key, for leak searches. */
  readonly allKeys: readonly string[];
}

/**
 * Seeds `stack` through its admin API: one ModelProvider per API-key type plus bedrock, and agents
 * `bot` (every API-key provider), `openai-bot` (openai only), `lonely-bot` (none) and `bedrock-bot`.
 */
export async function seedGateway(stack: Stack, canary: (label: string) => string): Promise<GatewayFixture> {
  const keys: Record<ApiKeyProvider, string> = {
    openai: canary('openai'),
    anthropic: canary('anthropic'),
    gemini: canary('gemini'),
    azure: canary('azure'),
    compat: canary('compat'),
  };
  const a = stack.admin;
  for (const [name, key] of Object.entries(keys)) await a.createSecret(`${name}-key`, { 'api-key': key });
  await a.createSecret('aws-keys', { access_key_id: canary('akid'), secret_access_key: canary('aws') });
  const ref = (name: string): Record<string, unknown> => ({ apiKeySecretRef: { name: `${name}-key`, key: 'api-key' } });
  await a.apply(
    resource('ModelProvider', 'openai', { type: 'openai', ...ref('openai') }),
    resource('ModelProvider', 'anthropic', { type: 'anthropic', ...ref('anthropic') }),
    resource('ModelProvider', 'gemini', { type: 'gemini', ...ref('gemini') }),
    resource('ModelProvider', 'azure', { type: 'azure-openai', baseUrl: 'https://pai-test.openai.azure.com', ...ref('azure') }),
    resource('ModelProvider', 'compat', {
      type: 'openai-compatible',
      baseUrl: 'https://llm.compat.example/v1',
      ...ref('compat'),
    }),
    resource('ModelProvider', 'bedrock', { type: 'bedrock', apiKeySecretRef: { name: 'aws-keys' } }),
    resource('Agent', 'bot', { modelProviders: Object.keys(MODEL_PROVIDERS) }),
    resource('Agent', 'openai-bot', { modelProviders: ['openai'] }),
    resource('Agent', 'lonely-bot', {}),
    resource('Agent', 'bedrock-bot', { modelProviders: ['bedrock'] }),
  );
  return { keys, allKeys: Object.values(keys) };
}

/** A token made through the admin API (`POST /v1/tokens`): its text (shown once) and id. */
export async function createToken(
  admin: Admin,
  body: { role: string; agent?: string; ttl?: string },
): Promise<{ token: string; id: string }> {
  const res = await admin.expect(201, 'POST', '/v1/tokens', body);
  const json = res.json as { token: string; id: string };
  return { token: json.token, id: json.id };
}
