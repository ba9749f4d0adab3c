/**
 * The injector's view of agents: an agent name → its resolved injection targets and a compiled
 * host matcher, read from the store and cached (TTL, single flight, dropped at once when an agent,
 * provider or model provider changes in this process).
 */
import type { ChangeFeed } from '../changes.js';
import { PaiError, isPaiError } from '../errors.js';
import { compileMatcher, type HostMatcher } from '../inject/match.js';
import { quoteName } from '../resources/names.js';
import { resolveAgent } from '../resources/resolve.js';
import { agentModelProviders } from '../resources/agent-bindings.js';
import { DEFAULT_NAMESPACE, type Agent, type ModelProvider, type Provider, type ResolvedAgent } from '../resources/types.js';
import { parseResource } from '../resources/validate.js';
import type { ResourceDocKind, SecretStore } from '../store/types.js';
import { LoadingCache } from './loading-cache.js';

/** An agent as the sidecar names it: namespace and name. */
export interface AgentId {
  readonly namespace: string;
  readonly name: string;
}

/** The cache key of an agent, and how logs and denials name it: `name` in the default namespace, else `namespace/name`. */
export function agentLabel(id: AgentId): string {
  return id.namespace === DEFAULT_NAMESPACE ? id.name : `${id.namespace}/${id.name}`;
}

/** The AgentId of a label made by agentLabel. */
export function agentIdOf(label: string): AgentId {
  const slash = label.indexOf('/');
  return slash < 0
    ? { namespace: DEFAULT_NAMESPACE, name: label }
    : { namespace: label.slice(0, slash), name: label.slice(slash + 1) };
}

/** An agent ready for decisions. */
export interface AgentView {
  readonly agent: ResolvedAgent;
  readonly match: HostMatcher;
  /** Bindings that did not resolve (provider deleted meanwhile): names only. */
  readonly unresolved: readonly string[];
  /** Names of the model providers the agent may use (gateway mode). */
  readonly modelProviders: ReadonlySet<string>;
  /**
   * When this agent (this incarnation of the name) was created: agent tokens carry the value they
   * were issued for, so that a token outlives neither a deleted agent nor its re-creation.
   */
  readonly createdAt: string;
}

export interface AgentDirectoryOptions {
  readonly store: SecretStore;
  readonly changes?: ChangeFeed;
  readonly ttlMs: number;
  readonly loadTimeoutMs: number;
  readonly maxStaleMs: number;
  readonly now?: () => number;
}

type ResourceOf<K extends 'Agent' | 'Provider' | 'ModelProvider'> = Extract<ReturnType<typeof parseResource>, { kind: K }>;

/**
 * Parsed resources by document and version: a resource object is made once per version, so what
 * is derived from it (targets, compiled policies: resources/defaults.ts) is made once per version
 * too, however often the agent's view is reloaded. Bounded; the oldest entry goes first.
 */
const parsedDocs = new Map<string, { readonly version: number; readonly resource: ReturnType<typeof parseResource> }>();
const MAX_PARSED = 2000;

function parsedOnce(docKind: ResourceDocKind, ns: string, doc: { name: string; version: number; body: unknown }) {
  const key = `${docKind}/${ns}/${doc.name}`;
  const known = parsedDocs.get(key);
  if (known !== undefined && known.version === doc.version) return known.resource;
  const parsed = parseResource(doc.body, `stored ${docKind}/${doc.name}`);
  // The namespace is where the document was found, whatever its body says.
  const resource = { ...parsed, metadata: { ...parsed.metadata, namespace: ns } } as ReturnType<typeof parseResource>;
  parsedDocs.delete(key);
  parsedDocs.set(key, { version: doc.version, resource });
  if (parsedDocs.size > MAX_PARSED) {
    const oldest = parsedDocs.keys().next().value;
    if (oldest !== undefined) parsedDocs.delete(oldest);
  }
  return resource;
}

