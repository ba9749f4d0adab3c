/**
 * The leaf book: the current leaf of every agent that an SDS stream is watching, renewed before it
 * expires and re-issued when the agent's hosts or the signing CA change; every new leaf is handed
 * to the agent's watchers (the open SDS streams), which push it to Envoy.
 *
 * - Leaves live here only while someone watches: when the last stream of an agent closes, its
 *   leaf (and the key in it) is dropped and its timer cancelled. A one-off fetch issues a leaf
 *   that is not kept.
 * - Renewal at `renewAt` (2/3) of the lifetime minus a random jitter (up to 10 % of the lifetime),
 *   so that leaves issued together (an injector restart) do not all renew in the same second, and a
 *   renewal that fails (store down) still has a third of the lifetime to be retried in.
 * - Work for one agent is serialised (renewal, binding change, CA change), so that an older
 *   issuance can never overwrite a newer one.
 */
import { PaiError, toPaiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LeafSigner } from '../tls/authority.js';
import { type IssuedLeaf, type LeafOptions, DEFAULT_LEAF_LIFETIME_MS, issueLeaf } from '../tls/leaf.js';
import { planSans } from '../tls/sans.js';
import { type AgentId, type Clock, type LeafHostsSource, agentKey, systemClock } from '../tls/types.js';

export interface LeafBookOptions extends LeafOptions {
  readonly signer: LeafSigner;
  readonly hosts: LeafHostsSource;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Fraction of a leaf's lifetime after which it is renewed (default 2/3). */
  readonly renewAt?: number;
  /** Up to this fraction of the lifetime is taken off the renewal time at random (default 0.1). */
  readonly jitter?: number;
  /** Wait before retrying a renewal that failed (default 30 s). */
  readonly retryMs?: number;
  readonly random?: () => number;
}

/** What an SDS stream gives the book: where new leaves go, and how the end is told. */
export interface LeafWatcher {
  onLeaf(leaf: IssuedLeaf): void;
  /** The agent can no longer be served (deleted, no certifiable host left). */
  onEnd(error: PaiError): void;
}

export interface LeafWatch {
  readonly leaf: IssuedLeaf;
  stop(): void;
}

type Reason = 'first' | 'renewal' | 'bindings' | 'ca';

interface Entry {
  readonly agent: AgentId;
  readonly watchers: Set<LeafWatcher>;
  leaf: IssuedLeaf | undefined;
  renewAtMs: number;
  /** Callers between lookup and watch (or fetch): the entry is not dropped under them. */
  pending: number;
  cancelTimer: (() => void) | undefined;
  queue: Promise<unknown>;
}

/** Errors after which retrying cannot help: the watchers are told and the leaf dropped. */
const FINAL = new Set(['unknown_agent', 'invalid']);

