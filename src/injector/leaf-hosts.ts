/**
 * Where the SDS leaf book learns an agent's hosts: the agent directory (the hosts of its resolved
 * Providers and ModelProviders, which the Provider type registry already expanded, aws from
 * config.region + config.services), and when to look again: on every resource change in this
 * process (the change feed) and every `pollMs` for changes made by another process (a spurious
 * call costs a cache read; the book re-issues only when the host set really differs).
 */
import type { ChangeFeed } from '../changes.js';
import { isPaiError } from '../errors.js';
import type { AgentId, LeafHostsSource } from '../tls/types.js';
import type { AgentDirectory } from './agents.js';

export interface DirectoryLeafHostsOptions {
  readonly agents: AgentDirectory;
  readonly changes: ChangeFeed;
  /** How often to re-check every agent for changes made elsewhere (another replica, the admin process). */
  readonly pollMs: number;
}

/** The distinct hosts of `targets`, sorted (the SAN order of a leaf does not depend on binding order). */
export function hostsOfTargets(targets: readonly { readonly hosts: readonly string[] }[]): string[] {
  return [...new Set(targets.flatMap((t) => t.hosts))].sort();
}

/** LeafHostsSource over the agent directory and the change feed. */
export class DirectoryLeafHosts implements LeafHostsSource {
  constructor(private readonly options: DirectoryLeafHostsOptions) {}

  /** The agent's hosts; undefined for an agent not in the store. Rejects when the store cannot tell. */
  async hostsOf(agent: AgentId): Promise<readonly string[] | undefined> {
    try {
      const view = await this.options.agents.get(agent);
      return hostsOfTargets(view.agent.targets);
    } catch (err) {
      if (isPaiError(err, 'unknown_agent')) return undefined;
      throw err;
    }
  }

  /** Calls `onChange()` after each resource change here, and every pollMs. Returns the unsubscribe function. */
  subscribe(onChange: (agent?: AgentId) => void): () => void {
    // After the directory dropped its cache for the same change (its own subscriber runs first or
    // in the same dispatch): the next tick reads fresh views.
    const later = (): void => void setImmediate(() => onChange());
    const unsubscribe = this.options.changes.subscribe((change) => {
      if (change.type === 'doc' && change.namespace !== undefined) later();
    });
    const timer = setInterval(() => {
      this.options.agents.clear();
      onChange();
    }, this.options.pollMs);
    timer.unref();
    return () => {
      unsubscribe();
      clearInterval(timer);
    };
  }
}
