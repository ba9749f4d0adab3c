/**
 * Per-type defaults (DESIGN §3) and the fully defaulted InjectionTarget of a ModelProvider or
 * Provider: which hosts it applies to, which secret and keys it reads, and how the credential goes
 * on the request. Header names in an AuthStrategy are lower-case (HTTP/2 and Envoy's form).
 */
import { PaiError } from '../errors.js';
import { endpointHost, endpointUrlProblem, normalizeEndpoint } from './hosts.js';
import { quoteName } from './names.js';
import type { AuthStrategy, InjectionTarget, ModelProvider, ModelProviderType, Provider, ProviderType } from './types.js';

/** The secret key a Provider reads when `spec.auth.secretKey` is not given (gcp: GCP_KEY_FILE). */
export const DEFAULT_SECRET_KEY = 'token';
/** The region of a bedrock ModelProvider that names neither region nor a regional baseUrl. */
export const DEFAULT_BEDROCK_REGION = 'us-east-1';
/** The keys of an AWS secret (aws Provider, bedrock ModelProvider): required, and optional. */
export const AWS_REQUIRED_KEYS = ['access_key_id', 'secret_access_key'] as const;
export const AWS_OPTIONAL_KEYS = ['session_token'] as const;
/** The keys of an azure Provider's secret (a service principal). */
export const AZURE_KEYS = ['client_id', 'client_secret', 'tenant_id'] as const;
/** The keys of an http Provider's secret with scheme basic. */
export const BASIC_KEYS = { username: 'username', password: 'password' } as const;
/** OAuth scopes used when `spec.auth.scope` is not given. */
export const AZURE_DEFAULT_SCOPE = 'https://management.azure.com/.default';
export const GCP_DEFAULT_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** The secret key holding a gcp service-account key when `secretKey` is not given. */
export const GCP_KEY_FILE = 'key.json';
/** Header used by the http type when `spec.auth.header` is not given. */
export const DEFAULT_HTTP_HEADER = 'Authorization';
/** The prefix of a bearer token in an Authorization header. */
export const BEARER = 'Bearer ';

/** Default baseUrl per ModelProvider type; azure-openai and openai-compatible have none (baseUrl required). */
const MODEL_PROVIDER_BASE_URL: Record<ModelProviderType, ((region: string) => string) | undefined> = {
  openai: () => 'https://api.openai.com',
  anthropic: () => 'https://api.anthropic.com',
  gemini: () => 'https://generativelanguage.googleapis.com',
  bedrock: (region) => `https://bedrock-runtime.${region}.amazonaws.com`,
  'azure-openai': undefined,
  'openai-compatible': undefined,
};

/** Where each API-key ModelProvider type puts its key. */
const MODEL_PROVIDER_HEADER: Record<Exclude<ModelProviderType, 'bedrock'>, { header: string; prefix: string }> = {
  openai: { header: 'authorization', prefix: BEARER },
  'openai-compatible': { header: 'authorization', prefix: BEARER },
  anthropic: { header: 'x-api-key', prefix: '' },
  gemini: { header: 'x-goog-api-key', prefix: '' },
  'azure-openai': { header: 'api-key', prefix: '' },
};

/** Default hosts per Provider type; http has none (hosts required). */
export const PROVIDER_DEFAULT_HOSTS: Readonly<Record<ProviderType, readonly string[]>> = {
  github: ['api.github.com', 'uploads.github.com'],
  http: [],
  aws: ['*.amazonaws.com'],
  telegram: ['api.telegram.org'],
  azure: ['management.azure.com'],
  gcp: ['*.googleapis.com'],
};

const BEDROCK_HOST = /^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$/;

/** The signing region of a bedrock ModelProvider: spec.region, else the region in a baseUrl's host, else the default. */
function bedrockRegion(mp: ModelProvider): string {
  if (mp.spec.region !== undefined) return mp.spec.region;
  const host = mp.spec.baseUrl === undefined ? undefined : new URL(mp.spec.baseUrl).hostname;
  return BEDROCK_HOST.exec(host ?? '')?.[1] ?? DEFAULT_BEDROCK_REGION;
}

/**
 * The endpoint of a ModelProvider without a trailing "/": spec.baseUrl, else the type's default.
 * Throws PaiError `invalid` for a type without a default and no baseUrl (parseResource rejects that).
 */
export function baseUrlOf(mp: ModelProvider): string {
  const { baseUrl, type } = mp.spec;
  if (baseUrl !== undefined) {
    const problem = endpointUrlProblem(baseUrl);
    if (problem !== undefined) throw resourceError(mp, 'spec.baseUrl', problem);
    return normalizeEndpoint(baseUrl);
  }
  const fallback = MODEL_PROVIDER_BASE_URL[type];
  if (fallback === undefined) throw resourceError(mp, 'spec.baseUrl', `is required for type ${type}`);
  return fallback(bedrockRegion(mp));
}

/** True for strategies that need ext_proc (a `:path` rewrite or the request body); Check cannot apply them. */
export function typeNeedsExtProc(auth: AuthStrategy): boolean {
  return auth.strategy === 'telegram' || auth.strategy === 'sigv4';
}

