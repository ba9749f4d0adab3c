/**
 * Resolution of an Agent's bindings into the injection targets the injector matches hosts
 * against. Pure: the caller passes the Providers and ModelProviders it loaded.
 */
import { isPaiError } from '../errors.js';
import { targetsOf } from './defaults.js';
import { agentModelProviders } from './agent-bindings.js';
import { quoteName } from './names.js';
import {
  DEFAULT_NAMESPACE,
  type Agent,
  type BrokenReference,
  type InjectionTarget,
  type ModelProvider,
  type Provider,
  type ResolvedAgent,
} from './types.js';

/** A host pattern listed by two bindings of one agent: the earlier binding keeps it. */
export interface HostConflict {
  readonly host: string;
  readonly kept: { readonly kind: InjectionTarget['kind']; readonly name: string };
  /** The later binding, whose copy of the host was dropped, and the Agent field that binds it. */
  readonly dropped: { readonly kind: InjectionTarget['kind']; readonly name: string; readonly field: string };
}

/** The outcome of resolveAgent. */
export interface AgentResolution {
  readonly agent: ResolvedAgent;
  /** Bindings that did not resolve (resource missing or unusable); they have no target. */
  readonly broken: readonly BrokenReference[];
  /** Host patterns bound twice; each was kept by the earlier binding only. */
  readonly conflicts: readonly HostConflict[];
}

interface Binding {
  readonly kind: InjectionTarget['kind'];
  readonly name: string;
  readonly field: string;
  readonly resource: ModelProvider | Provider | undefined;
}

/** Where an agent binds a ModelProvider: its first `models` entry, else its place in `modelProviders`. */
function modelProviderField(agent: Agent, name: string): string {
  const i = (agent.spec.models ?? []).findIndex((m) => m.slice(0, m.indexOf('/')) === name);
  return i >= 0 ? `spec.models[${i}]` : `spec.modelProviders[${(agent.spec.modelProviders ?? []).indexOf(name)}]`;
}

/** The agent's bindings in resolution order: its ModelProviders (models, then modelProviders), then spec.providers. */
function bindingsOf(
  agent: Agent,
  providers: ReadonlyMap<string, Provider>,
  modelProviders: ReadonlyMap<string, ModelProvider>,
): Binding[] {
  const mps = agentModelProviders(agent.spec).map((name) => ({
    kind: 'ModelProvider' as const,
    name,
    field: modelProviderField(agent, name),
    resource: modelProviders.get(name),
  }));
  const ps = (agent.spec.providers ?? []).map((name, i) => ({
    kind: 'Provider' as const,
    name,
    field: `spec.providers[${i}]`,
    resource: providers.get(name),
  }));
  return [...mps, ...ps];
}

/** The targets of a binding, or the reason it has none. */
function targetsOrProblem(binding: Binding): InjectionTarget[] | string {
  if (binding.resource === undefined) return `${binding.kind} ${quoteName(binding.name)} does not exist`;
  try {
    return targetsOf(binding.resource);
  } catch (err) {
    if (!isPaiError(err)) throw err;
    return `${binding.kind} ${quoteName(binding.name)} cannot be used: ${err.message}`;
  }
}

/**
 * Resolves an Agent's ModelProviders and Providers into injection targets, ordered as bound
 * (spec.modelProviders, then spec.providers, each in spec order). A binding to a missing or
 * unusable resource is skipped and reported in `broken`; a host pattern bound twice stays with
 * the earlier binding and is reported in `conflicts` (a target left without hosts is dropped), so
 * every host pattern selects at most one credential. Never throws for bad bindings.
 */
export function resolveAgent(
  agent: Agent,
  providers: ReadonlyMap<string, Provider>,
  modelProviders: ReadonlyMap<string, ModelProvider>,
): AgentResolution {
  const broken: BrokenReference[] = [];
  const conflicts: HostConflict[] = [];
  const owner = new Map<string, InjectionTarget>();
  const targets: InjectionTarget[] = [];
  for (const binding of bindingsOf(agent, providers, modelProviders)) {
    const found = targetsOrProblem(binding);
    if (typeof found === 'string') {
      broken.push({ kind: 'Agent', name: agent.metadata.name, field: binding.field, message: found });
      continue;
    }
    for (const target of found) keep(target, binding);
  }
  function keep(target: InjectionTarget, binding: Binding): void {
    const hosts = target.hosts.filter((host) => {
      const kept = owner.get(host);
      if (kept === undefined) {
        owner.set(host, target);
        return true;
      }
      conflicts.push({
        host,
        kept: { kind: kept.kind, name: kept.name },
        dropped: { kind: binding.kind, name: binding.name, field: binding.field },
      });
      return false;
    });
    if (hosts.length > 0) targets.push(hosts.length === target.hosts.length ? target : { ...target, hosts });
  }
  const resolved: ResolvedAgent = {
    namespace: agent.metadata.namespace ?? DEFAULT_NAMESPACE,
    name: agent.metadata.name,
    egress: agent.spec.egress ?? 'allow',
    targets,
    env: agent.spec.env ?? [],
  };
  return { agent: resolved, broken, conflicts };
}
