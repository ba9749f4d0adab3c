/**
 * The Vault token of this process: obtained (VAULT_TOKEN as given, or a kubernetes / approle
 * login), renewed before it expires (renew-self at two thirds of its TTL, checked before every
 * call and by an unref'd timer while idle), and recovered once when Vault answers 403: a login
 * method logs in again and the call is retried once; a given VAULT_TOKEN is looked up to tell an
 * expired token from a policy that does not allow the call. Either way the failure that reaches
 * the caller says which it was.
 */
import fs from 'node:fs/promises';
import { ConfigError, type VaultConfig } from '../../config.js';
import { PaiError } from '../../errors.js';
import { VaultCallError, type VaultHttp, type VaultRequest } from './http.js';

const AUTH_MOUNT = /^[a-zA-Z0-9][a-zA-Z0-9_-]*(\/[a-zA-Z0-9][a-zA-Z0-9_-]*)*$/;
/** Renew when this fraction of the TTL has passed. */
const RENEW_AT = 2 / 3;
/** A renewal that returns less than this fraction of the first TTL means the max TTL is near: log in again. */
const RELOGIN_BELOW = 0.1;

interface TokenState {
  readonly token: string;
  /** Clock time (ms) at which Vault forgets the token; undefined when it never expires. */
  readonly expiresAt: number | undefined;
  readonly renewAt: number | undefined;
  readonly renewable: boolean;
  /** TTL granted at login, in ms (to notice a max TTL approaching). */
  readonly firstTtlMs: number;
}

export interface SessionOptions {
  /** Clock for token lifetimes (ms since epoch); tests pass a fake one. */
  readonly now?: () => number;
}

