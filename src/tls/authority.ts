/**
 * The pai CA as a service: loads the CA from the store on first use (creating it when there is
 * none), keeps the signing key in memory as a node:crypto KeyObject (it never prints its bytes), renders the trust
 * bundle, rotates, and tells subscribers (the SDS leaf book) when the signing CA changed.
 *
 * Several processes (admin, injectors) share one store: creation and rotation are compare-and-set
 * writes. Two injectors starting at once both try to create; the loser re-reads and uses the
 * winner's CA. A process learns of a rotation made elsewhere when its owner calls `refresh()` (on
 * the store's change feed, or a timer).
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { PaiError, isPaiError } from '../errors.js';
import { type SigningCa, caIdOf, openSigningCa } from './ca.js';
import {
  type CaEntryState,
  type CaPolicy,
  type StoredCa,
  activeEntry,
  caBundle,
  initialCa,
  prepareCa,
  rotateCa,
  trustedCaPems,
} from './ca-state.js';
import { type Clock, systemClock } from './types.js';

/** A stored CA state and the store's version of it (for compare-and-set). */
export interface VersionedCa {
  readonly ca: StoredCa;
  readonly version: number;
}

/**
 * Where the CA state is kept: in the store, as an encrypted secret (encodeStoredCa gives its bytes).
 * Implementations never log, return or audit the bytes.
 */
export interface CaMaterialStore {
  /** The stored state, or undefined when no CA was created yet. Rejects when the store is unavailable. */
  load(): Promise<VersionedCa | undefined>;
  /**
   * Writes `next` if the stored version is still `ifVersion` (undefined: only if nothing is stored).
   * Resolves with the new version; rejects with PaiError `conflict` when someone else wrote first.
   */
  save(next: StoredCa, ifVersion: number | undefined): Promise<number>;
}

/** One stored CA as `pai get ca` shows it (public parts only). */
export interface CaSummary {
  readonly id: string;
  readonly state: CaEntryState;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly trustedUntil?: string;
  readonly certPem: string;
}

/** The part of the authority that leaf issuers need. */
export interface LeafSigner {
  /** The CA that signs new leaves; created on first use. */
  signing(): Promise<SigningCa>;
  /** Calls `onChange` after the signing CA changed (rotation here, or seen by refresh()). Returns unsubscribe. */
  subscribe(onChange: (ca: SigningCa) => void): () => void;
}

export interface CaAuthorityOptions extends CaPolicy {
  readonly store: CaMaterialStore;
  readonly clock?: Clock;
}

interface Loaded {
  readonly versioned: VersionedCa;
  readonly signer: SigningCa;
}

export class CaAuthority implements LeafSigner {
  private readonly store: CaMaterialStore;
  private readonly clock: Clock;
  private readonly policy: CaPolicy;
  private loaded: Promise<Loaded> | undefined;
  private readonly listeners = new Set<(ca: SigningCa) => void>();

  constructor(options: CaAuthorityOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    const { validityMs, skewMs, overlapMs } = options;
    this.policy = {
      ...(validityMs === undefined ? {} : { validityMs }),
      ...(skewMs === undefined ? {} : { skewMs }),
      ...(overlapMs === undefined ? {} : { overlapMs }),
    };
  }

  /** The signing CA (loaded or created once; a failed load is retried on the next call). */
  async signing(): Promise<SigningCa> {
    return (await this.current()).signer;
  }

