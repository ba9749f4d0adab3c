/**
 * Tokens and logins of the test double: service tokens with policies, a TTL, an optional max TTL
 * and a namespace; lookup-self and renew-self (a renewal grants the increment or the creation
 * TTL, capped by the max TTL); kubernetes login (role + a JWT the test registered: no
 * TokenReview) and approle login (role_id + secret_id). An expired or revoked token is unknown,
 * and Vault answers 403 for it. Not modelled: batch tokens, periodic tokens, accessors' own
 * endpoints, num_uses, entity/identity, token roles, secret_id TTLs and CIDR bindings.
 */
import { randomBytes } from 'node:crypto';
import { DoubleError } from './kv.js';

export interface TokenEntry {
  readonly id: string;
  readonly accessor: string;
  readonly policies: readonly string[];
  /** "" (root namespace) or "team-a/". */
  readonly nsPath: string;
  readonly issuedAt: number;
  readonly creationTtlMs: number;
  expiresAt: number | undefined;
  readonly maxExpiresAt: number | undefined;
  readonly renewable: boolean;
}

export interface TokenSpec {
  readonly policies: readonly string[];
  /** 0: never expires (like a root token). Default: the store's login TTL. */
  readonly ttlSeconds?: number;
  readonly maxTtlSeconds?: number;
  readonly renewable?: boolean;
  readonly namespace?: string;
}

export interface RoleSpec {
  readonly policies: readonly string[];
  readonly ttlSeconds?: number;
  readonly maxTtlSeconds?: number;
  readonly namespace?: string;
  /** Auth mount path; default "kubernetes" or "approle". */
  readonly mount?: string;
}

