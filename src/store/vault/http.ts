/**
 * The transport to Vault: node-vault's `client.request` (its axios transport and its response
 * handling), with what node-vault leaves to the caller: a timeout on every attempt, a deadline for
 * the whole call, and retries of 429, 5xx, time-outs and connection failures with full-jitter
 * exponential backoff inside that deadline. Any other 4xx is final. Failures become a
 * VaultCallError that carries the status and a classified hint, never Vault's body.
 *
 * Why `client.request` and not node-vault's generated commands: the commands build URLs with
 * Mustache and send `client.token` implicitly; one generic request keeps every URL built in
 * kv.ts/auth.ts from validated parts and every header explicit. Options used: `timeout` (axios's,
 * per attempt), `httpAgent`/`httpsAgent` (ours: keep-alive, and the CA of VAULT_CACERT), `json`,
 * `headers`. node-vault reads VAULT_TOKEN, VAULT_NAMESPACE and VAULT_PREFIX from the environment
 * for anything left unset, and logs request bodies through `debug` (DEBUG=node-vault would print
 * secret values): both are pinned off here, so config.ts stays the only reader of the environment.
 * Every write carries `cas`, so no retry can write twice; still, a data write whose fate is unknown
 * (time-out, reset after sending) is not repeated, so that its caller hears "outcome unknown"
 * rather than a false conflict.
 */
import http from 'node:http';
import https from 'node:https';
import nodeVault from 'node-vault';

export type VaultMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface VaultRequest {
  readonly method: VaultMethod;
  /** Path below /v1/, built from validated parts only (no leading slash). */
  readonly path: string;
  readonly body?: Readonly<Record<string, unknown>>;
  /** Sends the body as application/merge-patch+json (KV v2 PATCH). */
  readonly mergePatch?: boolean;
  readonly token?: string;
  /**
   * A write that may not be sent again once its fate is unknown (a time-out or a reset after it
   * was sent): cas would turn the repeat into a false conflict. Answers from Vault (429, 5xx) and
   * refused connections are still retried: those writes did not happen.
   */
  readonly once?: boolean;
}

/** What went wrong, beyond the status: read from Vault's errors, which are then dropped. */
export type FailureHint = 'cas_mismatch' | 'cas_required' | 'sealed' | 'token_invalid' | 'policy' | 'outcome_unknown';

export type FailureKind = 'status' | 'timeout' | 'network' | 'tls' | 'client';

/** A failed Vault call. Its message is value-free; Vault's body is not kept. */
export class VaultCallError extends Error {
  override readonly name = 'VaultCallError';
  constructor(
    readonly kind: FailureKind,
    readonly status: number | undefined,
    readonly hint: FailureHint | undefined,
    readonly code: string | undefined,
  ) {
    super(
      `vault call failed: ${kind}${status === undefined ? '' : ` ${status}`}${code ? ` ${code}` : ''}${hint ? ` (${hint})` : ''}`,
    );
  }

  /** The same failure with a different hint (the caller knows more than the transport). */
  withHint(hint: FailureHint): VaultCallError {
    return new VaultCallError(this.kind, this.status, hint, this.code);
  }
}

export interface VaultHttpOptions {
  readonly addr: string;
  readonly namespace: string | undefined;
  /** PEM text of the CA bundle (VAULT_CACERT), if any. */
  readonly ca: string | undefined;
  readonly requestTimeoutMs: number;
}

interface ResponseError {
  response: { statusCode: number; body: unknown };
}

function isResponseError(err: unknown): err is ResponseError {
  const r = (err as { response?: { statusCode?: unknown } } | null)?.response;
  return typeof r?.statusCode === 'number';
}

