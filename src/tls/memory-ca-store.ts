/**
 * A CaMaterialStore in memory, with the real one's compare-and-set semantics: for tests, benches
 * and a process that runs without a persistent store (its CA then lives as long as the process).
 */
import { PaiError } from '../errors.js';
import type { CaMaterialStore, VersionedCa } from './authority.js';
import type { StoredCa } from './ca-state.js';

export class MemoryCaMaterialStore implements CaMaterialStore {
  private state: VersionedCa | undefined;
  /** How many successful saves were made (tests). */
  saves = 0;

  /** Resolves with the stored state, or undefined before the first save. */
  load(): Promise<VersionedCa | undefined> {
    return Promise.resolve(this.state);
  }

  /** Saves when the version matches (undefined: nothing stored yet); rejects PaiError `conflict` otherwise. */
  save(next: StoredCa, ifVersion: number | undefined): Promise<number> {
    if (this.state?.version !== ifVersion) {
      return Promise.reject(new PaiError('conflict', 'the pai CA was changed by someone else; reload and retry'));
    }
    const version = (this.state?.version ?? 0) + 1;
    this.state = { ca: next, version };
    this.saves++;
    return Promise.resolve(version);
  }
}
