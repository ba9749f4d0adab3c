/**
 * The agent a request speaks for, as the sidecar config names it (never the agent itself):
 * ext_authz `context_extensions["pai.agent"]` and `["pai.namespace"]`, ext_proc the route
 * metadata `pai.agent` and `pai.namespace`. A missing namespace is `default`; a name or namespace
 * that is not a DNS label is no identity at all (the decision then denies 403).
 */
import { nameProblem } from '../resources/names.js';
import { DEFAULT_NAMESPACE } from '../resources/types.js';
import type { AgentId } from './agents.js';

/** The context extension / route metadata field naming the agent, and its namespace. */
export const AGENT_EXTENSION = 'pai.agent';
export const NAMESPACE_EXTENSION = 'pai.namespace';

/**
 * What a request itself names, as raw strings: undefined or '' when it names nothing, `null` when
 * the field is present but unreadable (a malformed route metadata entry). Shared mode compares it
 * with the client certificate (peer-identity.ts).
 */
export interface NamedAgent {
  readonly agent: string | null | undefined;
  readonly namespace: string | null | undefined;
}

/** The agent of (name, namespace) as the sidecar sent them; undefined when either is unusable. */
export function agentIdentity(name: string | undefined, namespace: string | undefined): AgentId | undefined {
  if (name === undefined || name === '' || nameProblem(name) !== undefined) return undefined;
  const ns = namespace === undefined || namespace === '' ? DEFAULT_NAMESPACE : namespace;
  if (nameProblem(ns) !== undefined) return undefined;
  return { namespace: ns, name };
}
