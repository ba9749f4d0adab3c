/**
 * The production SidecarPieces: an agent's pieces rendered from the store by the same code as the
 * `pai render` commands. Envoy's bootstrap from the sidecar renderer (`pai render sidecar`), the
 * hosts file from the agent's resolved targets (`pai render hosts`), the CA bundle from the pai CA
 * (`pai render ca-bundle`), and the env from the agent's spec.env.
 *
 * The env holds no secret value, on purpose: `pai render env` resolves `secretRef` entries to
 * values for a launcher, but a pod spec is readable by whoever may read pods (and is kept in etcd),
 * so the webhook puts in only the agent's literal `value` entries, its Providers' placeholders
 * (`auth.agentEnvVar`, markers the injector replaces on the wire) and the CA variables. An agent
 * that mounts a secret as an env value keeps using a launcher with `pai render env`.
 */
import tls from 'node:tls';
import { hostsFile } from '../admin/ca-routes.js';
import { placeholders } from '../admin/env-render.js';
import type { ResourcesService, StoredResource } from '../admin/resources-service.js';
import { isPaiError } from '../errors.js';
import { type AgentId, loadAgentView } from '../injector/agents.js';
import { hostsOfTargets } from '../injector/leaf-hosts.js';
import { caBundleEnv } from '../resources/agent-trust.js';
import { renderAgentSidecar } from '../admin/sidecar-routes.js';
import type { SidecarInjector } from '../resources/sidecar-config.js';
import type { Agent } from '../resources/types.js';
import { parseResource } from '../resources/validate.js';
import type { SecretStore } from '../store/types.js';
import type { CaAuthority } from '../tls/authority.js';
import type { AgentPieces, PodEnvVar, SidecarPieces } from './pieces.js';

/** The agent container's /etc/hosts replaces the kubelet's: the loopback names stay. */
const LOOPBACK_LINES = '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n';

export interface StorePiecesOptions {
  readonly store: SecretStore;
  readonly authority: CaAuthority;
  /** How the injected Envoy reaches the injector: the pod's own socket (sidecar) or a shared one over mTLS. */
  readonly injector: SidecarInjector;
  /** System roots put before the pai CA in the bundle (default Node's copy). */
  readonly systemRoots?: readonly string[];
}

export class StoreSidecarPieces implements SidecarPieces {
  constructor(private readonly options: StorePiecesOptions) {}

  /** The agent's pieces; undefined when the store has no such agent. Rejects when the store cannot answer. */
  async forAgent(agent: AgentId): Promise<AgentPieces | undefined> {
    const { store, authority } = this.options;
    let view;
    try {
      view = await loadAgentView(store, agent);
    } catch (err) {
      if (isPaiError(err, 'not_found')) return undefined;
      throw err;
    }
    const stored = await this.resources.get('agents', agent.namespace, agent.name);
    const spec = stored.resource.kind === 'Agent' ? stored.resource : undefined;
    const env = await this.env(agent.namespace, spec);
    return {
      // The same rendering as `pai render sidecar` (bound URLs' ports included).
      envoyBootstrap: (await renderAgentSidecar(store, agent, { injector: this.options.injector })).yaml,
      hosts: LOOPBACK_LINES + hostsFile(agent.name, hostsOfTargets(view.agent.targets)),
      caBundle: await authority.bundle(this.options.systemRoots ?? tls.rootCertificates),
      env,
    };
  }

  /** Literal env entries, Provider placeholders and the CA variables; `secretRef` entries never. */
  private async env(ns: string, agent: Agent | undefined): Promise<PodEnvVar[]> {
    if (agent === undefined) return caBundleEnv();
    const literal = (agent.spec.env ?? []).flatMap((e) => ('value' in e ? [{ name: e.name, value: e.value }] : []));
    const declared = new Set((agent.spec.env ?? []).map((e) => e.name));
    const marks = await placeholders(this.resources, ns, agent, declared);
    const vars: PodEnvVar[] = [...literal, ...marks.map((m) => ({ name: m.name, value: m.value.toString('utf8') }))];
    const taken = new Set(vars.map((v) => v.name));
    return [...vars, ...caBundleEnv().filter((v) => !taken.has(v.name))];
  }

  /** The store's documents parsed as the admin API's ResourcesService.get does (placeholders depend on it). */
  private readonly resources = {
    get: async (plural: Parameters<ResourcesService['get']>[0], ns: string, name: string): Promise<StoredResource> => {
      const record = await this.options.store.getDoc(plural, ns, name);
      return { resource: parseResource(record.body, `stored ${record.kind}/${record.name}`), record };
    },
  };
}
