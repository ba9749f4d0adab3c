/**
 * OAuth access tokens for azure and gcp targets (DESIGN §3, §6): the AccessTokenSource behind
 * both Check and Process. The exchange itself lives in oauth-azure.ts and oauth-gcp.ts, the HTTP
 * call in oauth-http.ts; this file is the cache.
 *
 * Cache policy:
 * - Key: strategy, secret name, secret version, a keyed fingerprint of the secret's values, scope
 *   and configured endpoint. A rotated secret (new version, or a secret deleted and re-created
 *   with other values under an old version number) never reuses a token of the old credential.
 * - A token of lifetime L (expires_in, counted from when the request was sent; 60 s when the
 *   endpoint gives none; bounded to [1 s, 24 h], see boundedLifetime) is handed out until L − min(60 s, L/10), so it never reaches an upstream
 *   about to expire, and is refreshed from L − min(5 min, 3L/10) on: the request that sees it due
 *   starts one refresh in the background and still gets the current token, so expiry never fails
 *   or delays a request while the endpoint answers. A failed background refresh is retried after
 *   min(5 s, the time left) and the current token is served until it is no longer usable.
 * - Single flight: concurrent requests needing the same token wait for one endpoint call.
 * - An endpoint failure with no usable token is PaiError `token_endpoint_failed` (denied 503):
 *   the request is never sent without its credential.
 * Nothing here logs or keeps in an error a client secret, private key, assertion or token.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { authOf } from '../inject/mutation.js';
import { PaiError } from '../errors.js';
import { isAllowedCustomTokenUrl, isDocumentedAzureTokenUrl, isDocumentedGcpTokenUrl } from '../providers/token-endpoints.js';
import { quoteName } from '../resources/names.js';
import type { InjectionTarget } from '../resources/types.js';
import type { AccessTokenSource } from './decide.js';
import { azureTokenRequest } from './oauth-azure.js';
import { GcpAssertions } from './oauth-gcp.js';
import { type TokenGrant, type TokenRequest, requestToken } from './oauth-http.js';

export interface OAuthOptions {
  /** Per token request, the answer read included (PAI_TOKEN_TIMEOUT). */
  readonly timeoutMs: number;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
  /** Upper bound on cached tokens (default 1000). */
  readonly maxEntries?: number;
  /**
   * Token endpoints outside the clouds' documented ones that the operator allows
   * (PAI_ALLOWED_TOKEN_URLS, exact URLs): a token request carries the credential itself, so it is
   * sent nowhere else, whatever a Provider's tokenUrl or a key file's token_uri says.
   */
  readonly allowedTokenUrls?: readonly string[];
}

interface Entry {
  readonly token: string;
  /** Handed out until then. */
  readonly usableUntil: number;
  /** A background refresh starts from then. */
  refreshFrom: number;
}

const DEFAULT_LIFETIME_MS = 60_000;

/**
 * The lifetimes the cache believes, whatever expires_in says (issue 16, item 7). Above the cap, a
 * token the endpoint (or whoever answers at its URL) calls near-eternal would be reused for that
 * long, past any revocation or rotation upstream: Azure and Google issue tokens of 1 h (Azure's CAE
 * tokens up to ~28 h), so 24 h only ever shortens an exotic answer and costs one more exchange per
 * day. Below the floor (a fraction of a second, which no cloud issues), the token would be stale
 * by the time it is used and nearly every request would run an exchange; at 1 s there is at most
 * about one exchange per second per credential. A higher floor would hand out tokens past their
 * real expiry, so it stays at the smallest value that bounds the exchange rate.
 */
export const OAUTH_LIFETIME_BOUNDS = Object.freeze({ minMs: 1000, maxMs: 24 * 3_600_000 });

/** `lifetimeMs` (expires_in, or the default when absent) bounded to OAUTH_LIFETIME_BOUNDS. */
export function boundedLifetime(lifetimeMs: number | undefined): number {
  const ms = lifetimeMs ?? DEFAULT_LIFETIME_MS;
  return Math.min(OAUTH_LIFETIME_BOUNDS.maxMs, Math.max(OAUTH_LIFETIME_BOUNDS.minMs, ms));
}

/** When a token obtained at `sentAt` with lifetime `lifetimeMs` stops being handed out, and when it is refreshed. */
export function tokenSchedule(sentAt: number, lifetimeMs: number): { usableUntil: number; refreshFrom: number } {
  const expiresAt = sentAt + lifetimeMs;
  return {
    usableUntil: expiresAt - Math.min(60_000, lifetimeMs / 10),
    refreshFrom: expiresAt - Math.min(300_000, (lifetimeMs * 3) / 10),
  };
}

export class OAuthTokenSource implements AccessTokenSource {
  // A Map bounded by insertion order rather than lru-cache: eslint's import-x resolver crashes on
  // lru-cache's package exports in this toolchain, and a token cache needs no more than this.
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private readonly fingerprints = new WeakMap<ReadonlyMap<string, Buffer>, string>();
  // Fingerprints are keyed by a per-process random key, so the cache keys say nothing about values.
  private readonly fingerprintKey = randomBytes(32);
  private readonly gcp = new GcpAssertions();
  private readonly now: () => number;

