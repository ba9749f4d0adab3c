/**
 * Agents, Providers and ModelProviders behind the admin API: validated on the way in, their
 * references to secrets and to each other resolved before anything is written (422 naming each
 * broken one), protected against deletion while referenced, audited, and announced on the change
 * feed. Also the ReferenceGuard the secrets service asks before deleting or shrinking a secret.
 */
import type { Principal } from '../auth/tokens.js';
import type { ChangeFeed } from '../changes.js';
import { PaiError, isPaiError, toPaiError } from '../errors.js';
import { quoteName } from '../resources/names.js';
import { ReferenceIndex, checkReferences, type ReferenceSnapshot, referencesOf } from '../resources/references.js';
import { KIND_PLURAL, type Resource, type ResourceKind, type ResourcePlural, type SecretReference } from '../resources/types.js';
import { canonicalJson, parseResource } from '../resources/validate.js';
import type { DocRecord, SecretStore } from '../store/types.js';
import type { AuditLog } from './audit.js';
import type { ReferenceGuard } from './secrets-service.js';

export type ApplyResult = 'created' | 'configured' | 'unchanged';

export interface StoredResource {
  readonly resource: Resource;
  readonly record: DocRecord;
}

export const PLURAL_KIND: Readonly<Record<ResourcePlural, ResourceKind>> = {
  agents: 'Agent',
  providers: 'Provider',
  modelproviders: 'ModelProvider',
};

export interface ResourcesServiceDeps {
  readonly store: SecretStore;
  readonly audit: AuditLog;
  readonly changes: ChangeFeed;
}

export class ResourcesService implements ReferenceGuard {
  constructor(private readonly deps: ResourcesServiceDeps) {}

  private parseStored(record: DocRecord): Resource {
    return parseResource(record.body, `stored ${record.kind}/${record.name}`);
  }

  /** Every stored resource of every kind (unreadable documents are skipped). */
  async all(): Promise<Resource[]> {
    const lists = await Promise.all((['modelproviders', 'providers', 'agents'] as const).map((k) => this.deps.store.listDocs(k)));
    const out: Resource[] = [];
    for (const record of lists.flat()) {
      try {
        out.push(this.parseStored(record));
      } catch {
        // A document written by another version and no longer valid still must not stop the others.
      }
    }
    return out;
  }

  async referrers(secret: string): Promise<SecretReference[]> {
    return new ReferenceIndex(await this.all()).referrers(secret);
  }

  async brokenBy(secret: string, remainingKeys?: readonly string[]): Promise<SecretReference[]> {
    return new ReferenceIndex(await this.all()).brokenBy(secret, remainingKeys);
  }

  /** What checkReferences needs to know, read from the store for the names `resource` mentions. */
  private async snapshot(resource: Resource): Promise<ReferenceSnapshot> {
    const secrets = new Map<string, readonly string[] | undefined>();
    for (const ref of referencesOf(resource)) {
      if (secrets.has(ref.secret)) continue;
      try {
        secrets.set(
          ref.secret,
          (await this.deps.store.getSecretMeta(ref.secret)).keys.map((k) => k.name),
        );
      } catch (err) {
        if (!isPaiError(err, 'not_found') && !isPaiError(err, 'invalid')) throw err;
        secrets.set(ref.secret, undefined);
      }
    }
    const exists = async (kind: 'providers' | 'modelproviders', names: readonly string[]): Promise<Set<string>> => {
      const found = new Set<string>();
      for (const name of names) {
        try {
          await this.deps.store.getDoc(kind, name);
          found.add(name);
        } catch (err) {
          if (!isPaiError(err, 'not_found')) throw err;
        }
      }
      return found;
    };
    const spec = resource.kind === 'Agent' ? resource.spec : {};
    const providers = await exists('providers', spec.providers ?? []);
    const modelProviders = await exists('modelproviders', spec.modelProviders ?? []);
    return {
      secretKeys: (name) => secrets.get(name),
      hasProvider: (name) => providers.has(name),
      hasModelProvider: (name) => modelProviders.has(name),
    };
  }

