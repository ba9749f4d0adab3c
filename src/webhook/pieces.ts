/**
 * What the webhook puts into a pod that is specific to its agent: Envoy's bootstrap, the agent
 * container's hosts file, CA bundle and env. The webhook only places these pieces; who renders
 * them is behind `SidecarPieces` (the `pai render sidecar|hosts|ca-bundle|env` renderers back it in
 * production, a fixed table in tests). None of them holds a secret value.
 */
import type { AgentId } from '../injector/agents.js';

/** One environment variable with a literal value (placeholders included, never a credential). */
export interface PodEnvVar {
  readonly name: string;
  readonly value: string;
}

/** The per-agent pieces of an injected pod. */
export interface AgentPieces {
  /** Envoy's bootstrap YAML (`pai render sidecar AGENT`). */
  readonly envoyBootstrap: string;
  /** The agent container's /etc/hosts: the Provider hosts on 127.0.0.1 (`pai render hosts AGENT`). */
  readonly hosts: string;
  /** The agent container's CA bundle: system roots plus the pai CA (`pai render ca-bundle`). */
  readonly caBundle: string;
  /** Env for the agent container (`pai render env AGENT`: SSL_CERT_FILE, placeholders, …). */
  readonly env: readonly PodEnvVar[];
}

/** Renders an agent's pieces; resolves undefined when the agent does not exist (the webhook refuses the pod). */
export interface SidecarPieces {
  forAgent(agent: AgentId): Promise<AgentPieces | undefined>;
}

/** A fixed table of pieces keyed `namespace/name` (tests, and a cluster with a handful of agents). */
export class StaticSidecarPieces implements SidecarPieces {
  constructor(private readonly table: ReadonlyMap<string, AgentPieces>) {}

  /** The pieces stored for `agent`, or undefined. Never throws. */
  forAgent(agent: AgentId): Promise<AgentPieces | undefined> {
    return Promise.resolve(this.table.get(`${agent.namespace}/${agent.name}`));
  }
}
