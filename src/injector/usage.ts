/**
 * The injector's usage counts (src/usage/usage-doc.ts): counted in memory per request, written
 * every `flushMs` to this process's own document per namespace and day, off the request path.
 * Each write is a compare-and-set on the version this process wrote last, without a read first
 * (it is the only writer of its documents), so the injector needs only create and update on the
 * usage path. A failed write keeps the counts for the next flush.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { SecretStore } from '../store/types.js';
import { dayOf, type UsageCount, type UsageKey, usageDocName, usageKey } from '../usage/usage-doc.js';

/** A count as kept between flushes: mutable, the time as ms (formatted at the flush, off the request path). */
interface LiveCount {
  requests: number;
  lastUsedMs: number;
}

interface Pending {
  readonly day: string;
  version: number;
  readonly counts: Map<string, LiveCount>;
  dirty: boolean;
}

const DAY_MS = 86_400_000;

export interface UsageRecorderOptions {
  readonly store: SecretStore;
  readonly logger?: Logger;
  readonly now?: () => number;
  readonly flushMs?: number;
  /** This process's id in document names (default random). */
  readonly instance?: string;
}

export class UsageRecorder {
  readonly instance: string;
  private readonly byNamespace = new Map<string, Pending>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private warned = false;
  /** The UTC day of the last request and the ms at which it ends (dayOf once per day, not per request). */
  private day = '';
  private dayEndsMs = -Infinity;

  constructor(private readonly options: UsageRecorderOptions) {
    this.instance = options.instance ?? randomBytes(6).toString('hex');
    this.now = options.now ?? Date.now;
    const ms = options.flushMs ?? 5000;
    if (ms > 0) {
      this.timer = setInterval(() => void this.flush(), ms);
      this.timer.unref();
    }
  }

  /** Counts one request of `key` in namespace `ns`. */
  count(ns: string, key: UsageKey): void {
    this.countKey(ns, usageKey(key));
  }

  /** Counts one request in namespace `ns` of the key whose usageKey is `k` (kept by callers per agent and target). */
  countKey(ns: string, k: string): void {
    const at = this.now();
    if (at >= this.dayEndsMs || at < this.dayEndsMs - DAY_MS) {
      this.day = dayOf(at);
      this.dayEndsMs = (Math.floor(at / DAY_MS) + 1) * DAY_MS;
    }
    const day = this.day;
    let pending = this.byNamespace.get(ns);
    if (pending === undefined || pending.day !== day) {
      // A new day starts a new document; yesterday's last counts go out with the next flush.
      if (pending !== undefined && pending.dirty) void this.write(ns, pending);
      pending = { day, version: 0, counts: new Map(), dirty: false };
      this.byNamespace.set(ns, pending);
    }
    const live = pending.counts.get(k);
    if (live === undefined) pending.counts.set(k, { requests: 1, lastUsedMs: at });
    else {
      live.requests++;
      live.lastUsedMs = at;
    }
    pending.dirty = true;
  }

  /** Writes every namespace with new counts (one flush at a time). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      for (const [ns, pending] of this.byNamespace) if (pending.dirty) await this.write(ns, pending);
    });
    return this.flushing;
  }

  private async write(ns: string, pending: Pending): Promise<void> {
    pending.dirty = false;
    const counts: Record<string, UsageCount> = {};
    for (const [k, c] of pending.counts) counts[k] = { requests: c.requests, lastUsedAt: new Date(c.lastUsedMs).toISOString() };
    const body = { day: pending.day, instance: this.instance, counts };
    try {
      const record = await this.options.store.putDoc('usage', ns, usageDocName(pending.day, this.instance), body, {
        ifVersion: pending.version,
        blind: true,
      });
      pending.version = record.version;
    } catch (err) {
      pending.dirty = true;
      if (!this.warned) {
        this.warned = true;
        const code = (err as { code?: unknown }).code;
        this.options.logger?.warn(
          { code: typeof code === 'string' ? code : 'error' },
          'usage counts could not be written; kept for the next flush',
        );
      }
    }
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