  private audit(
    actor: Principal,
    action: 'resource.apply' | 'resource.delete',
    resource: { kind: string; name: string },
    err?: unknown,
    detail?: Record<string, unknown>,
  ): void {
    this.deps.audit.write({
      actor: { tokenId: actor.tokenId, role: actor.role },
      action,
      kind: resource.kind,
      name: resource.name.slice(0, 253),
      outcome: err === undefined ? 'ok' : 'error',
      ...(err === undefined ? {} : { code: toPaiError(err).code }),
      ...(detail ? { detail } : {}),
    });
  }

  /**
   * Creates or replaces a resource after checking every reference. With `dryRun` nothing is
   * written. Throws `invalid`, `broken_reference` (details.brokenReferences), `conflict`.
   */
  async apply(actor: Principal, resource: Resource, dryRun: boolean): Promise<{ result: ApplyResult; record?: DocRecord }> {
    const plural = KIND_PLURAL[resource.kind];
    const name = resource.metadata.name;
    try {
      const broken = checkReferences(resource, await this.snapshot(resource));
      if (broken.length > 0) {
        const list = broken.map((b) => `${b.field}: ${b.message}`).join('; ');
        throw new PaiError('broken_reference', `${resource.kind} ${quoteName(name)} has broken references: ${list}`, {
          details: { brokenReferences: broken },
        });
      }
      let current: DocRecord | undefined;
      try {
        current = await this.deps.store.getDoc(plural, name);
      } catch (err) {
        if (!isPaiError(err, 'not_found')) throw err;
      }
      if (current && canonicalJson(current.body) === canonicalJson(resource)) return { result: 'unchanged', record: current };
      const result: ApplyResult = current ? 'configured' : 'created';
      if (dryRun) return { result };
      const record = await this.deps.store.putDoc(plural, name, resource as unknown as Record<string, unknown>, {
        ifVersion: current?.version ?? 0,
      });
      // Published before the audit record, so that a failing audit log (disk full) cannot keep the
      // injector on the old resource.
      this.deps.changes.publish({ type: 'doc', kind: plural, name });
      this.audit(actor, 'resource.apply', { kind: resource.kind, name }, undefined, { result, version: record.version });
      return { result, record };
    } catch (err) {
      if (!dryRun) this.audit(actor, 'resource.apply', { kind: resource.kind, name }, err);
      throw err;
    }
  }

  /** One stored resource; `not_found` if absent. */
  async get(plural: ResourcePlural, name: string): Promise<StoredResource> {
    const record = await this.deps.store.getDoc(plural, name);
    return { resource: this.parseStored(record), record };
  }

  /** Every stored resource of a kind, sorted by name. */
  async list(plural: ResourcePlural): Promise<StoredResource[]> {
    return (await this.deps.store.listDocs(plural)).map((record) => ({ resource: this.parseStored(record), record }));
  }

  /** Agents that bind a Provider or ModelProvider. */
  private async bindersOf(kind: ResourceKind, name: string): Promise<string[]> {
    if (kind === 'Agent') return [];
    const agents = await this.list('agents');
    return agents
      .filter(({ resource }) => {
        if (resource.kind !== 'Agent') return false;
        const list = kind === 'Provider' ? resource.spec.providers : resource.spec.modelProviders;
        return (list ?? []).includes(name);
      })
      .map(({ resource }) => resource.metadata.name);
  }

  /** Deletes a resource; a Provider or ModelProvider bound by agents is refused with `referenced`. */
  async delete(actor: Principal, plural: ResourcePlural, name: string): Promise<void> {
    const kind = PLURAL_KIND[plural];
    try {
      const current = await this.deps.store.getDoc(plural, name);
      const binders = await this.bindersOf(kind, name);
      if (binders.length > 0) {
        throw new PaiError('referenced', `cannot delete ${kind} ${quoteName(name)}: agents ${binders.join(', ')} use it`, {
          details: {
            referencedBy: binders.map((n) => ({
              kind: 'Agent',
              name: n,
              via: kind === 'Provider' ? 'spec.providers' : 'spec.modelProviders',
            })),
          },
        });
      }
      await this.deps.store.deleteDoc(plural, name);
      this.deps.changes.publish({ type: 'doc', kind: plural, name });
      this.audit(actor, 'resource.delete', { kind, name }, undefined, { version: current.version });
    } catch (err) {
      this.audit(actor, 'resource.delete', { kind, name }, err);
      throw err;
    }
  }
}
