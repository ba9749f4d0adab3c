/**
 * The earlier dialect (`apiVersion: pai/v1`, DESIGN §3), as its readers produce it before
 * convert.ts turns it into Pai's form. Types only.
 */
import type { SecretKeyRef } from '../types.js';

export const LEGACY_MODEL_PROVIDER_TYPES = [
  'openai',
  'anthropic',
  'gemini',
  'azure-openai',
  'bedrock',
  'openai-compatible',
] as const;
export type LegacyModelProviderType = (typeof LEGACY_MODEL_PROVIDER_TYPES)[number];

export const LEGACY_PROVIDER_TYPES = ['github', 'http', 'aws', 'telegram', 'azure', 'gcp'] as const;
export type LegacyProviderType = (typeof LEGACY_PROVIDER_TYPES)[number];

export interface LegacyModelProviderSpec {
  readonly type: LegacyModelProviderType;
  readonly baseUrl?: string;
  readonly region?: string;
  readonly apiKeySecretRef: { readonly name: string; readonly key?: string };
}

export interface LegacyProviderAuth {
  readonly secretRef: string;
  readonly secretKey?: string;
  readonly header?: string;
  readonly prefix?: string;
  readonly scheme?: 'header' | 'basic' | 'query';
  readonly param?: string;
  readonly scope?: string;
  readonly tokenUrl?: string;
}

export interface LegacyProviderSpec {
  readonly type: LegacyProviderType;
  readonly hosts?: readonly string[];
  readonly auth: LegacyProviderAuth;
}

export interface LegacyAgentSpec {
  readonly modelProviders?: readonly string[];
  readonly providers?: readonly string[];
  readonly env?: readonly { readonly name: string; readonly secretRef: SecretKeyRef }[];
  readonly egress?: 'allow' | 'deny';
}
