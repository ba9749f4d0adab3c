/**
 * A read-through cache for the injector's hot path: entries live for a TTL; concurrent misses for
 * one key share one load (single flight); `invalidate` drops a key at once and makes any load
 * already in flight unable to store its (older) result; a load that fails with `not_found` is
 * cached like a value (so a missing secret does not hammer the store); a load that fails otherwise
 * falls back to the last value if it is not older than `maxStaleMs` (stale-if-error), else throws.
 * Every load is bounded by `loadTimeoutMs`: the caller gets `store_unavailable` in time even when
 * the store hangs, and a late result still fills the cache for the next caller (unless a newer read
 * has filled it meanwhile). A load still unsettled after `abandonAfterMs` no longer holds the key:
 * the next miss reads again, so one read that never returns cannot wedge a key for good.
 */
import { PaiError, toPaiError } from '../errors.js';

export interface LoadingCacheOptions<V> {
  readonly load: (key: string) => Promise<V>;
  readonly ttlMs: number;
  readonly maxStaleMs: number;
  readonly loadTimeoutMs: number;
  readonly now?: () => number;
  /** Called with hit, miss or stale for each get (metrics). */
  readonly onLookup?: (result: 'hit' | 'miss' | 'stale') => void;
  /** Upper bound on entries; the oldest are dropped first. */
  readonly maxEntries?: number;
  /** After this long an unsettled load stops being shared and a new miss reads again (default 10 × loadTimeoutMs, at least 1 s). */
  readonly abandonAfterMs?: number;
}

interface Entry<V> {
  readonly value?: V;
  readonly error?: PaiError;
  readonly at: number;
}

export class LoadingCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inflight = new Map<string, Promise<Entry<V>>>();
  private readonly generations = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: LoadingCacheOptions<V>) {
    this.now = options.now ?? Date.now;
  }

  /** The fresh cached value of `key`, without loading; undefined when absent or expired. */
  peek(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e && e.value !== undefined && this.now() - e.at < this.options.ttlMs) {
      this.options.onLookup?.('hit');
      return e.value;
    }
    return undefined;
  }

  /**
   * The value of `key`, loading it when absent or expired, waiting at most `timeoutMs` (default
   * loadTimeoutMs) for the store. Throws PaiError.
   */
  async get(key: string, timeoutMs: number = this.options.loadTimeoutMs): Promise<V> {
    const e = this.entries.get(key);
    const t = this.now();
    if (e && t - e.at < this.options.ttlMs) {
      this.options.onLookup?.('hit');
      if (e.error) throw e.error;
      return e.value as V;
    }
    try {
      const loaded = await this.withTimeout(this.loadShared(key), timeoutMs);
      this.options.onLookup?.('miss');
      if (loaded.error) throw loaded.error;
      return loaded.value as V;
    } catch (err) {
      const error = toPaiError(err);
      if (error.code === 'not_found') throw error;
      const stale = this.entries.get(key);
      if (stale?.value !== undefined && this.now() - stale.at < this.options.maxStaleMs) {
        this.options.onLookup?.('stale');
        return stale.value;
      }
      throw error;
    }
  }

  /** Drops `key`; a load already in flight will not store its result. */
  invalidate(key: string): void {
    this.entries.delete(key);
    this.inflight.delete(key);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
  }

  /** Drops everything. */
  clear(): void {
    for (const key of [...this.entries.keys(), ...this.inflight.keys()]) this.invalidate(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private loadShared(key: string): Promise<Entry<V>> {
    const running = this.inflight.get(key);
    if (running) return running;
    const generation = this.generations.get(key) ?? 0;
    // An entry is as old as the read that produced it: stamped when the load starts, not when it
    // ends, so that a slow read that straddles a write elsewhere is not served for a whole TTL
    // after that write (other processes must see a change within the TTL).
    const started = this.now();
    const promise = this.options.load(key).then(
      (value): Entry<V> => ({ value, at: started }),
      (err: unknown): Entry<V> => {
        const error = toPaiError(err);
        if (error.code === 'not_found') return { error, at: started };
        throw error;
      },
    );
    const abandonAfter = this.options.abandonAfterMs ?? Math.max(1000, 10 * this.options.loadTimeoutMs);
    const abandon = setTimeout(() => {
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
    }, abandonAfter);
    abandon.unref();
    const settle = (entry: Entry<V> | undefined): void => {
      clearTimeout(abandon);
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
      if (!entry || (this.generations.get(key) ?? 0) !== generation) return;
      // An abandoned read may finish after a newer one: never replace a newer entry with an older read.
      const current = this.entries.get(key);
      if (current === undefined || current.at <= entry.at) this.store(key, entry);
    };
    promise.then(settle, () => settle(undefined));
    this.inflight.set(key, promise);
    return promise;
  }

  private store(key: string, entry: Entry<V>): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    const max = this.options.maxEntries ?? 100_000;
    if (this.entries.size > max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  private withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PaiError('store_unavailable', `the store did not answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
