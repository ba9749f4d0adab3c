/**
 * Bearer tokens for the admin API (roles owner, admin, viewer, renderer; see roles.ts) and for agents calling the LLM
 * gateway (role agent). An API token is `pai_tok_<id>_<secret>` (Pai's prefix), an agent token
 * `pai_agt_<id>_<secret>`; each surface refuses the other's prefix before any lookup, so one kind
 * can never be used on the other surface (tokens made before, `pai_<id>_<secret>`, are still
 * accepted and checked by their record's role). The id locates the record, the record holds only a
 * SHA-256 of the whole token (256 random bits need no slow hash), and the comparison is
 * constant-time. The token itself is shown once, at creation, and never stored or logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { PaiError } from '../errors.js';
import { DEFAULT_NAMESPACE } from '../resources/types.js';
import type { ClusterDocKind, DocRecord, SecretStore } from '../store/types.js';

export const ROLES = ['owner', 'admin', 'viewer', 'renderer', 'agent'] as const;
export type Role = (typeof ROLES)[number];

export interface TokenInfo {
  readonly id: string;
  readonly role: Role;
  /** For role agent: the agent the token speaks for, and its namespace (absent: default). */
  readonly agent?: string;
  readonly agentNamespace?: string;
  /**
   * For role agent: the creation time of the agent the token was issued for. A token is good only
   * for that agent, not for one re-created later under the same name.
   */
  readonly agentCreatedAt?: string;
  readonly description?: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly lastUsedAt?: string;
  /** Made by `pai serve` for the CLI of its machine (config.yaml), which renews it when it expires. */
  readonly bootstrap?: boolean;
}

interface TokenDoc extends TokenInfo {
  readonly hash: string;
}

/** The identity behind a verified token. */
export interface Principal {
  readonly tokenId: string;
  readonly role: Role;
  readonly agent?: string;
  /** For role agent: the agent's namespace. */
  readonly agentNamespace?: string;
  /** See TokenInfo.agentCreatedAt (absent on agent tokens issued before it was recorded). */
  readonly agentCreatedAt?: string;
}

