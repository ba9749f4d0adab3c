/**
 * The ModelProvider registry (`spec.provider`): default endpoint, where the API key goes, whether
 * an endpoint or a key is required. bedrock (ours) signs with SigV4 instead of a key header.
 * Pure: no I/O.
 */
import type { ModelProviderKind } from '../resources/types.js';
import { BEARER } from './common.js';

export interface ModelProviderDef {
  readonly provider: ModelProviderKind;
  /** The endpoint when `spec.endpoint` is absent; undefined: `endpoint` is required. */
  readonly defaultEndpoint?: (region: string) => string;
  /** Where the key goes; undefined for bedrock (SigV4). */
  readonly header?: { readonly name: string; readonly prefix: string };
  /** vllm: a server without auth needs no apiKeySecretRef. */
  readonly keyOptional?: boolean;
  /** azure-openai: spec.apiVersion becomes the `api-version` query parameter. */
  readonly apiVersionParam?: string;
}

export const DEFAULT_BEDROCK_REGION = 'us-east-1';

export const MODEL_PROVIDER_REGISTRY: Readonly<Record<ModelProviderKind, ModelProviderDef>> = {
  anthropic: {
    provider: 'anthropic',
    defaultEndpoint: () => 'https://api.anthropic.com',
    header: { name: 'x-api-key', prefix: '' },
  },
  openai: {
    provider: 'openai',
    defaultEndpoint: () => 'https://api.openai.com',
    header: { name: 'authorization', prefix: BEARER },
  },
  gemini: {
    provider: 'gemini',
    defaultEndpoint: () => 'https://generativelanguage.googleapis.com',
    header: { name: 'x-goog-api-key', prefix: '' },
  },
  openrouter: {
    provider: 'openrouter',
    defaultEndpoint: () => 'https://openrouter.ai/api',
    header: { name: 'authorization', prefix: BEARER },
  },
  'azure-openai': { provider: 'azure-openai', header: { name: 'api-key', prefix: '' }, apiVersionParam: 'api-version' },
  vllm: { provider: 'vllm', header: { name: 'authorization', prefix: BEARER }, keyOptional: true },
  bedrock: { provider: 'bedrock', defaultEndpoint: (region) => `https://bedrock-runtime.${region}.amazonaws.com` },
};

/** The registry entry of `provider`. */
export function modelProviderDef(provider: ModelProviderKind): ModelProviderDef {
  return MODEL_PROVIDER_REGISTRY[provider];
}