function record(body: unknown, field: string): Record<string, unknown> | undefined {
  const v = (body as Record<string, unknown> | null | undefined)?.[field];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function isForbidden(err: unknown): err is VaultCallError {
  return err instanceof VaultCallError && err.status === 403;
}

export class VaultSession {
  private state: TokenState | undefined;
  private pending: Promise<TokenState> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly http: VaultHttp,
    private readonly cfg: VaultConfig,
    private readonly budgetMs: number,
    options: SessionOptions = {},
  ) {
    for (const [variable, mount] of [
      ['PAI_VAULT_K8S_MOUNT', cfg.kubernetesAuthMount],
      ['PAI_VAULT_APPROLE_MOUNT', cfg.approleAuthMount],
    ] as const) {
      if (!AUTH_MOUNT.test(mount)) throw new ConfigError(variable, `not a valid auth mount path: "${mount}"`);
    }
    this.now = options.now ?? Date.now;
  }

  /**
   * Obtains the first token. Throws ConfigError when Vault rejects the credentials; an unreachable
   * Vault is not an error here (the first call retries), so a process can start before Vault.
   */
  async start(): Promise<void> {
    try {
      await this.current(performance.now() + this.budgetMs);
    } catch (err) {
      const variable = err instanceof PaiError ? err.details?.['variable'] : undefined;
      if (typeof variable === 'string') throw new ConfigError(variable, err instanceof Error ? err.message : 'rejected');
    }
  }

  /** Performs `req` with a fresh token; on 403, recovers once (see file header). Throws VaultCallError or PaiError. */
  async call(req: VaultRequest, deadline: number): Promise<unknown> {
    const state = await this.current(deadline);
    try {
      return await this.http.call({ ...req, token: state.token }, deadline);
    } catch (err) {
      if (!isForbidden(err)) throw err;
      if (this.cfg.auth === 'token')
        throw err.withHint((await this.tokenValid(state.token, deadline)) ? 'policy' : 'token_invalid');
      const fresh = await this.relogin(state, deadline);
      try {
        return await this.http.call({ ...req, token: fresh.token }, deadline);
      } catch (again) {
        throw isForbidden(again) ? again.withHint('policy') : again;
      }
    }
  }

  /** Stops the renewal timer. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async current(deadline: number): Promise<TokenState> {
    const state = this.state ?? (await this.single(() => this.acquire(deadline)));
    if (state.renewAt === undefined || this.now() < state.renewAt) return state;
    return this.single(() => this.refresh(state, deadline));
  }

  /** Runs one token operation at a time; concurrent callers share its result. */
  private single(fn: () => Promise<TokenState>): Promise<TokenState> {
    this.pending ??= fn()
      .then((state) => this.adopt(state))
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private adopt(state: TokenState): TokenState {
    this.state = state;
    clearTimeout(this.timer);
    if (!this.closed && state.renewAt !== undefined) {
      const delay = Math.max(0, Math.min(state.renewAt - this.now(), 2 ** 31 - 1));
      this.timer = setTimeout(() => {
        this.current(performance.now() + this.budgetMs).catch(() => undefined);
      }, delay);
      this.timer.unref();
    }
    return state;
  }

  private stateFrom(token: string, ttlSeconds: number, renewable: boolean, firstTtlMs?: number): TokenState {
    const now = this.now();
    const ttlMs = Math.max(0, ttlSeconds) * 1000;
    return {
      token,
      expiresAt: ttlMs > 0 ? now + ttlMs : undefined,
      renewAt: ttlMs > 0 ? now + ttlMs * RENEW_AT : undefined,
      renewable,
      firstTtlMs: firstTtlMs ?? ttlMs,
    };
  }

  private async acquire(deadline: number): Promise<TokenState> {
    if (this.cfg.auth !== 'token') return this.login(deadline);
    const token = this.cfg.token ?? '';
    let body: unknown;
    try {
      body = await this.http.call({ method: 'GET', path: 'auth/token/lookup-self', token }, deadline);
    } catch (err) {
      if (!isForbidden(err)) throw err;
      throw this.rejected(
        'VAULT_TOKEN',
        'Vault rejected VAULT_TOKEN (permission denied): it is invalid, expired or revoked',
        err,
      );
    }
    const data = record(body, 'data');
    const ttl = typeof data?.['ttl'] === 'number' ? data['ttl'] : 0;
    return this.stateFrom(token, ttl, data?.['renewable'] === true);
  }

  private async login(deadline: number): Promise<TokenState> {
    const k8s = this.cfg.auth === 'kubernetes';
    const mount = k8s ? this.cfg.kubernetesAuthMount : this.cfg.approleAuthMount;
    const body = k8s
      ? { role: this.cfg.role ?? '', jwt: await this.readCredential('PAI_VAULT_K8S_TOKEN_PATH', this.cfg.kubernetesJwtPath) }
      : {
          role_id: this.cfg.approleRoleId ?? '',
          secret_id: await this.readCredential('PAI_VAULT_SECRET_ID_FILE', this.cfg.approleSecretIdFile ?? ''),
        };
    let res: unknown;
    try {
      res = await this.http.call({ method: 'POST', path: `auth/${mount}/login`, body }, deadline);
    } catch (err) {
      if (err instanceof VaultCallError && (err.status === 400 || err.status === 403)) {
        const what = k8s
          ? `the kubernetes login for role "${this.cfg.role ?? ''}" (check PAI_VAULT_ROLE and the service account token)`
          : 'the approle login (check PAI_VAULT_ROLE_ID and PAI_VAULT_SECRET_ID_FILE)';
        throw this.rejected(k8s ? 'PAI_VAULT_ROLE' : 'PAI_VAULT_ROLE_ID', `Vault rejected ${what}: status ${err.status}`, err);
      }
      throw err;
    }
    const auth = record(res, 'auth');
    const token = auth?.['client_token'];
    if (typeof token !== 'string' || token === '') {
      throw new PaiError('store_unavailable', `Vault answered the ${k8s ? 'kubernetes' : 'approle'} login without a token`);
    }
    const ttl = typeof auth?.['lease_duration'] === 'number' ? auth['lease_duration'] : 0;
    return this.stateFrom(token, ttl, auth?.['renewable'] === true);
  }

  private async readCredential(variable: string, file: string): Promise<string> {
    try {
      return (await fs.readFile(file, 'utf8')).trim();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw this.rejected(
        variable,
        `cannot read ${variable} file ${file} (${typeof code === 'string' ? code : 'error'})`,
        undefined,
      );
    }
  }

  /** A credential Vault (or the file system) refused: not retried, and fatal at start. */
  private rejected(variable: string, message: string, cause: unknown): PaiError {
    return new PaiError('store_unavailable', message, { cause, details: { variable } });
  }

  /** Renews (or, for a login method whose token cannot be renewed further, logs in again). */
  private async refresh(state: TokenState, deadline: number): Promise<TokenState> {
    if (this.state !== state) return this.state ?? state;
    const expired = state.expiresAt !== undefined && this.now() >= state.expiresAt;
    try {
      if (state.renewable && !expired) {
        const res = await this.http.call(
          { method: 'POST', path: 'auth/token/renew-self', body: {}, token: state.token },
          deadline,
        );
        const auth = record(res, 'auth');
        const ttl = typeof auth?.['lease_duration'] === 'number' ? auth['lease_duration'] : 0;
        const renewed = this.stateFrom(state.token, ttl, auth?.['renewable'] === true, state.firstTtlMs);
        if (this.cfg.auth === 'token' || ttl * 1000 >= state.firstTtlMs * RELOGIN_BELOW) return renewed;
      }
      if (this.cfg.auth === 'token') return { ...state, renewAt: undefined };
      return await this.login(deadline);
    } catch (err) {
      if (expired || state.expiresAt === undefined) throw err;
      // Keep a token that still works and try again after a quarter of its remaining life
      // (not on every call); a 403 in between recovers or reports.
      const now = this.now();
      return { ...state, renewAt: now + Math.max(1000, (state.expiresAt - now) / 4) };
    }
  }

  /** Logs in again unless another caller already replaced the token that got the 403. */
  private async relogin(stale: TokenState, deadline: number): Promise<TokenState> {
    if (this.pending) await this.pending.catch(() => undefined);
    if (this.state !== undefined && this.state.token !== stale.token) return this.state;
    return this.single(() => this.login(deadline));
  }

  private async tokenValid(token: string, deadline: number): Promise<boolean> {
    try {
      await this.http.call({ method: 'GET', path: 'auth/token/lookup-self', token }, deadline);
      return true;
    } catch (err) {
      if (isForbidden(err)) return false;
      throw err;
    }
  }
}
