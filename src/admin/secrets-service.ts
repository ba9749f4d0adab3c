/**
 * The secrets use cases behind the admin API: each write goes to the store, is audited (key
 * names only), and announced on the change feed so that the injector's cache drops it at once.
 * Writes that would break resources referencing the secret are refused unless forced.
 */
import type { Principal } from '../auth/tokens.js';
import type { ChangeFeed } from '../changes.js';
import { PaiError, toPaiError } from '../errors.js';
import { quoteName } from '../resources/names.js';
import type { SecretReference } from '../resources/types.js';
import type { SecretData, SecretMeta, SecretStore } from '../store/types.js';
import type { AuditAction, AuditLog } from './audit.js';

/** Who refers to a secret, and which references a change would break. */
export interface ReferenceGuard {
  /** Every reference to `secret` (resources of its namespace only: references never cross namespaces). */
  referrers(ns: string, secret: string): Promise<SecretReference[]>;
  /** References that break if `secret` is deleted (remainingKeys undefined) or left with only these keys. */
  brokenBy(ns: string, secret: string, remainingKeys?: readonly string[]): Promise<SecretReference[]>;
}

export interface SecretsServiceDeps {
  readonly store: SecretStore;
  readonly audit: AuditLog;
  readonly changes: ChangeFeed;
  readonly references: ReferenceGuard;
}

/** A reference as shown to users: `Agent/triage-bot via env[].secretRef`. */
export function describeReference(r: SecretReference): { kind: string; name: string; via: string; keys: readonly string[] } {
  return { kind: r.kind, name: r.name, via: r.via, keys: r.keys };
}

export class SecretsService {
  constructor(private readonly deps: SecretsServiceDeps) {}

  private async audited<T>(
    actor: Principal,
    action: AuditAction,
    ns: string,
    name: string,
    keys: readonly string[],
    fn: () => Promise<T>,
    detail?: Record<string, unknown>,
  ): Promise<T> {
    const base = {
      actor: { tokenId: actor.tokenId, role: actor.role },
      action,
      kind: 'Secret',
      namespace: ns.slice(0, 63),
      name: name.slice(0, 253),
      keys,
    };
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      try {
        this.deps.audit.write({ ...base, outcome: 'error', code: toPaiError(err).code, ...(detail ? { detail } : {}) });
      } catch {
        // The audit log cannot be written either (disk full): the write's own error is the answer.
      }
      throw err;
    }
    // The change is in the store: the injector must drop its cached value whatever happens next.
    this.deps.changes.publish({ type: 'secret', namespace: ns, name });
    try {
      this.deps.audit.write({ ...base, outcome: 'ok', ...(detail ? { detail } : {}) });
    } catch (err) {
      const e = toPaiError(err);
      throw new PaiError(e.code, `${action} of secret ${quoteName(name)} was applied, but ${e.message}`, { cause: err });
    }
    return result;
  }

  private async refuseIfBroken(
    ns: string,
    name: string,
    remainingKeys: readonly string[] | undefined,
    verb: string,
  ): Promise<void> {
    const broken = await this.deps.references.brokenBy(ns, name, remainingKeys);
    if (broken.length === 0) return;
    const list = broken.map((r) => `${r.kind}/${r.name} (${r.via})`).join(', ');
    throw new PaiError('referenced', `cannot ${verb} secret ${quoteName(name)}: it is referenced by ${list}`, {
      details: { referencedBy: broken.map(describeReference) },
    });
  }

  /** Creates a secret (409 if it exists). */
  create(actor: Principal, ns: string, name: string, data: SecretData): Promise<SecretMeta> {
    return this.audited(actor, 'secret.create', ns, name, [...data.keys()], () => this.deps.store.createSecret(ns, name, data));
  }

  /** Replaces all keys; refused with `referenced` if a key some resource needs would disappear. */
  replace(actor: Principal, ns: string, name: string, data: SecretData): Promise<SecretMeta> {
    return this.audited(actor, 'secret.replace', ns, name, [...data.keys()], async () => {
      const current = await this.deps.store.getSecretMeta(ns, name);
      await this.refuseIfBroken(ns, name, [...data.keys()], 'replace');
      return this.deps.store.replaceSecret(ns, name, data, { ifVersion: current.version });
    });
  }

  /** Sets and removes keys; refused with `referenced` if a removed key is needed by a resource. */
  patch(actor: Principal, ns: string, name: string, set: SecretData, remove: readonly string[]): Promise<SecretMeta> {
    return this.audited(actor, 'secret.patch', ns, name, [...set.keys(), ...remove], async () => {
      const current = await this.deps.store.getSecretMeta(ns, name);
      if (remove.length > 0) {
        const remaining = current.keys.map((k) => k.name).filter((k) => !remove.includes(k) || set.has(k));
        await this.refuseIfBroken(ns, name, [...new Set([...remaining, ...set.keys()])], 'patch');
      }
      return this.deps.store.patchSecret(ns, name, { set, remove }, { ifVersion: current.version });
    });
  }

  /**
   * Deletes a secret. Refused with `referenced` when resources use it, unless `force`; returns the
   * references the deletion broke (empty unless forced).
   */
  async delete(actor: Principal, ns: string, name: string, force: boolean): Promise<SecretReference[]> {
    let broken: SecretReference[] = [];
    await this.audited(
      actor,
      'secret.delete',
      ns,
      name,
      [],
      async () => {
        await this.deps.store.getSecretMeta(ns, name);
        if (force) broken = await this.deps.references.brokenBy(ns, name);
        else await this.refuseIfBroken(ns, name, undefined, 'delete');
        await this.deps.store.deleteSecret(ns, name);
      },
      force ? { force: true } : undefined,
    );
    return broken;
  }

  /** Metadata and the references to it. */
  async describe(ns: string, name: string): Promise<{ meta: SecretMeta; referencedBy: SecretReference[] }> {
    const meta = await this.deps.store.getSecretMeta(ns, name);
    return { meta, referencedBy: await this.deps.references.referrers(ns, name) };
  }

  list(ns: string): Promise<SecretMeta[]> {
    return this.deps.store.listSecrets(ns);
  }
}