/** The target of a ModelProvider: the host of its baseUrl, its API key (or AWS keys for bedrock). */
function modelProviderTarget(mp: ModelProvider): InjectionTarget {
  const { type, apiKeySecretRef } = mp.spec;
  const common = { kind: 'ModelProvider', name: mp.metadata.name, type, hosts: [endpointHost(baseUrlOf(mp))] } as const;
  if (type === 'bedrock') {
    const auth = { strategy: 'sigv4', service: 'bedrock', region: bedrockRegion(mp) } as const;
    return { ...common, secret: apiKeySecretRef.name, ...secretKeysOf(mp), auth };
  }
  const key = apiKeySecretRef.key;
  if (key === undefined) throw resourceError(mp, 'spec.apiKeySecretRef.key', 'is required');
  const auth = { strategy: 'header', ...MODEL_PROVIDER_HEADER[type], key } as const;
  return { ...common, secret: apiKeySecretRef.name, requiredKeys: [key], optionalKeys: [], auth };
}

/** The secret key a Provider's single-key strategies read: spec.auth.secretKey, else the type's default. */
export function providerSecretKey(p: Provider): string {
  return p.spec.auth.secretKey ?? (p.spec.type === 'gcp' ? GCP_KEY_FILE : DEFAULT_SECRET_KEY);
}

/**
 * The keys of its secret a ModelProvider or Provider needs (required) and may use (optional).
 * Never throws, so that one stale stored document cannot break the reference index.
 */
export function secretKeysOf(resource: ModelProvider | Provider): Pick<InjectionTarget, 'requiredKeys' | 'optionalKeys'> {
  if (resource.kind === 'ModelProvider') {
    if (resource.spec.type === 'bedrock') return { requiredKeys: AWS_REQUIRED_KEYS, optionalKeys: AWS_OPTIONAL_KEYS };
    const key = resource.spec.apiKeySecretRef.key;
    return { requiredKeys: key === undefined ? [] : [key], optionalKeys: [] };
  }
  switch (resource.spec.type) {
    case 'aws':
      return { requiredKeys: AWS_REQUIRED_KEYS, optionalKeys: AWS_OPTIONAL_KEYS };
    case 'azure':
      return { requiredKeys: AZURE_KEYS, optionalKeys: [] };
    default:
      if (resource.spec.type === 'http' && resource.spec.auth.scheme === 'basic') {
        return { requiredKeys: [BASIC_KEYS.username, BASIC_KEYS.password], optionalKeys: [] };
      }
      return { requiredKeys: [providerSecretKey(resource)], optionalKeys: [] };
  }
}

/** How a Provider puts its credential on a request, by type. */
function providerStrategy(p: Provider): AuthStrategy {
  const a = p.spec.auth;
  const key = providerSecretKey(p);
  const tokenUrl = a.tokenUrl === undefined ? {} : { tokenUrl: a.tokenUrl };
  switch (p.spec.type) {
    case 'github':
      return { strategy: 'header', header: 'authorization', prefix: BEARER, key };
    case 'http':
      return httpStrategy(p, key);
    case 'aws':
      // Service and region are read from the request's host (e.g. s3.eu-west-1.amazonaws.com).
      return { strategy: 'sigv4' };
    case 'telegram':
      return { strategy: 'telegram', key };
    case 'azure':
      return { strategy: 'azure', scope: a.scope ?? AZURE_DEFAULT_SCOPE, ...tokenUrl };
    case 'gcp':
      return { strategy: 'gcp', scope: a.scope ?? GCP_DEFAULT_SCOPE, ...tokenUrl };
  }
}

/** How an http Provider puts its credential on a request, by scheme. */
function httpStrategy(p: Provider, key: string): AuthStrategy {
  const a = p.spec.auth;
  switch (a.scheme ?? 'header') {
    case 'basic':
      return { strategy: 'basic', usernameKey: BASIC_KEYS.username, passwordKey: BASIC_KEYS.password };
    case 'query':
      if (a.param === undefined) throw resourceError(p, 'spec.auth.param', 'is required with scheme query');
      return { strategy: 'query', param: a.param, key };
    case 'header': {
      const header = (a.header ?? DEFAULT_HTTP_HEADER).toLowerCase();
      const prefix = a.prefix ?? (header === 'authorization' ? BEARER : '');
      return { strategy: 'header', header, prefix, key };
    }
  }
}

/** PaiError `invalid` for a resource that parseResource would have rejected (e.g. an old stored document). */
function resourceError(r: ModelProvider | Provider, field: string, problem: string): PaiError {
  return new PaiError('invalid', `${r.kind} ${quoteName(r.metadata.name)}: ${field} ${problem}`, {
    details: { kind: r.kind, name: r.metadata.name, field },
  });
}

/** The target of a Provider: its hosts (given or default, lower-case, deduplicated), secret, keys and strategy. */
function providerTarget(p: Provider): InjectionTarget {
  const hosts = [...new Set((p.spec.hosts ?? PROVIDER_DEFAULT_HOSTS[p.spec.type]).map((h) => h.toLowerCase()))];
  if (hosts.length === 0) throw resourceError(p, 'spec.hosts', `is required for type ${p.spec.type}`);
  const { name } = p.metadata;
  return {
    kind: 'Provider',
    name,
    type: p.spec.type,
    hosts,
    secret: p.spec.auth.secretRef,
    ...secretKeysOf(p),
    auth: providerStrategy(p),
  };
}

/**
 * The fully defaulted injection target of a ModelProvider or Provider. Expects a resource that
 * parseResource accepted; throws PaiError `invalid` naming the field when a required one is missing.
 */
export function targetOf(resource: ModelProvider | Provider): InjectionTarget {
  return resource.kind === 'ModelProvider' ? modelProviderTarget(resource) : providerTarget(resource);
}