function vaultErrors(body: unknown): string[] {
  const errors = (body as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string') : [];
}

function hintOf(status: number, errors: readonly string[]): FailureHint | undefined {
  const text = errors.join('\n');
  if (status === 400 && text.includes('check-and-set parameter did not match')) return 'cas_mismatch';
  if (status === 400 && text.includes('check-and-set parameter required')) return 'cas_required';
  if (status === 503 && text.includes('Vault is sealed')) return 'sealed';
  return undefined;
}

const TLS_CODE = /CERT|SIGNATURE|TLS|SSL|ALTNAME|ISSUER/;
/** Connection failures worth another attempt; of those, the ones where nothing was sent. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Turns whatever node-vault/axios threw into a VaultCallError. */
export function classify(err: unknown): VaultCallError {
  if (err instanceof VaultCallError) return err;
  if (isResponseError(err)) {
    const { statusCode, body } = err.response;
    return new VaultCallError('status', statusCode, hintOf(statusCode, vaultErrors(body)), undefined);
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') return new VaultCallError('timeout', undefined, undefined, code);
    if (TLS_CODE.test(code)) return new VaultCallError('tls', undefined, undefined, code);
    if (NETWORK_CODES.has(code)) return new VaultCallError('network', undefined, undefined, code);
  }
  return new VaultCallError('client', undefined, undefined, undefined);
}

/** True when the request may have reached Vault and been applied although no answer came. */
export function isAmbiguous(err: VaultCallError): boolean {
  return err.kind === 'timeout' || (err.kind === 'network' && !NOT_SENT.has(err.code ?? ''));
}

/** True when another attempt may succeed: 429, 5xx, a time-out or a failed connection. */
export function isRetryable(err: VaultCallError): boolean {
  if (err.kind === 'timeout' || err.kind === 'network') return true;
  return err.kind === 'status' && err.status !== undefined && (err.status === 429 || err.status >= 500);
}

const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 1000;

/** Full jitter: a uniform delay in [0, min(cap, base·2^attempt)). */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class VaultHttp {
  private readonly client: nodeVault.client;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly timeoutMs: number;

  constructor(options: VaultHttpOptions) {
    this.client = nodeVault({ endpoint: options.addr, apiVersion: 'v1', noCustomHTTPVerbs: true, debug: () => undefined });
    Object.assign(this.client, { token: '', namespace: options.namespace ?? '', pathPrefix: '' });
    this.httpAgent = new http.Agent({ keepAlive: true });
    this.httpsAgent = new https.Agent({ keepAlive: true, ...(options.ca === undefined ? {} : { ca: options.ca }) });
    this.timeoutMs = options.requestTimeoutMs;
  }

  /**
   * Performs one logical call, retrying what may succeed later until `deadline` (performance.now()
   * time). Resolves with the parsed body ('' for 204); throws VaultCallError.
   */
  async call(req: VaultRequest, deadline: number): Promise<unknown> {
    let last: VaultCallError | undefined;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw last ?? new VaultCallError('timeout', undefined, undefined, 'EBUDGET');
      try {
        return await this.attempt(req, Math.max(1, Math.min(this.timeoutMs, remaining)));
      } catch (err) {
        const failure = classify(err);
        if (!isRetryable(failure)) throw failure;
        if (req.once && isAmbiguous(failure)) throw failure.withHint('outcome_unknown');
        // Report what Vault said (sealed, 5xx) over a later time-out: it tells more.
        if (failure.kind === 'status' || last?.kind !== 'status') last = failure;
        const delay = backoffDelay(attempt);
        if (performance.now() + delay >= deadline) throw last;
        await sleep(delay);
      }
    }
  }

  private async attempt(req: VaultRequest, timeoutMs: number): Promise<unknown> {
    const headers: Record<string, string> = { 'X-Vault-Request': 'true' };
    if (req.token !== undefined) headers['X-Vault-Token'] = req.token;
    if (req.body !== undefined) headers['Content-Type'] = req.mergePatch ? 'application/merge-patch+json' : 'application/json';
    const pending: Promise<unknown> = this.client.request({
      path: `/${req.path}`,
      method: req.method,
      headers,
      timeout: timeoutMs,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      // Serialized here: axios deep-merges a plain-object body into its config, and its merge drops
      // keys named "__proto__" and "constructor", which are valid secret keys. A Buffer is sent as is.
      ...(req.body === undefined ? {} : { json: Buffer.from(JSON.stringify(req.body), 'utf8') }),
    });
    // axios's timeout is a socket-idle timer; this guard also bounds a peer that trickles bytes.
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new VaultCallError('timeout', undefined, undefined, 'ETIMEDOUT')), timeoutMs + 25);
    });
    try {
      return await Promise.race([pending, guard]);
    } finally {
      clearTimeout(timer);
      pending.catch(() => undefined);
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