/** "team-a", "/team-a/" → "team-a/"; "" → "". */
export function nsPathOf(namespace: string | undefined): string {
  const trimmed = (namespace ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

export class TokenStore {
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly k8sRoles = new Map<string, RoleSpec & { jwt: string }>();
  private readonly appRoles = new Map<string, RoleSpec & { secretId: string }>();
  /** TTL and max TTL of tokens that logins issue. */
  loginTtlSeconds = 3600;
  loginMaxTtlSeconds = 0;

  constructor(private readonly now: () => number) {}

  create(spec: TokenSpec): TokenEntry {
    const now = this.now();
    const ttl = (spec.ttlSeconds ?? this.loginTtlSeconds) * 1000;
    const max = (spec.maxTtlSeconds ?? 0) * 1000;
    const entry: TokenEntry = {
      id: `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('hex'),
      policies: [...spec.policies],
      nsPath: nsPathOf(spec.namespace),
      issuedAt: now,
      creationTtlMs: ttl,
      expiresAt: ttl > 0 ? now + (max > 0 ? Math.min(ttl, max) : ttl) : undefined,
      maxExpiresAt: max > 0 ? now + max : undefined,
      renewable: spec.renewable ?? ttl > 0,
    };
    this.tokens.set(entry.id, entry);
    return entry;
  }

  /** The live token `id` usable in namespace `nsPath` (its own or a child), else undefined. */
  lookup(id: string, nsPath: string): TokenEntry | undefined {
    const entry = this.tokens.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.tokens.delete(id);
      return undefined;
    }
    return nsPath.startsWith(entry.nsPath) ? entry : undefined;
  }

  renew(entry: TokenEntry, incrementSeconds: number | undefined): void {
    if (!entry.renewable || entry.expiresAt === undefined) throw new DoubleError(400, ['lease is not renewable']);
    const now = this.now();
    let next = now + (incrementSeconds && incrementSeconds > 0 ? incrementSeconds * 1000 : entry.creationTtlMs);
    if (entry.maxExpiresAt !== undefined) next = Math.min(next, entry.maxExpiresAt);
    entry.expiresAt = next;
  }

  /** Every token but root tokens expires now (the next use is a 403). */
  expireAll(): void {
    for (const t of this.tokens.values()) if (!t.policies.includes('root')) t.expiresAt = this.now();
  }

  revoke(id: string): void {
    this.tokens.delete(id);
  }

  addKubernetesRole(role: string, jwt: string, spec: RoleSpec): void {
    this.k8sRoles.set(`${nsPathOf(spec.namespace)}${spec.mount ?? 'kubernetes'}/${role}`, { ...spec, jwt });
  }

  addAppRole(roleId: string, secretId: string, spec: RoleSpec): void {
    this.appRoles.set(`${nsPathOf(spec.namespace)}${spec.mount ?? 'approle'}/${roleId}`, { ...spec, secretId });
  }

  /** True when `mount` is a kubernetes or approle auth mount the tests configured in `nsPath`. */
  authMount(nsPath: string, mount: string): 'kubernetes' | 'approle' | undefined {
    const prefix = `${nsPath}${mount}/`;
    if ([...this.k8sRoles.keys()].some((k) => k.startsWith(prefix))) return 'kubernetes';
    if ([...this.appRoles.keys()].some((k) => k.startsWith(prefix))) return 'approle';
    return undefined;
  }

  private issue(role: RoleSpec, nsPath: string): TokenEntry {
    return this.create({
      policies: ['default', ...role.policies],
      ttlSeconds: role.ttlSeconds ?? this.loginTtlSeconds,
      maxTtlSeconds: role.maxTtlSeconds ?? this.loginMaxTtlSeconds,
      namespace: nsPath,
    });
  }

  loginKubernetes(nsPath: string, mount: string, body: Record<string, unknown>): TokenEntry {
    const role = typeof body['role'] === 'string' ? body['role'] : '';
    if (role === '') throw new DoubleError(400, ['missing role']);
    const spec = this.k8sRoles.get(`${nsPath}${mount}/${role}`);
    if (!spec) throw new DoubleError(400, [`invalid role name "${role}"`]);
    if (typeof body['jwt'] !== 'string' || body['jwt'] === '') throw new DoubleError(400, ['missing jwt']);
    if (body['jwt'] !== spec.jwt) throw new DoubleError(403, ['permission denied']);
    return this.issue(spec, nsPath);
  }

  loginAppRole(nsPath: string, mount: string, body: Record<string, unknown>): TokenEntry {
    const roleId = typeof body['role_id'] === 'string' ? body['role_id'] : '';
    if (roleId === '') throw new DoubleError(400, ['missing role_id']);
    const spec = this.appRoles.get(`${nsPath}${mount}/${roleId}`);
    if (!spec || body['secret_id'] !== spec.secretId) throw new DoubleError(400, ['invalid role or secret ID']);
    return this.issue(spec, nsPath);
  }

  /** The `auth` block of a login or renew response. */
  authBody(entry: TokenEntry): Record<string, unknown> {
    return {
      client_token: entry.id,
      accessor: entry.accessor,
      policies: entry.policies,
      token_policies: entry.policies,
      metadata: null,
      lease_duration: this.ttlSeconds(entry),
      renewable: entry.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: true,
    };
  }

  ttlSeconds(entry: TokenEntry): number {
    return entry.expiresAt === undefined ? 0 : Math.max(0, Math.round((entry.expiresAt - this.now()) / 1000));
  }

  /** The `data` of lookup-self. */
  lookupBody(entry: TokenEntry): Record<string, unknown> {
    return {
      accessor: entry.accessor,
      creation_time: Math.floor(entry.issuedAt / 1000),
      creation_ttl: Math.round(entry.creationTtlMs / 1000),
      display_name: 'token',
      expire_time: entry.expiresAt === undefined ? null : new Date(entry.expiresAt).toISOString(),
      explicit_max_ttl: entry.maxExpiresAt === undefined ? 0 : Math.round((entry.maxExpiresAt - entry.issuedAt) / 1000),
      id: entry.id,
      issue_time: new Date(entry.issuedAt).toISOString(),
      meta: null,
      num_uses: 0,
      orphan: true,
      path: 'auth/token/create',
      policies: entry.policies,
      renewable: entry.renewable,
      ttl: this.ttlSeconds(entry),
      type: 'service',
      namespace_path: entry.nsPath,
    };
  }
}
