/**
 * Who references which secret (DESIGN §4: delete protection, `referencedBy`, broken references on
 * apply). Pure: callers pass the resources and a lookup of what exists.
 */
import { providerSecretKey, secretKeysOf } from './defaults.js';
import { quoteName } from './names.js';
import type { Agent, BrokenReference, ModelProvider, Provider, Resource, ResourceKind, SecretReference } from './types.js';

/** What exists, as checkReferences needs to know it: a secret's key names, and which resources exist. */
export interface ReferenceSnapshot {
  /** The key names of the secret, or undefined when there is no such secret. */
  secretKeys(name: string): readonly string[] | undefined;
  hasProvider(name: string): boolean;
  hasModelProvider(name: string): boolean;
}

const KIND_ORDER: Readonly<Record<ResourceKind, number>> = { ModelProvider: 0, Provider: 1, Agent: 2 };

/** Orders references by kind (ModelProvider, Provider, Agent), then name, then secret. */
function compareReferences(a: SecretReference, b: SecretReference): number {
  return KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compare(a.name, b.name) || compare(a.secret, b.secret);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The env references of an Agent, one per secret (keys sorted, deduplicated), in order of first use. */
function agentReferences(agent: Agent): SecretReference[] {
  const keysBySecret = new Map<string, Set<string>>();
  for (const entry of agent.spec.env ?? []) {
    if (!('secretRef' in entry)) continue;
    const { secretRef } = entry;
    const keys = keysBySecret.get(secretRef.name) ?? new Set<string>();
    keys.add(secretRef.key);
    keysBySecret.set(secretRef.name, keys);
  }
  return [...keysBySecret].map(([secret, keys]) => ({
    kind: 'Agent',
    name: agent.metadata.name,
    via: 'env[].secretRef',
    secret,
    keys: [...keys].sort(compare),
  }));
}

/**
 * The secrets a resource references, with the keys each reference needs: a ModelProvider's
 * apiKeySecretRef, a Provider's auth.secretRef (the keys its type requires), an Agent's env
 * entries (one reference per secret). Never throws.
 */
export function referencesOf(resource: Resource): SecretReference[] {
  const { kind, metadata } = resource;
  switch (kind) {
    case 'ModelProvider': {
      const ref = resource.spec.apiKeySecretRef;
      if (ref === undefined) return [];
      const { requiredKeys } = secretKeysOf(resource);
      return [{ kind, name: metadata.name, via: 'apiKeySecretRef', secret: ref.name, keys: requiredKeys }];
    }
    case 'Provider': {
      const auth = resource.spec.auth;
      if (auth === undefined) return [];
      const { requiredKeys } = secretKeysOf(resource);
      return [{ kind, name: metadata.name, via: 'auth.secretRef', secret: auth.secretRef, keys: requiredKeys }];
    }
    case 'Agent':
      return agentReferences(resource);
  }
}

/** An index from secret name to the references to it, built once from every stored resource. */
export class ReferenceIndex {
  readonly #bySecret = new Map<string, SecretReference[]>();

  /** Indexes the references of every resource in `resources`. */
  constructor(resources: Iterable<Resource>) {
    for (const resource of resources) {
      for (const ref of referencesOf(resource)) {
        const list = this.#bySecret.get(ref.secret) ?? [];
        list.push(ref);
        this.#bySecret.set(ref.secret, list);
      }
    }
    for (const list of this.#bySecret.values()) list.sort(compareReferences);
  }

  /** Every reference to `secret`, ordered by kind and name (empty when none). */
  referrers(secret: string): SecretReference[] {
    return [...(this.#bySecret.get(secret) ?? [])];
  }

  /** The distinct resources referencing `secret`, as `{ kind, name }`, ordered by kind and name. */
  referencedBy(secret: string): { kind: ResourceKind; name: string }[] {
    const seen = new Set<string>();
    return this.referrers(secret)
      .filter((ref) => !seen.has(`${ref.kind}/${ref.name}`) && seen.add(`${ref.kind}/${ref.name}`))
      .map(({ kind, name }) => ({ kind, name }));
  }

  /**
   * The references that would break if `secret` were deleted (`remainingKeys` undefined) or left
   * with only `remainingKeys`: those needing a key not among them.
   */
  brokenBy(secret: string, remainingKeys?: readonly string[]): SecretReference[] {
    const refs = this.referrers(secret);
    if (remainingKeys === undefined) return refs;
    const remaining = new Set(remainingKeys);
    return refs.filter((ref) => ref.keys.some((key) => !remaining.has(key)));
  }
}

/** Quoted, comma-separated key names for a message. */
function quoteKeys(keys: readonly string[]): string {
  return keys.map(quoteName).join(', ');
}

/**
 * The broken reference for `secret` at `field` (secret missing or keys missing), or undefined.
 * `keyField` names the field that selects a single key (reported instead of `field` for a missing key).
 */
function checkSecret(
  snapshot: ReferenceSnapshot,
  ref: { kind: ResourceKind; name: string; field: string; keyField?: string; needs: string; note?: string },
  secret: string,
  required: readonly string[],
): BrokenReference | undefined {
  const { kind, name } = ref;
  const keys = snapshot.secretKeys(secret);
  if (keys === undefined) return { kind, name, field: ref.field, message: `secret ${quoteName(secret)} does not exist` };
  const missing = required.filter((key) => !keys.includes(key));
  if (missing.length === 0) return undefined;
  const plural = missing.length === 1 ? 'key' : 'keys';
  const needs = `${ref.needs} ${quoteKeys(required)}${ref.note ?? ''}`;
  const message = `secret ${quoteName(secret)} is missing ${plural} ${quoteKeys(missing)} (${needs})`;
  return { kind, name, field: ref.keyField ?? ref.field, message };
}

/** Broken references of a ModelProvider: its secret and the keys its type needs. */
function checkModelProvider(mp: ModelProvider, snapshot: ReferenceSnapshot): BrokenReference[] {
  const ref = mp.spec.apiKeySecretRef;
  if (ref === undefined) return [];
  const { requiredKeys } = secretKeysOf(mp);
  const keyField = ref.key === undefined ? {} : { keyField: 'spec.apiKeySecretRef.key' };
  const where = { kind: mp.kind, name: mp.metadata.name, field: 'spec.apiKeySecretRef.name', ...keyField };
  const broken = checkSecret(snapshot, { ...where, needs: `provider ${mp.spec.provider} needs` }, ref.name, requiredKeys);
  return broken === undefined ? [] : [broken];
}

/** Broken references of a Provider: its secret and the keys its type (and http scheme) needs. */
function checkProvider(p: Provider, snapshot: ReferenceSnapshot): BrokenReference[] {
  const auth = p.spec.auth;
  if (auth === undefined) return [];
  const { requiredKeys } = secretKeysOf(p);
  const singleKey = requiredKeys.length === 1 && requiredKeys[0] === providerSecretKey(p);
  const scheme = auth.scheme === 'basic' ? ' with scheme basic' : '';
  const defaulted = singleKey && auth.secretKey === undefined ? ', the default of spec.auth.secretKey' : '';
  const where = {
    kind: p.kind,
    name: p.metadata.name,
    field: 'spec.auth.secretRef',
    ...(singleKey ? { keyField: 'spec.auth.secretKey' } : {}),
    needs: `type ${p.spec.type}${scheme} needs`,
    note: defaulted,
  };
  const broken = checkSecret(snapshot, where, auth.secretRef, requiredKeys);
  return broken === undefined ? [] : [broken];
}

/** Broken references of an Agent: missing ModelProviders, Providers, env secrets and keys. */
function checkAgent(agent: Agent, snapshot: ReferenceSnapshot): BrokenReference[] {
  const { kind } = agent;
  const { name } = agent.metadata;
  const broken: BrokenReference[] = [];
  (agent.spec.models ?? []).forEach((model, i) => {
    const mp = model.slice(0, model.indexOf('/'));
    if (!snapshot.hasModelProvider(mp)) {
      broken.push({ kind, name, field: `spec.models[${i}]`, message: `ModelProvider ${quoteName(mp)} does not exist` });
    }
  });
  (agent.spec.modelProviders ?? []).forEach((mp, i) => {
    if (!snapshot.hasModelProvider(mp)) {
      broken.push({ kind, name, field: `spec.modelProviders[${i}]`, message: `ModelProvider ${quoteName(mp)} does not exist` });
    }
  });
  (agent.spec.providers ?? []).forEach((p, i) => {
    if (!snapshot.hasProvider(p))
      broken.push({ kind, name, field: `spec.providers[${i}]`, message: `Provider ${quoteName(p)} does not exist` });
  });
  (agent.spec.env ?? []).forEach((entry, i) => {
    if (!('secretRef' in entry)) return;
    const { name: env, secretRef } = entry;
    const field = `spec.env[${i}].secretRef`;
    const where = { kind, name, field: `${field}.name`, keyField: `${field}.key`, needs: `env ${env} needs` };
    const problem = checkSecret(snapshot, where, secretRef.name, [secretRef.key]);
    if (problem !== undefined) broken.push(problem);
  });
  return broken;
}

/**
 * The references of `resource` that do not resolve against `snapshot`, each naming its field path
 * and what is missing: a secret, keys of a secret (with the keys needed), a Provider or a
 * ModelProvider. Empty when every reference resolves.
 */
export function checkReferences(resource: Resource, snapshot: ReferenceSnapshot): BrokenReference[] {
  switch (resource.kind) {
    case 'ModelProvider':
      return checkModelProvider(resource, snapshot);
    case 'Provider':
      return checkProvider(resource, snapshot);
    case 'Agent':
      return checkAgent(resource, snapshot);
  }
}