  constructor(private readonly options: OAuthOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A Bearer token for an azure or gcp target. Throws PaiError `token_endpoint_failed`, `key_missing` or `bad_header_value`. */
  async get(target: InjectionTarget, values: ReadonlyMap<string, Buffer>, secretVersion: number): Promise<string> {
    const auth = target.auth.strategy === 'gcp' ? target.auth : authOf(target, 'azure');
    const fingerprint = this.fingerprint(values);
    const tenant = auth.strategy === 'azure' ? (auth.tenantId ?? '') : '';
    const key = [auth.strategy, target.secret, secretVersion, fingerprint, auth.scope, auth.tokenUrl ?? '', tenant].join(
      '\u0000',
    );
    const entry = this.cache.get(key);
    const t = this.now();
    if (entry && t < entry.usableUntil) {
      if (t >= entry.refreshFrom && !this.inflight.has(key)) this.refreshInBackground(key, entry, target, values, fingerprint);
      return entry.token;
    }
    return (await this.fetchShared(key, target, values, fingerprint)).token;
  }

  private refreshInBackground(
    key: string,
    entry: Entry,
    target: InjectionTarget,
    values: ReadonlyMap<string, Buffer>,
    fingerprint: string,
  ): void {
    this.fetchShared(key, target, values, fingerprint).catch((err: unknown) => {
      const t = this.now();
      entry.refreshFrom = t + Math.min(5000, Math.max(0, entry.usableUntil - t));
      this.options.logger?.warn(
        { target: `${target.kind}/${target.name}`, reason: err instanceof Error ? err.message : 'unknown' },
        'OAuth token refresh failed; the current token is used until it expires',
      );
    });
  }

  private fetchShared(
    key: string,
    target: InjectionTarget,
    values: ReadonlyMap<string, Buffer>,
    fingerprint: string,
  ): Promise<Entry> {
    const running = this.inflight.get(key);
    if (running) return running;
    const sentAt = this.now();
    const promise = this.exchange(target, values, fingerprint, sentAt).then((grant) => {
      const entry: Entry = { token: grant.accessToken, ...tokenSchedule(sentAt, boundedLifetime(grant.expiresInMs)) };
      this.store(key, entry);
      return entry;
    });
    this.inflight.set(key, promise);
    const done = (): void => {
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
    };
    promise.then(done, done);
    return promise;
  }

  private async exchange(
    target: InjectionTarget,
    values: ReadonlyMap<string, Buffer>,
    fingerprint: string,
    nowMs: number,
  ): Promise<TokenGrant> {
    const what = `${target.auth.strategy} ${target.kind} ${quoteName(target.name)}`;
    let request: TokenRequest;
    if (target.auth.strategy === 'gcp') {
      request = await this.gcp.request(target, target.auth, values, fingerprint, what, nowMs);
    } else {
      request = azureTokenRequest(target, authOf(target, 'azure'), values, what);
    }
    const endpoint = target.auth.strategy;
    this.checkEndpoint(target, request.url);
    return requestToken(request, {
      timeoutMs: this.options.timeoutMs,
      fetch: this.options.fetch ?? fetch,
      onResult: (result) => this.options.metrics?.tokenRequests.inc({ endpoint, result }),
    });
  }

  /** Refuses a token endpoint that is neither the cloud's documented one nor allowed by the operator (before anything is sent). */
  private checkEndpoint(target: InjectionTarget, url: string): void {
    const documented = target.auth.strategy === 'gcp' ? isDocumentedGcpTokenUrl(url) : isDocumentedAzureTokenUrl(url);
    if (documented || isAllowedCustomTokenUrl(url, this.options.allowedTokenUrls ?? [])) return;
    throw new PaiError(
      'credential_withheld',
      `${target.kind} ${quoteName(target.name)}: its token endpoint is not one of the cloud's documented endpoints; ` +
        'the credential is sent there only if the injector is started with that URL in PAI_ALLOWED_TOKEN_URLS',
      { details: { provider: target.name, reason: 'untrusted_token_url' } },
    );
  }

  private store(key: string, entry: Entry): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    if (this.cache.size > (this.options.maxEntries ?? 1000)) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  private fingerprint(values: ReadonlyMap<string, Buffer>): string {
    const known = this.fingerprints.get(values);
    if (known !== undefined) return known;
    const mac = createHmac('sha256', this.fingerprintKey);
    for (const name of [...values.keys()].sort()) {
      const value = values.get(name) ?? Buffer.alloc(0);
      mac.update(`${name.length}:${name}:${value.length}:`).update(value);
    }
    const fp = mac.digest('base64url');
    this.fingerprints.set(values, fp);
    return fp;
  }
}
