/**
 * The earlier dialect (`pai/v1`) in Pai's form, so that stores and manifests written before keep
 * working and everything after parsing speaks one model. Every old behaviour is kept:
 *
 * - ModelProvider `type` → `provider` (openai-compatible → openai with its endpoint), `baseUrl` →
 *   `endpoint`, bedrock's `region` kept.
 * - Provider `type: http` → `http-token`; one host → `host`, several → the `hosts` extension;
 *   `scheme: query` → `param`; `scheme: basic` kept; an http header other than Authorization had no
 *   prefix by default, Pai's default is "Bearer ", so the empty prefix is written out.
 * - Agent `modelProviders` kept (bound without naming a model).
 * Pure.
 */
import { compact } from '../fields.js';
import type { AgentSpec, ModelProviderSpec, ProviderAuth, ProviderSpec, ProviderType } from '../types.js';
import type { LegacyAgentSpec, LegacyModelProviderSpec, LegacyProviderSpec, LegacyProviderType } from './types.js';

/** A legacy ModelProvider spec in Pai's form. */
export function convertModelProvider(spec: LegacyModelProviderSpec): ModelProviderSpec {
  const provider = spec.type === 'openai-compatible' ? 'openai' : spec.type;
  return compact({ provider, endpoint: spec.baseUrl, region: spec.region, apiKeySecretRef: spec.apiKeySecretRef });
}

const PROVIDER_TYPE: Readonly<Record<LegacyProviderType, ProviderType>> = {
  github: 'github',
  http: 'http-token',
  aws: 'aws',
  telegram: 'telegram',
  azure: 'azure',
  gcp: 'gcp',
};

function convertAuth(spec: LegacyProviderSpec): ProviderAuth {
  const a = spec.auth;
  const common = { secretRef: a.secretRef, secretKey: a.secretKey, scope: a.scope, tokenUrl: a.tokenUrl };
  if (spec.type !== 'http') return compact(common);
  switch (a.scheme ?? 'header') {
    case 'basic':
      return compact({ secretRef: a.secretRef, scheme: 'basic' as const });
    case 'query':
      return compact({ ...common, param: a.param });
    case 'header': {
      const header = a.header;
      const isAuthorization = header === undefined || header.toLowerCase() === 'authorization';
      return compact({ ...common, header, prefix: a.prefix ?? (isAuthorization ? undefined : '') });
    }
  }
}

/** A legacy Provider spec in Pai's form. */
export function convertProvider(spec: LegacyProviderSpec): ProviderSpec {
  const hosts = spec.hosts;
  const host = hosts?.length === 1 ? hosts[0] : undefined;
  return compact({
    type: PROVIDER_TYPE[spec.type],
    host,
    hosts: host === undefined ? hosts : undefined,
    auth: convertAuth(spec),
  });
}

/** A legacy Agent spec in Pai's form. */
export function convertAgent(spec: LegacyAgentSpec): AgentSpec {
  return compact({ modelProviders: spec.modelProviders, providers: spec.providers, env: spec.env, egress: spec.egress });
}
