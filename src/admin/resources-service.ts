/**
 * Agents, Providers and ModelProviders behind the admin API: validated on the way in, their
 * references to secrets and to each other resolved before anything is written (422 naming each
 * broken one), protected against deletion while referenced, audited, and announced on the change
 * feed. Also the ReferenceGuard the secrets service asks before deleting or shrinking a secret.
 */
import type { Principal } from '../auth/tokens.js';
import type { ChangeFeed } from '../changes.js';
import { PaiError, isPaiError, toPaiError } from '../errors.js';
import { isDocumentedAzureTokenUrl, isDocumentedGcpTokenUrl } from '../providers/token-endpoints.js';
import { agentModelProviders } from '../resources/agent-bindings.js';
import { resourceDocument } from '../resources/document.js';
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

  /** Every stored resource of every kind in a namespace (unreadable documents are skipped). */
  async all(ns: string): Promise<Resource[]> {
    const lists = await Promise.all(
      (['modelproviders', 'providers', 'agents'] as const).map((k) => this.deps.store.listDocs(k, ns)),
    );
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

  async referrers(ns: string, secret: string): Promise<SecretReference[]> {
    return new ReferenceIndex(await this.all(ns)).referrers(secret);
  }

  async brokenBy(ns: string, secret: string, remainingKeys?: readonly string[]): Promise<SecretReference[]> {
    return new ReferenceIndex(await this.all(ns)).brokenBy(secret, remainingKeys);
  }

  /** What checkReferences needs to know, read from the resource's namespace for the names it mentions. */
  private async snapshot(ns: string, resource: Resource): Promise<ReferenceSnapshot> {
    const secrets = new Map<string, readonly string[] | undefined>();
    for (const ref of referencesOf(resource)) {
      if (secrets.has(ref.secret)) continue;
      try {
        secrets.set(
          ref.secret,
          (await this.deps.store.getSecretMeta(ns, ref.secret)).keys.map((k) => k.name),
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
          await this.deps.store.getDoc(kind, ns, name);
          found.add(name);
        } catch (err) {
          if (!isPaiError(err, 'not_found')) throw err;
        }
      }
      return found;
    };
    const spec = resource.kind === 'Agent' ? resource.spec : {};
    const providers = await exists('providers', spec.providers ?? []);
    const modelProviders = await exists('modelproviders', agentModelProviders(spec));
    return {
      secretKeys: (name) => secrets.get(name),
      hasProvider: (name) => providers.has(name),
      hasModelProvider: (name) => modelProviders.has(name),
    };
  }

  private audit(
    actor: Principal,
    action: 'resource.apply' | 'resource.delete',
    resource: { kind: string; namespace: string; name: string },
    err?: unknown,
    detail?: Record<string, unknown>,
  ): void {
    this.deps.audit.write({
      actor: { tokenId: actor.tokenId, role: actor.role },
      action,
      kind: resource.kind,
      namespace: resource.namespace.slice(0, 63),
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
  async apply(
    actor: Principal,
    ns: string,
    given: Resource,
    dryRun: boolean,
  ): Promise<{ result: ApplyResult; record?: DocRecord; resource: Resource }> {
    const plural = KIND_PLURAL[given.kind];
    const name = given.metadata.name;
    const where = { kind: given.kind, namespace: ns, name };
    try {
      const resource = inNamespace(given, ns);
      const broken = checkReferences(resource, await this.snapshot(ns, resource));
      if (broken.length > 0) {
        const list = broken.map((b) => `${b.field}: ${b.message}`).join('; ');
        const inNs = ns === 'default' ? '' : ` in namespace ${quoteName(ns)}`;
        throw new PaiError('broken_reference', `${resource.kind} ${quoteName(name)}${inNs} has broken references: ${list}`, {
          details: { brokenReferences: broken, namespace: ns },
        });
      }
      let current: DocRecord | undefined;
      try {
        current = await this.deps.store.getDoc(plural, ns, name);
      } catch (err) {
        if (!isPaiError(err, 'not_found')) throw err;
      }
      const document = resourceDocument(resource);
      if (current && canonicalJson(current.body) === canonicalJson(document))
        return { result: 'unchanged', record: current, resource };
      const result: ApplyResult = current ? 'configured' : 'created';
      if (dryRun) return { result, resource };
      const record = await this.deps.store.putDoc(plural, ns, name, document, { ifVersion: current?.version ?? 0 });
      // Published before the audit record, so that a failing audit log (disk full) cannot keep the
      // injector on the old resource.
      this.deps.changes.publish({ type: 'doc', kind: plural, namespace: ns, name });
      this.audit(actor, 'resource.apply', where, undefined, { result, version: record.version, ...auditFacts(resource) });
      return { result, record, resource };
    } catch (err) {
      if (!dryRun) this.audit(actor, 'resource.apply', where, err);
      throw err;
    }
  }

  /** One stored resource; `not_found` if absent. */
  async get(plural: ResourcePlural, ns: string, name: string): Promise<StoredResource> {
    const record = await this.deps.store.getDoc(plural, ns, name);
    return { resource: this.parseStored(record), record };
  }

  /** Every stored resource of a kind in a namespace, sorted by name. */
  async list(plural: ResourcePlural, ns: string): Promise<StoredResource[]> {
    return (await this.deps.store.listDocs(plural, ns)).map((record) => ({ resource: this.parseStored(record), record }));
  }

  /** Agents of the namespace that bind a Provider or ModelProvider, with the field that binds it. */
  private async bindersOf(kind: ResourceKind, ns: string, name: string): Promise<{ name: string; via: string }[]> {
    if (kind === 'Agent') return [];
    const binders: { name: string; via: string }[] = [];
    for (const { resource } of await this.list('agents', ns)) {
      if (resource.kind !== 'Agent') continue;
      const spec = resource.spec;
      let via: string | undefined;
      if (kind === 'Provider') via = spec.providers?.includes(name) ? 'spec.providers' : undefined;
      else if ((spec.models ?? []).some((m) => m.slice(0, m.indexOf('/')) === name)) via = 'spec.models';
      else if (spec.modelProviders?.includes(name)) via = 'spec.modelProviders';
      if (via !== undefined) binders.push({ name: resource.metadata.name, via });
    }
    return binders;
  }

  /** Deletes a resource; a Provider or ModelProvider bound by agents is refused with `referenced`. */
  async delete(actor: Principal, plural: ResourcePlural, ns: string, name: string): Promise<void> {
    const kind = PLURAL_KIND[plural];
    const where = { kind, namespace: ns, name };
    try {
      const current = await this.deps.store.getDoc(plural, ns, name);
      const binders = await this.bindersOf(kind, ns, name);
      if (binders.length > 0) {
        const names = binders.map((b) => b.name).join(', ');
        throw new PaiError('referenced', `cannot delete ${kind} ${quoteName(name)}: agents ${names} use it`, {
          details: { referencedBy: binders.map((b) => ({ kind: 'Agent', name: b.name, via: b.via })) },
        });
      }
      await this.deps.store.deleteDoc(plural, ns, name);
      this.deps.changes.publish({ type: 'doc', kind: plural, namespace: ns, name });
      this.audit(actor, 'resource.delete', where, undefined, { version: current.version });
    } catch (err) {
      this.audit(actor, 'resource.delete', where, err);
      throw err;
    }
  }
}

/**
 * `resource` placed in namespace `ns`: a document naming no namespace takes the request's; one
 * naming another is refused (as kubectl does), so a manifest cannot write across namespaces.
 */
export function inNamespace<R extends Resource>(resource: R, ns: string): R {
  const given = resource.metadata.namespace;
  if (given !== undefined && given !== ns) {
    throw new PaiError(
      'invalid',
      `${resource.kind} ${quoteName(resource.metadata.name)}: metadata.namespace ${quoteName(given)} does not match the namespace of the request ${quoteName(ns)}`,
      { details: { field: 'metadata.namespace' } },
    );
  }
  return { ...resource, metadata: { ...resource.metadata, namespace: ns } };
}

/**
 * Value-free facts an apply audit record notes: a token endpoint outside the cloud's documented
 * ones (the injector sends the credential there only if its operator allowed that URL).
 */
function auditFacts(resource: Resource): Record<string, unknown> {
  const url = resource.kind === 'Provider' ? resource.spec.auth?.tokenUrl : undefined;
  if (url === undefined || isDocumentedAzureTokenUrl(url) || isDocumentedGcpTokenUrl(url)) return {};
  return { customTokenUrl: url };
}