export class LeafBook {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly options: LeafBookOptions) {
    this.clock = options.clock ?? systemClock;
    this.unsubscribe = [
      options.hosts.subscribe((agent) => this.onBindings(agent)),
      options.signer.subscribe(() => {
        for (const entry of this.entries.values()) this.refresh(entry, 'ca');
      }),
    ];
  }

  /**
   * Watches `agent`'s leaf: resolves with the current one (issued if needed); `watcher` gets every
   * later one. Rejects PaiError `unknown_agent`, `invalid` (no certifiable host), or whatever the
   * store or the CA rejected with.
   */
  async watch(agent: AgentId, watcher: LeafWatcher): Promise<LeafWatch> {
    const entry = this.entry(agent);
    entry.pending++;
    try {
      const leaf = await this.enqueue(entry, () => this.fresh(entry));
      entry.watchers.add(watcher);
      return { leaf: entry.leaf ?? leaf, stop: () => this.unwatch(entry, watcher) };
    } finally {
      entry.pending--;
      this.dropIfIdle(entry);
    }
  }

  /** The agent's current leaf (a watched one, or a fresh one that is not kept). Rejects like watch(). */
  async current(agent: AgentId): Promise<IssuedLeaf> {
    const entry = this.entry(agent);
    entry.pending++;
    try {
      return await this.enqueue(entry, () => this.fresh(entry));
    } finally {
      entry.pending--;
      this.dropIfIdle(entry);
    }
  }

  /** Stops every timer and subscription; open watchers are left to their streams. */
  close(): void {
    for (const off of this.unsubscribe) off();
    for (const entry of this.entries.values()) entry.cancelTimer?.();
    this.entries.clear();
  }

  private entry(agent: AgentId): Entry {
    const key = agentKey(agent);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = {
        agent,
        watchers: new Set(),
        leaf: undefined,
        renewAtMs: 0,
        pending: 0,
        cancelTimer: undefined,
        queue: Promise.resolve(),
      };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private unwatch(entry: Entry, watcher: LeafWatcher): void {
    entry.watchers.delete(watcher);
    this.dropIfIdle(entry);
  }

  private dropIfIdle(entry: Entry): void {
    if (entry.watchers.size > 0 || entry.pending > 0) return;
    entry.cancelTimer?.();
    entry.leaf = undefined;
    if (this.entries.get(agentKey(entry.agent)) === entry) this.entries.delete(agentKey(entry.agent));
  }

  private enqueue<T>(entry: Entry, work: () => Promise<T>): Promise<T> {
    const run = entry.queue.then(work, work);
    entry.queue = run.catch(() => undefined);
    return run;
  }

  private async fresh(entry: Entry): Promise<IssuedLeaf> {
    if (entry.leaf !== undefined && this.clock.now() < entry.renewAtMs) return entry.leaf;
    return this.issue(entry, entry.leaf === undefined ? 'first' : 'renewal');
  }

  private async issue(entry: Entry, reason: Reason, known?: readonly string[]): Promise<IssuedLeaf> {
    const hosts = known ?? (await this.hostsOf(entry.agent));
    const signer = await this.options.signer.signing();
    const now = this.clock.now();
    const { lifetimeMs = DEFAULT_LEAF_LIFETIME_MS, skewMs } = this.options;
    const leaf = await issueLeaf(signer, entry.agent, hosts, now, { lifetimeMs, ...(skewMs === undefined ? {} : { skewMs }) });
    entry.leaf = leaf;
    const lifetime = leaf.notAfter.getTime() - now;
    const jitter = (this.options.random ?? Math.random)() * (this.options.jitter ?? 0.1) * lifetime;
    entry.renewAtMs = now + Math.max(0, lifetime * (this.options.renewAt ?? 2 / 3) - jitter);
    this.arm(entry, entry.renewAtMs - now);
    this.options.logger.info(
      {
        agent: agentKey(entry.agent),
        reason,
        ca: leaf.caId,
        serial: leaf.serial,
        notAfter: leaf.notAfter.toISOString(),
        hosts: leaf.dnsNames,
        ...(leaf.skipped.length > 0 ? { skipped: leaf.skipped } : {}),
      },
      'sds: leaf issued',
    );
    return leaf;
  }

  private async hostsOf(agent: AgentId): Promise<readonly string[]> {
    const hosts = await this.options.hosts.hostsOf(agent);
    if (hosts === undefined) throw new PaiError('unknown_agent', `unknown agent ${agentKey(agent)}`);
    return hosts;
  }

  private arm(entry: Entry, delayMs: number): void {
    entry.cancelTimer?.();
    entry.cancelTimer = this.clock.setTimer(() => this.refresh(entry, 'renewal'), delayMs);
  }

  private onBindings(agent: AgentId | undefined): void {
    const only = agent === undefined ? undefined : agentKey(agent);
    for (const [key, entry] of this.entries) if (only === undefined || key === only) this.refresh(entry, 'bindings');
  }

  /** Re-issues a watched leaf (for a binding change only when the certified names differ) and pushes it. */
  private refresh(entry: Entry, reason: Reason): void {
    if (entry.watchers.size === 0) return;
    void this.enqueue(entry, async () => {
      if (entry.watchers.size === 0) return;
      let known: readonly string[] | undefined;
      if (reason === 'bindings') {
        known = await this.hostsOf(entry.agent);
        if (sameNames(planSans(known).dnsNames, entry.leaf?.dnsNames)) return;
      }
      const leaf = await this.issue(entry, reason, known);
      for (const watcher of entry.watchers) watcher.onLeaf(leaf);
    }).catch((err: unknown) => this.failed(entry, reason, toPaiError(err)));
  }

  private failed(entry: Entry, reason: Reason, error: PaiError): void {
    const agent = agentKey(entry.agent);
    if (FINAL.has(error.code)) {
      this.options.logger.warn({ agent, reason, code: error.code, err: error.message }, 'sds: agent can no longer be served');
      const watchers = [...entry.watchers];
      entry.watchers.clear();
      this.dropIfIdle(entry);
      for (const watcher of watchers) watcher.onEnd(error);
      return;
    }
    const retryMs = this.options.retryMs ?? 30_000;
    this.options.logger.warn(
      { agent, reason, code: error.code, err: error.message, retryMs },
      'sds: leaf re-issue failed; retrying',
    );
    this.arm(entry, retryMs);
  }
}

function sameNames(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((name, i) => name === b[i]);
}
