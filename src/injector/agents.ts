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
import type { Agent, ModelProvider, Provider, ResolvedAgent } from '../resources/types.js';
import { parseResource } from '../resources/validate.js';
import type { DocKind, SecretStore } from '../store/types.js';
import { LoadingCache } from './loading-cache.js';

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

async function loadRecord<K extends 'Agent' | 'Provider' | 'ModelProvider'>(
  store: SecretStore,
  docKind: DocKind,
  kind: K,
  name: string,
): Promise<{ resource: ResourceOf<K>; createdAt: Date }> {
  const doc = await store.getDoc(docKind, name);
  const resource = parseResource(doc.body, `stored ${docKind}/${name}`);
  if (resource.kind !== kind) throw new PaiError('internal', `stored ${docKind}/${name} is not a ${kind}`);
  return { resource: resource as ResourceOf<K>, createdAt: doc.createdAt };
}

async function loadResource<K extends 'Agent' | 'Provider' | 'ModelProvider'>(
  store: SecretStore,
  docKind: DocKind,
  kind: K,
  name: string,
): Promise<ResourceOf<K>> {
  return (await loadRecord(store, docKind, kind, name)).resource;
}

async function optional<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isPaiError(err, 'not_found')) return undefined;
    throw err;
  }
}

/** Loads an agent and its bindings from the store and resolves them (`not_found` for no agent). */
export async function loadAgentView(store: SecretStore, name: string): Promise<AgentView> {
  const loaded = await loadRecord(store, 'agents', 'Agent', name);
  const agent: Agent = loaded.resource;
  const mpNames = agent.spec.modelProviders ?? [];
  const pNames = agent.spec.providers ?? [];
  const [mps, ps] = await Promise.all([
    Promise.all(mpNames.map((n) => optional<ModelProvider>(loadResource(store, 'modelproviders', 'ModelProvider', n)))),
    Promise.all(pNames.map((n) => optional<Provider>(loadResource(store, 'providers', 'Provider', n)))),
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
      load: (name) => loadAgentView(options.store, name),
      ttlMs: options.ttlMs,
      maxStaleMs: options.maxStaleMs,
      loadTimeoutMs: options.loadTimeoutMs,
      ...(options.now ? { now: options.now } : {}),
    });
    // Any resource change may alter any agent's view (a provider's hosts, a binding): drop all.
    options.changes?.subscribe((change) => {
      if (change.type === 'doc' && change.kind !== 'tokens' && change.kind !== 'agenttokens') this.cache.clear();
    });
  }

  /**
   * The agent's view, from the cache when fresh (waiting at most `timeoutMs` for the store otherwise).
   * Throws `unknown_agent` for an agent not in the store.
   */
  get(name: string, timeoutMs?: number): AgentView | Promise<AgentView> {
    const hit = this.cache.peek(name);
    if (hit) return hit;
    return this.cache.get(name, timeoutMs).catch((err: unknown) => {
      if (isPaiError(err, 'not_found') || isPaiError(err, 'invalid')) {
        throw new PaiError('unknown_agent', `agent ${quoteName(name)} is not known to pai`);
      }
      throw err;
    });
  }

  /** Drops every cached view. */
  clear(): void {
    this.cache.clear();
  }
}