const TOKEN_RE = /^pai_(?:(tok|agt)_)?([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** The prefix of a new token of `role`. */
const prefixOf = (role: Role): string => (role === 'agent' ? 'pai_agt_' : 'pai_tok_');

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function toInfo(doc: TokenDoc): TokenInfo {
  const { hash: _hash, ...info } = doc;
  return info;
}

function parseDoc(record: DocRecord): TokenDoc | undefined {
  const b = record.body;
  if (typeof b['hash'] !== 'string' || typeof b['role'] !== 'string' || !(ROLES as readonly string[]).includes(b['role'])) {
    return undefined;
  }
  return b as unknown as TokenDoc;
}

export interface TokenServiceOptions {
  readonly store: SecretStore;
  readonly now?: () => Date;
  /** How long a verified token record is reused without a store read (ms). */
  readonly cacheTtlMs?: number;
  /** Last-used times are written at most this often per token (ms). */
  readonly lastUsedWriteMs?: number;
  /** A store read for a token record gives up after this long with `store_unavailable` (no limit by default). */
  readonly loadTimeoutMs?: number;
  /**
   * Which token records this service reads: API tokens (`tokens`), agent tokens (`agenttokens`),
   * or both (the default, for the admin API, which creates, lists and revokes both). The
   * injector reads agent tokens only.
   */
  readonly kinds?: readonly TokenKind[];
  /**
   * Where an accepted token's use is recorded instead of its own record (the injector: its usage
   * counts, so that it needs no write access to the tokens). Absent: last-used is written back to
   * the token record, at most once per lastUsedWriteMs.
   */
  readonly onUse?: (principal: Principal) => void;
  /**
   * Lifetime of a new API token (owner, admin, viewer, renderer) created without a ttl
   * (PAI_TOKEN_DEFAULT_TTL); none when absent. Agent tokens live as long as their agent unless given one.
   */
  readonly defaultTtlMs?: number;
}

export type TokenKind = ClusterDocKind;

/** Where a token of `role` is stored. */
export function tokenKindOf(role: Role): TokenKind {
  return role === 'agent' ? 'agenttokens' : 'tokens';
}

/** What `verify` additionally requires of the token. */
export interface VerifyOptions {
  /** Only a token of this role is accepted; any other is refused like an unknown token. */
  readonly role?: Role;
  /**
   * The surface asking: the admin API refuses `pai_agt_` tokens and the gateway `pai_tok_` ones,
   * from the text alone, before any store lookup.
   */
  readonly surface?: 'admin' | 'gateway';
}

interface CacheEntry {
  readonly kind: TokenKind;
  readonly doc: TokenDoc;
  readonly version: number;
  readonly fetchedAt: number;
}

export interface CreateTokenInput {
  readonly role: Role;
  readonly agent?: string;
  /** For role agent: the agent's namespace (default `default`). */
  readonly namespace?: string;
  readonly description?: string;
  readonly ttlMs?: number;
  readonly bootstrap?: boolean;
}

export class TokenService {
  private readonly store: SecretStore;
  private readonly now: () => Date;
  private readonly cacheTtlMs: number;
  private readonly lastUsedWriteMs: number;
  private readonly loadTimeoutMs: number | undefined;
  private readonly kinds: readonly TokenKind[];
  private readonly onUse: ((principal: Principal) => void) | undefined;
  private readonly defaultTtlMs: number | undefined;
  private readonly cache = new Map<string, CacheEntry>();
  // Concurrent misses for one token share one store read (single flight).
  private readonly inflight = new Map<string, Promise<CacheEntry | undefined>>();
  private readonly lastUsed = new Map<string, number>();
  // When last-used was last written (or tried) per token, in this process.
  private readonly lastWritten = new Map<string, number>();

  constructor(options: TokenServiceOptions) {
    this.store = options.store;
    this.now = options.now ?? (() => new Date());
    this.cacheTtlMs = options.cacheTtlMs ?? 5000;
    this.lastUsedWriteMs = options.lastUsedWriteMs ?? 60_000;
    this.loadTimeoutMs = options.loadTimeoutMs;
    this.kinds = options.kinds ?? ['tokens', 'agenttokens'];
    this.onUse = options.onUse;
    this.defaultTtlMs = options.defaultTtlMs;
  }

  /**
   * Creates a token; returns the token text (shown once) and its record. An agent token needs its
   * agent to exist (`broken_reference` otherwise) and is bound to that agent's creation time. An
   * API token without a ttl gets the default one (TokenServiceOptions.defaultTtlMs).
   */
  async create(input: CreateTokenInput): Promise<{ token: string; info: TokenInfo }> {
    let agentCreatedAt: string | undefined;
    const namespace = input.role === 'agent' ? (input.namespace ?? DEFAULT_NAMESPACE) : undefined;
    if (input.role === 'agent') {
      if (input.agent === undefined) throw new PaiError('invalid', 'agent is required for role agent');
      agentCreatedAt = (await this.agentRecord(namespace ?? DEFAULT_NAMESPACE, input.agent)).createdAt.toISOString();
    }
    const id = randomBytes(8).toString('hex');
    const token = `${prefixOf(input.role)}${id}_${randomBytes(32).toString('base64url')}`;
    const now = this.now();
    const ttlMs = input.ttlMs ?? (input.role === 'agent' ? undefined : this.defaultTtlMs);
    const doc: TokenDoc = {
      id,
      role: input.role,
      ...(input.agent === undefined ? {} : { agent: input.agent }),
      ...(namespace === undefined ? {} : { agentNamespace: namespace }),
      ...(agentCreatedAt === undefined ? {} : { agentCreatedAt }),
      ...(input.description === undefined ? {} : { description: input.description }),
      createdAt: now.toISOString(),
      ...(ttlMs === undefined ? {} : { expiresAt: new Date(now.getTime() + ttlMs).toISOString() }),
      ...(input.bootstrap === true ? { bootstrap: true } : {}),
      hash: hashToken(token).toString('hex'),
    };
    await this.store.putClusterDoc(tokenKindOf(input.role), `t${id}`, { ...doc }, { ifVersion: 0 });
    return { token, info: toInfo(doc) };
  }

  private async agentRecord(ns: string, agent: string): Promise<DocRecord> {
    try {
      return await this.store.getDoc('agents', ns, agent);
    } catch (err) {
      if (!(err instanceof PaiError && (err.code === 'not_found' || err.code === 'invalid'))) throw err;
      throw new PaiError(
        'broken_reference',
        `agent ${JSON.stringify(agent.slice(0, 63))} does not exist: apply the Agent first, then create its token`,
        { details: { field: 'agent' } },
      );
    }
  }

  /** Every token's public record, optionally of one role. */
  async list(role?: Role): Promise<TokenInfo[]> {
    const docs = (await Promise.all(this.kinds.map((kind) => this.store.listClusterDocs(kind)))).flat();
    return docs
      .map(parseDoc)
      .filter((d): d is TokenDoc => d !== undefined && (role === undefined || d.role === role))
      .map((d) => ({ ...toInfo(d), ...this.lastUsedOf(d) }));
  }

  private lastUsedOf(doc: TokenDoc): { lastUsedAt?: string } {
    const mem = this.lastUsed.get(doc.id);
    const stored = doc.lastUsedAt ? Date.parse(doc.lastUsedAt) : 0;
    const latest = Math.max(mem ?? 0, stored);
    return latest > 0 ? { lastUsedAt: new Date(latest).toISOString() } : {};
  }

  /** The public record of token `id` (read from the store, never cached); undefined when there is none. */
  async info(id: string): Promise<TokenInfo | undefined> {
    if (!/^[0-9a-f]{16}$/.test(id)) return undefined;
    const entry = await this.fetch(id);
    return entry ? toInfo(entry.doc) : undefined;
  }

  /**
   * What a presented token is, without using it: its record and whether it has expired, when the
   * token matches a stored record (constant-time, as verify); undefined for anything else. For
   * `pai serve`'s own bootstrap (renewing the token of config.yaml), never for authentication.
   */
  async inspect(presented: string): Promise<{ info: TokenInfo; expired: boolean } | undefined> {
    const id = TOKEN_RE.exec(presented)?.[2];
    if (!id) return undefined;
    const doc = (await this.fetch(id))?.doc;
    const expected = doc ? Buffer.from(doc.hash, 'hex') : Buffer.alloc(32);
    const ok = timingSafeEqual(hashToken(presented), expected.length === 32 ? expected : Buffer.alloc(32));
    if (!doc || !ok) return undefined;
    return { info: toInfo(doc), expired: doc.expiresAt !== undefined && Date.parse(doc.expiresAt) <= this.now().getTime() };
  }

  /** Revokes a token; `not_found` if there is no such id. */
  async revoke(id: string): Promise<void> {
    if (!/^[0-9a-f]{16}$/.test(id)) throw new PaiError('not_found', `token ${JSON.stringify(id.slice(0, 40))} not found`);
    this.forget(id);
    try {
      const entry = await this.fetch(id);
      if (!entry) throw new PaiError('not_found', `token ${id} not found`);
      await this.store.deleteClusterDoc(entry.kind, `t${id}`);
    } finally {
      // Again after the delete: a verify that read the record meanwhile must not keep it cached.
      this.forget(id);
    }
  }

  /**
   * Drops a cached record, and detaches a read in flight so that its (older) result is not cached:
   * another component revoked the token, or a test wants a fresh read.
   */
  forget(id: string): void {
    this.cache.delete(id);
    this.inflight.delete(id);
  }

  private load(id: string): Promise<CacheEntry | undefined> {
    const hit = this.cache.get(id);
    if (hit && this.now().getTime() - hit.fetchedAt < this.cacheTtlMs) return Promise.resolve(hit);
    let running = this.inflight.get(id);
    if (!running) {
      const fetching: Promise<CacheEntry | undefined> = this.fetch(id).then((entry) => {
        // Cache only if nobody called forget(id) since this read began.
        if (this.inflight.get(id) === fetching) {
          this.inflight.delete(id);
          if (entry) this.cache.set(id, entry);
          else this.cache.delete(id);
        }
        return entry;
      });
      fetching.catch(() => {
        if (this.inflight.get(id) === fetching) this.inflight.delete(id);
      });
      this.inflight.set(id, fetching);
      running = fetching;
    }
    return this.withTimeout(running);
  }

  private async fetch(id: string): Promise<CacheEntry | undefined> {
    const fetchedAt = this.now().getTime();
    for (const kind of this.kinds) {
      try {
        const record = await this.store.getClusterDoc(kind, `t${id}`);
        const doc = parseDoc(record);
        // A record in the wrong place (an agent token among API tokens) is not a token.
        return doc && tokenKindOf(doc.role) === kind ? { kind, doc, version: record.version, fetchedAt } : undefined;
      } catch (err) {
        // A row that fails its integrity check (written without the master key) is not a token:
        // the caller gets 401 like for any unknown token; the store reported the row at start.
        if (!(err instanceof PaiError && (err.code === 'not_found' || err.code === 'integrity'))) throw err;
      }
    }
    return undefined;
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    const ms = this.loadTimeoutMs;
    if (ms === undefined) return promise;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PaiError('store_unavailable', `the store did not answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Verifies a presented token. Returns its principal, or throws `unauthenticated` (malformed,
   * unknown, revoked, expired, or not of `options.role`: one message for all so that a caller learns
   * nothing) or `store_unavailable`. Only an accepted token counts as used.
   */
  async verify(presented: string, options: VerifyOptions = {}): Promise<Principal> {
    const m = TOKEN_RE.exec(presented);
    const kind = m?.[1];
    const id = m?.[2];
    // Made only when needed: an Error captures a stack trace, which costs more than the whole check.
    const denied = (): PaiError => new PaiError('unauthenticated', 'invalid, expired or revoked token');
    if (!id) throw denied();
    // The other surface's tokens are refused from their prefix alone: no lookup, no timing signal.
    if ((options.surface === 'admin' && kind === 'agt') || (options.surface === 'gateway' && kind === 'tok')) throw denied();
    const entry = await this.load(id);
    const doc = entry?.doc;
    const expected = doc ? Buffer.from(doc.hash, 'hex') : Buffer.alloc(32);
    const ok = timingSafeEqual(hashToken(presented), expected.length === 32 ? expected : Buffer.alloc(32));
    if (!doc || !ok) throw denied();
    const now = this.now().getTime();
    if (doc.expiresAt && Date.parse(doc.expiresAt) <= now) throw denied();
    if (options.role !== undefined && doc.role !== options.role) throw denied();
    // A new-format token must be of the kind its prefix says (a record moved between kinds is not).
    if (kind !== undefined && (kind === 'agt') !== (doc.role === 'agent')) throw denied();
    const principal: Principal = {
      tokenId: id,
      role: doc.role,
      ...(doc.agent === undefined ? {} : { agent: doc.agent, agentNamespace: doc.agentNamespace ?? DEFAULT_NAMESPACE }),
      ...(doc.agentCreatedAt === undefined ? {} : { agentCreatedAt: doc.agentCreatedAt }),
    };
    if (this.onUse !== undefined) this.onUse(principal);
    else if (entry) this.touch(entry, now);
    return principal;
  }

  /**
   * Records last use in memory; persists it at most once per lastUsedWriteMs per token (counted
   * from the last write attempt, not the last use, so a busy token's time keeps moving), off the
   * request path.
   */
  private touch(entry: CacheEntry, now: number): void {
    const { doc, version, kind } = entry;
    this.lastUsed.set(doc.id, now);
    const written = this.lastWritten.get(doc.id) ?? (doc.lastUsedAt ? Date.parse(doc.lastUsedAt) : 0);
    if (now - written < this.lastUsedWriteMs) return;
    this.lastWritten.set(doc.id, now);
    const next: TokenDoc = { ...doc, lastUsedAt: new Date(now).toISOString() };
    // Compare-and-set on the version read: a token revoked meanwhile is never written back.
    this.store.putClusterDoc(kind, `t${doc.id}`, { ...next }, { ifVersion: version }).then(
      (record) => {
        const cached = this.cache.get(doc.id);
        if (cached?.version === version)
          this.cache.set(doc.id, { kind, doc: next, version: record.version, fetchedAt: cached.fetchedAt });
      },
      (err: unknown) => {
        // Best effort: last-used is informational, retried one interval later. A lost race means
        // the record changed (another replica wrote it, or it was revoked): read it afresh next
        // time. Any other failure (store down, a read-only store policy) keeps the cached record,
        // so that verification never turns into a store read per request.
        const cached = this.cache.get(doc.id);
        if (err instanceof PaiError && err.code === 'conflict' && cached?.version === version) this.cache.delete(doc.id);
      },
    );
  }

  /** True when at least one admin token exists. */
  async hasAdmin(): Promise<boolean> {
    return (await this.list('admin')).length > 0;
  }

  /** True when at least one owner token exists that has not expired (bootstrap check). */
  async hasOwner(): Promise<boolean> {
    const now = this.now().getTime();
    return (await this.list('owner')).some((t) => t.expiresAt === undefined || Date.parse(t.expiresAt) > now);
  }

  /**
   * Creates the first token, of role owner (roles.ts: the one role that may create renderer
   * tokens), if no live owner token exists: on an empty store, on a store from before the owner
   * role, or once every owner token has expired. At most once across every process on the store:
   * several replicas starting together on an empty Vault each get here, and each first takes a
   * claim record with compare-and-set (create-only, or over a claim older than
   * `FIRST_ADMIN_CLAIM_STALE_MS`, whose holder died before making its token). A process that loses
   * the race, or finds a live owner token after claiming, creates nothing and returns undefined.
   */
  async createFirstAdmin(description: string): Promise<{ token: string; info: TokenInfo } | undefined> {
    if (await this.hasOwner()) return undefined;
    let claimVersion = 0;
    try {
      const claim = await this.store.getClusterDoc('tokens', FIRST_ADMIN_CLAIM);
      const claimedAt = Date.parse(String(claim.body['claimedAt']));
      if (Number.isFinite(claimedAt) && this.now().getTime() - claimedAt < FIRST_ADMIN_CLAIM_STALE_MS) return undefined;
      claimVersion = claim.version;
    } catch (err) {
      if (!(err instanceof PaiError && err.code === 'not_found')) throw err;
    }
    try {
      await this.store.putClusterDoc(
        'tokens',
        FIRST_ADMIN_CLAIM,
        { claimedAt: this.now().toISOString() },
        { ifVersion: claimVersion },
      );
    } catch (err) {
      if (err instanceof PaiError && err.code === 'conflict') return undefined;
      throw err;
    }
    // Another process may have finished its bootstrap between the first look and the claim.
    if (await this.hasOwner()) return undefined;
    return this.create({ role: 'owner', description, bootstrap: true });
  }
}

/**
 * The claim record of the first-admin bootstrap, among the API tokens (not a token: no hash, so
 * listing and verification skip it; token records are named `t<id>`).
 */
export const FIRST_ADMIN_CLAIM = 'first-admin-claim';
/** A claim this old with still no admin token belongs to a process that died: it may be taken over. */
export const FIRST_ADMIN_CLAIM_STALE_MS = 60_000;
