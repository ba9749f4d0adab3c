/**
 * The fully defaulted InjectionTargets of a ModelProvider or Provider: which hosts each applies
 * to, which secret and keys it reads, and how the credential goes on the request. Everything
 * type-specific comes from the registries in src/providers. Header names in an AuthStrategy are
 * lower-case (HTTP/2 and Envoy's form).
 */
import { PaiError, isPaiError } from '../errors.js';
import { DEFAULT_BEDROCK_REGION, modelProviderDef } from '../providers/model-providers.js';
import { compileProviderPolicy, PROVIDER_REGISTRY } from '../providers/registry.js';
import { awsGate, AWS_KEYS } from '../providers/aws.js';
import type { KeySet } from '../providers/types.js';
import { endpointHost, endpointUrlProblem, normalizeEndpoint } from './hosts.js';
import { quoteName } from './names.js';
import type { AuthStrategy, InjectionTarget, ModelProvider, Provider } from './types.js';

export { DEFAULT_BEDROCK_REGION } from '../providers/model-providers.js';

const BEDROCK_HOST = /^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$/;

/** The signing region of a bedrock ModelProvider: spec.region, else the region in the endpoint's host, else the default. */
function bedrockRegion(mp: ModelProvider): string {
  if (mp.spec.region !== undefined) return mp.spec.region;
  const host = mp.spec.endpoint === undefined ? undefined : new URL(mp.spec.endpoint).hostname;
  return BEDROCK_HOST.exec(host ?? '')?.[1] ?? DEFAULT_BEDROCK_REGION;
}

/** PaiError `invalid` for a resource that parseResource would have rejected (e.g. an old stored document). */
function resourceError(r: ModelProvider | Provider, field: string, problem: string): PaiError {
  return new PaiError('invalid', `${r.kind} ${quoteName(r.metadata.name)}: ${field} ${problem}`, {
    details: { kind: r.kind, name: r.metadata.name, field },
  });
}

/**
 * The endpoint of a ModelProvider without a trailing "/": spec.endpoint, else the provider's
 * default. Throws PaiError `invalid` for a provider without a default and no endpoint.
 */
export function baseUrlOf(mp: ModelProvider): string {
  const { endpoint, provider } = mp.spec;
  if (endpoint !== undefined) {
    const problem = endpointUrlProblem(endpoint);
    if (problem !== undefined && !(provider === 'vllm' && endpoint.startsWith('http://'))) {
      throw resourceError(mp, 'spec.endpoint', problem);
    }
    return normalizeEndpoint(endpoint);
  }
  const fallback = modelProviderDef(provider).defaultEndpoint;
  if (fallback === undefined) throw resourceError(mp, 'spec.endpoint', `is required for provider ${provider}`);
  return fallback(bedrockRegion(mp));
}

/** True for strategies that need ext_proc (a `:path` rewrite or the request body); Check cannot apply them. */
export function typeNeedsExtProc(auth: AuthStrategy): boolean {
  return auth.strategy === 'telegram' || auth.strategy === 'sigv4';
}

/** The secret keys a ModelProvider reads. Never throws. */
function modelProviderKeys(mp: ModelProvider): KeySet {
  if (mp.spec.provider === 'bedrock') return AWS_KEYS;
  const key = mp.spec.apiKeySecretRef?.key;
  return { requiredKeys: key === undefined ? [] : [key], optionalKeys: [] };
}