async function loadRecord<K extends 'Agent' | 'Provider' | 'ModelProvider'>(
  store: SecretStore,
  docKind: ResourceDocKind,
  kind: K,
  ns: string,
  name: string,
): Promise<{ resource: ResourceOf<K>; createdAt: Date }> {
  const doc = await store.getDoc(docKind, ns, name);
  const resource = parsedOnce(docKind, ns, doc);
  if (resource.kind !== kind) throw new PaiError('internal', `stored ${docKind}/${name} is not a ${kind}`);
  return { resource: resource as ResourceOf<K>, createdAt: doc.createdAt };
}

async function loadResource<K extends 'Agent' | 'Provider' | 'ModelProvider'>(
  store: SecretStore,
  docKind: ResourceDocKind,
  kind: K,
  ns: string,
  name: string,
): Promise<ResourceOf<K>> {
  return (await loadRecord(store, docKind, kind, ns, name)).resource;
}

async function optional<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isPaiError(err, 'not_found')) return undefined;
    throw err;
  }
}

/**
 * Loads an agent and its bindings from the store and resolves them (`not_found` for no agent).
 * Every read is in the agent's own namespace: whatever its manifests say, an agent can bind only
 * resources, and so secrets, of its namespace.
 */
export async function loadAgentView(store: SecretStore, id: AgentId): Promise<AgentView> {
  const ns = id.namespace;
  const loaded = await loadRecord(store, 'agents', 'Agent', ns, id.name);
  const agent: Agent = loaded.resource;
  const mpNames = agentModelProviders(agent.spec);
  const pNames = agent.spec.providers ?? [];
  const [mps, ps] = await Promise.all([
    Promise.all(mpNames.map((n) => optional<ModelProvider>(loadResource(store, 'modelproviders', 'ModelProvider', ns, n)))),
    Promise.all(pNames.map((n) => optional<Provider>(loadResource(store, 'providers', 'Provider', ns, n)))),
  ]);
  const byName = <T extends ModelProvider | Provider>(list: (T | undefined)[]): Map<string, T> =>
    new Map(list.filter((r): r is T => r !== undefined).map((r) => [r.metadata.name, r]));
  const resolution = resolveAgent(agent, byName(ps), byName(mps));
  return {
    agent: resolution.agent,
    match: compileMatcher(resolution.agent.targets),
    unresolved: resolution.broken.map((b) => `${b.field}: ${b.message}`),
    modelProviders: new Set(mpNames),
    createdAt: loaded.createdAt.toISOString(),
  };
}

export class AgentDirectory {
  private readonly cache: LoadingCache<AgentView>;

  constructor(options: AgentDirectoryOptions) {
    this.cache = new LoadingCache<AgentView>({
      load: (label) => loadAgentView(options.store, agentIdOf(label)),
      ttlMs: options.ttlMs,
      maxStaleMs: options.maxStaleMs,
      loadTimeoutMs: options.loadTimeoutMs,
      ...(options.now ? { now: options.now } : {}),
    });
    // Any resource change may alter any agent's view (a provider's hosts, a binding): drop all.
    options.changes?.subscribe((change) => {
      if (change.type === 'doc' && change.namespace !== undefined) this.cache.clear();
    });
  }

  /**
   * The agent's view, from the cache when fresh (waiting at most `timeoutMs` for the store otherwise).
   * Throws `unknown_agent` for an agent not in the store.
   */
  get(id: AgentId, timeoutMs?: number): AgentView | Promise<AgentView> {
    const label = agentLabel(id);
    const hit = this.cache.peek(label);
    if (hit) return hit;
    return this.cache.get(label, timeoutMs).catch((err: unknown) => {
      if (isPaiError(err, 'not_found') || isPaiError(err, 'invalid')) {
        throw new PaiError('unknown_agent', `agent ${quoteName(label)} is not known to pai`);
      }
      throw err;
    });
  }

  /** Drops every cached view. */
  clear(): void {
    this.cache.clear();
  }
}
