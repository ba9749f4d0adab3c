/**
 * In-process change notifications: the admin service announces every write, the injector's caches
 * drop what changed at once (other processes see changes when their cache TTL expires).
 */
import type { DocKind } from './store/types.js';

/** A write: a secret or a resource of a namespace, or a cluster-wide document (tokens: no namespace). */
export type Change =
  | { readonly type: 'secret'; readonly namespace: string; readonly name: string }
  | { readonly type: 'doc'; readonly kind: DocKind; readonly namespace?: string; readonly name: string };

export type ChangeListener = (change: Change) => void;

export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();

  /** Registers a listener; returns a function that removes it. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every listener; a throwing listener does not stop the others. */
  publish(change: Change): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A cache that fails to invalidate still expires by TTL; the writer must not fail for it.
      }
    }
  }
}