/** The target of a ModelProvider (none for a keyless vllm): the host of its endpoint and its key. */
function modelProviderTargets(mp: ModelProvider): InjectionTarget[] {
  const { provider, apiKeySecretRef } = mp.spec;
  const host = endpointHost(baseUrlOf(mp));
  if (apiKeySecretRef === undefined) return [];
  const common = {
    kind: 'ModelProvider',
    name: mp.metadata.name,
    type: provider,
    hosts: [host],
    secret: apiKeySecretRef.name,
  } as const;
  if (provider === 'bedrock') {
    const region = bedrockRegion(mp);
    const auth = { strategy: 'sigv4', service: 'bedrock', region } as const;
    return [{ ...common, ...AWS_KEYS, auth, gate: awsGate(mp.metadata.name, { region, services: ['bedrock'] }, [host]) }];
  }
  const def = modelProviderDef(provider);
  const key = apiKeySecretRef.key;
  if (key === undefined || def.header === undefined) throw resourceError(mp, 'spec.apiKeySecretRef.key', 'is required');
  const auth = { strategy: 'header', header: def.header.name, prefix: def.header.prefix, key } as const;
  const version = mp.spec.apiVersion;
  const defaultQuery =
    def.apiVersionParam !== undefined && version !== undefined ? { defaultQuery: { [def.apiVersionParam]: version } } : {};
  return [{ ...common, requiredKeys: [key], optionalKeys: [], auth, ...defaultQuery }];
}

/** The targets of a Provider, from its type's registry entry (none for an mcp stdio server). */
function providerTargets(p: Provider): InjectionTarget[] {
  const def = PROVIDER_REGISTRY[p.spec.type];
  const auth = p.spec.auth;
  if (auth === undefined) return [];
  const keys = def.secretKeys(p.spec);
  let policy;
  try {
    policy = compileProviderPolicy(p.spec.type, p.spec);
  } catch (err) {
    if (!isPaiError(err, 'invalid')) throw err;
    throw resourceError(p, 'spec.policy', `cannot be used: ${err.message}`);
  }
  const logRequests = p.spec.audit?.logRequests ?? true;
  return def.targets(p).map((part) => ({
    kind: 'Provider',
    name: p.metadata.name,
    type: p.spec.type,
    hosts: [...new Set(part.hosts.map((h) => h.toLowerCase()))],
    secret: auth.secretRef,
    ...(part.keys ?? keys),
    auth: part.auth,
    ...(part.gate === undefined ? {} : { gate: part.gate }),
    ...(part.credentialFree === undefined ? {} : { credentialFree: part.credentialFree }),
    ...(policy === undefined ? {} : { policy }),
    logRequests,
  }));
}

/**
 * The keys of its secret a ModelProvider or Provider needs (required) and may use (optional).
 * Never throws, so that one stale stored document cannot break the reference index.
 */
export function secretKeysOf(resource: ModelProvider | Provider): KeySet {
  return resource.kind === 'ModelProvider'
    ? modelProviderKeys(resource)
    : PROVIDER_REGISTRY[resource.spec.type].secretKeys(resource.spec);
}

/** The secret key a Provider's single-key strategies read: spec.auth.secretKey, else the type's default. */
export function providerSecretKey(p: Provider): string {
  return p.spec.auth?.secretKey ?? PROVIDER_REGISTRY[p.spec.type].defaultSecretKey;
}

/**
 * The fully defaulted injection targets of a ModelProvider or Provider (usually one; azure has
 * one per service; none for a keyless vllm or an mcp stdio server). Expects a resource that
 * parseResource accepted; throws PaiError `invalid` naming the field when a required one is missing.
 */
export function targetsOf(resource: ModelProvider | Provider): InjectionTarget[] {
  // Built once per resource object: a stored resource is parsed once per version (injector/agents.ts),
  // so its policy is compiled once per version too, never per request.
  const known = targetMemo.get(resource);
  if (known !== undefined) return known;
  const targets = resource.kind === 'ModelProvider' ? modelProviderTargets(resource) : providerTargets(resource);
  targetMemo.set(resource, targets);
  return targets;
}

const targetMemo = new WeakMap<ModelProvider | Provider, InjectionTarget[]>();

/** The one target of a resource that has exactly one (tests, single-target callers); throws `internal` otherwise. */
export function targetOf(resource: ModelProvider | Provider): InjectionTarget {
  const targets = targetsOf(resource);
  const [only] = targets;
  if (only === undefined || targets.length !== 1) {
    throw new PaiError(
      'internal',
      `${resource.kind} ${quoteName(resource.metadata.name)} has ${targets.length} targets, not one`,
    );
  }
  return only;
}