  subscribe(onChange: (ca: SigningCa) => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  /** What `pai get ca` shows: each stored CA's id, state and dates, and its certificate. Never a key. */
  async describe(): Promise<CaSummary[]> {
    const { ca } = (await this.current()).versioned;
    return ca.entries.map((e) => {
      const cert = new X509Certificate(e.certPem);
      return {
        id: caIdOf(cert.publicKey.export({ type: 'spki', format: 'der' })),
        state: e.state,
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
        ...(e.trustedUntil === undefined ? {} : { trustedUntil: e.trustedUntil }),
        certPem: e.certPem,
      };
    });
  }

  /** PEM certificates of every CA clients must trust now (the pai part of the bundle). Never a key. */
  async trusted(): Promise<string[]> {
    return trustedCaPems((await this.current()).versioned.ca, this.clock.now());
  }

  /** The agent containers' CA bundle: `systemRoots` (default Node's) plus every trusted pai CA. */
  async bundle(systemRoots: readonly string[] = tls.rootCertificates): Promise<string> {
    return caBundle(systemRoots, await this.trusted());
  }

  /** Adds a `next` CA to the bundle without signing with it yet. Resolves with its id. Rejects `conflict` on a concurrent change. */
  async prepare(): Promise<{ readonly nextId: string }> {
    const { versioned } = await this.current();
    const next = await prepareCa(versioned.ca, this.clock.now(), this.policy);
    if (next !== versioned.ca) await this.write(next, versioned.version);
    const entry = next.entries.find((e) => e.state === 'next');
    const key = entry?.key;
    if (entry === undefined || key === undefined) throw new PaiError('internal', 'prepared CA missing');
    return { nextId: (await openSigningCa(entry.certPem, key)).id };
  }

  /**
   * Switches signing to a new CA (the prepared one if any); the old one stays trusted for
   * `overlapMs` (default from the options, else 7 days). Resolves with both ids. Rejects
   * PaiError `conflict` when another process changed the CA meanwhile (nothing is written).
   */
  async rotate(overlapMs?: number): Promise<{ readonly previousId: string; readonly activeId: string }> {
    const { versioned, signer } = await this.current();
    const policy = overlapMs === undefined ? this.policy : { ...this.policy, overlapMs };
    const next = await rotateCa(versioned.ca, this.clock.now(), policy);
    const loaded = await this.write(next, versioned.version);
    return { previousId: signer.id, activeId: loaded.signer.id };
  }

  /**
   * Re-reads the store; resolves true (and notifies) when the signing CA changed. When the store
   * cannot be read the CA in memory stays in use (leaves keep being issued) and this rejects.
   */
  async refresh(): Promise<boolean> {
    const before = await this.loadedId();
    const after = await this.load();
    this.loaded = Promise.resolve(after);
    const changed = before !== undefined && after.signer.id !== before;
    if (changed) this.notify(after.signer);
    return changed;
  }

  private async loadedId(): Promise<string | undefined> {
    try {
      return this.loaded ? (await this.loaded).signer.id : undefined;
    } catch {
      return undefined;
    }
  }

  private current(): Promise<Loaded> {
    if (this.loaded === undefined) {
      const fresh = this.load();
      this.loaded = fresh;
      // A failed load (store down) must not stick: the next caller tries again.
      fresh.catch(() => {
        if (this.loaded === fresh) this.loaded = undefined;
      });
    }
    return this.loaded;
  }

  private async load(): Promise<Loaded> {
    let versioned = await this.store.load();
    if (versioned === undefined) {
      const created = await initialCa(this.clock.now(), this.policy);
      try {
        versioned = { ca: created, version: await this.store.save(created, undefined) };
      } catch (err) {
        if (!isPaiError(err, 'conflict')) throw err;
        versioned = await this.store.load();
        if (versioned === undefined)
          throw new PaiError('store_unavailable', 'the pai CA was created elsewhere but cannot be read');
      }
    }
    const active = activeEntry(versioned.ca);
    return { versioned, signer: await openSigningCa(active.certPem, active.key) };
  }

  private async write(next: StoredCa, ifVersion: number): Promise<Loaded> {
    const version = await this.store.save(next, ifVersion);
    const active = activeEntry(next);
    const loaded: Loaded = { versioned: { ca: next, version }, signer: await openSigningCa(active.certPem, active.key) };
    const before = await this.loadedId();
    this.loaded = Promise.resolve(loaded);
    if (loaded.signer.id !== before) this.notify(loaded.signer);
    return loaded;
  }

  private notify(ca: SigningCa): void {
    for (const listener of this.listeners) {
      try {
        listener(ca);
      } catch {
        // A listener that fails must not stop the others; the leaf book logs its own failures.
      }
    }
  }
}
