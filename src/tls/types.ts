/**
 * The narrow interfaces the TLS core is wired through. The composition root implements them over
 * the store and the resource model; the TLS modules never read either directly.
 */

/** An agent, named the way Pai names resources (PAI.md: namespaced, `default` when none is given). */
export interface AgentId {
  readonly namespace: string;
  readonly name: string;
}

/** `namespace/name`, for logs, maps and messages (both parts are DNS labels, so "/" cannot be ambiguous). */
export function agentKey(agent: AgentId): string {
  return `${agent.namespace}/${agent.name}`;
}

/**
 * Where an agent's leaf hosts come from: the hosts of its Providers and ModelProviders (aws hosts
 * already expanded from config.region + config.services). Patterns are exact lower-case names or
 * `*.suffix`; the TLS core validates them again before certifying them (src/tls/sans.ts).
 */
export interface LeafHostsSource {
  /** The agent's hosts, or undefined for an unknown agent. Rejects (PaiError store_unavailable, …) when it cannot tell. */
  hostsOf(agent: AgentId): Promise<readonly string[] | undefined>;
  /**
   * Calls `onChange` when an agent's bindings (or a bound Provider's hosts) may have changed;
   * `agent` undefined means "any agent". Returns the unsubscribe function. Spurious calls are fine:
   * a leaf is re-issued only when the host set really differs.
   */
  subscribe(onChange: (agent?: AgentId) => void): () => void;
}

/** Time and timers, injected so that renewal can be tested with a fake clock. */
export interface Clock {
  now(): number;
  /** Runs `fn` after `ms` (clamped to what setTimeout accepts); returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

// setTimeout overflows (fires at once) past 2^31-1 ms, about 24.8 days: longer waits are chained.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The real clock; timers are unref'd so that a pending renewal never keeps the process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    let handle: NodeJS.Timeout;
    const arm = (left: number): void => {
      const step = Math.min(Math.max(0, left), MAX_TIMER_MS);
      handle = setTimeout(() => (left > step ? arm(left - step) : fn()), step);
      handle.unref();
    };
    arm(ms);
    return () => clearTimeout(handle);
  },
};
