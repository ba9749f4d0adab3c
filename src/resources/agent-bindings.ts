/** Which ModelProviders and Providers an Agent binds (PAI.md: `models` prefixes, `providers`). Pure. */
import type { AgentSpec } from './types.js';

/**
 * The ModelProviders an agent binds, in order: the name before the first "/" of each `models`
 * entry, then the earlier dialect's `modelProviders`, without duplicates.
 */
export function agentModelProviders(spec: AgentSpec): string[] {
  const names = (spec.models ?? []).map((m) => m.slice(0, m.indexOf('/')));
  return [...new Set([...names, ...(spec.modelProviders ?? [])])];
}
