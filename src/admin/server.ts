/**
 * The admin HTTP server: authentication, role checks, routing, metrics, request logs (method,
 * route, status, actor; never a body), and the health endpoints.
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { roleAllows } from '../auth/roles.js';
import type { TokenService, Principal } from '../auth/tokens.js';
import type { ListenAddress } from '../config.js';
import { PaiError, toPaiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { claimSocketPath } from '../unix-socket.js';
import type { HostCheck } from './host-check.js';
import { sendError, sendJson, sendText } from './http.js';
import type { RouteResult, Router } from './router.js';
import type { AdminTlsOptions } from './tls.js';

export interface AdminServerDeps {
  readonly router: Router;
  readonly tokens: TokenService;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Resolves when the server can serve (store reachable); throws otherwise. */
  readonly ready: () => Promise<void>;
  /** Serve HTTPS with this material (PAI_ADMIN_TLS_*); plain HTTP when absent. */
  readonly tls?: AdminTlsOptions;
  /** Refuses requests whose Host header does not name this server (DNS rebinding); none on a unix socket. */
  readonly hostCheck?: HostCheck;
}

const ANONYMOUS: Principal = { tokenId: '-', role: 'viewer' };

function bearer(req: IncomingMessage): string {
  const header = req.headers.authorization;
  const m = header ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header) : null;
  if (!m?.[1]) {
    throw new PaiError(
      'unauthenticated',
      header ? 'malformed Authorization header (expected "Bearer <token>")' : 'missing bearer token',
    );
  }
  return m[1];
}

/** A cause's name, code and stack frames, without its message (which may quote input). */
function safeCause(err: PaiError): Record<string, unknown> {
  const cause = err.cause as { name?: unknown; code?: unknown; stack?: unknown } | undefined;
  if (!cause || typeof cause !== 'object') return {};
  const frames = typeof cause.stack === 'string' ? cause.stack.split('\n').slice(1, 8).join('\n') : undefined;
  return { causeName: cause.name, causeCode: cause.code, frames };
}

/**
 * The URL of a request target. An origin-form target is appended to a fixed base rather than
 * resolved against it: resolving would read `//x/v1/secrets` as host `x` and path `/v1/secrets`,
 * and throw on `//%zz`. Throws PaiError `bad_request` for a target that is no URL at all.
 */
function requestUrl(target: string): URL {
  try {
    return target.startsWith('/') ? new URL(`http://admin.invalid${target}`) : new URL(target, 'http://admin.invalid');
  } catch {
    throw new PaiError('bad_request', 'malformed request target');
  }
}

export class AdminServer {
  readonly server: http.Server | https.Server;

  constructor(private readonly deps: AdminServerDeps) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const tls = deps.tls;
    this.server = tls
      ? https.createServer(
          {
            cert: tls.cert,
            key: tls.key,
            minVersion: 'TLSv1.2',
            // With a client CA, a client without a certificate it signed fails the handshake.
            ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        )
      : http.createServer(handler);
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;
  }

  /**
   * Routes one request. `seen` is filled in as soon as the route and the caller are known, so that
   * a request that fails afterwards (403, 404 of a secret, 409, 422) is still counted and logged
   * under its route and actor.
   */
  private async route(req: IncomingMessage, url: URL, seen: { label: string; actor: string }): Promise<RouteResult> {
    const path = url.pathname;
    if (path === '/healthz' && req.method === 'GET') {
      seen.label = path;
      return { status: 200, json: { status: 'ok' } };
    }
    if (path === '/readyz' && req.method === 'GET') {
      seen.label = path;
      try {
        await this.deps.ready();
        return { status: 200, json: { status: 'ready' } };
      } catch (err) {
        throw new PaiError('store_unavailable', 'not ready: the store is unavailable', { cause: err });
      }
    }
    if (path === '/metrics' && req.method === 'GET') {
      seen.label = path;
      const principal = await this.deps.tokens.verify(bearer(req), { surface: 'admin' });
      seen.actor = principal.tokenId;
      if (!roleAllows(['admin', 'viewer'], principal.role)) {
        throw new PaiError('forbidden', `role ${principal.role} may not read /metrics`);
      }
      const registry = this.deps.metrics.registry;
      if (registry === undefined) throw new PaiError('not_found', 'this process serves no /metrics');
      const text = await registry.metrics();
      return { status: 200, text, contentType: registry.contentType };
    }
    const { route, params } = this.deps.router.match(req.method ?? 'GET', path);
    seen.label = route.path;
    let principal = ANONYMOUS;
    if (route.roles.length > 0) {
      principal = await this.deps.tokens.verify(bearer(req), { surface: 'admin' });
      seen.actor = principal.tokenId;
      if (!roleAllows(route.roles, principal.role)) {
        throw new PaiError('forbidden', `role ${principal.role} may not ${route.method} ${route.path}`);
      }
    }
    return route.handler({ req, params, query: url.searchParams, principal });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const seen = { label: 'unmatched', actor: '-' };
    let status = 500;
    try {
      this.deps.hostCheck?.(req.headers.host);
      const url = requestUrl(req.url ?? '/');
      const result = await this.route(req, url, seen);
      status = result.status;
      if ('json' in result) sendJson(res, status, result.json);
      else sendText(res, status, result.contentType, result.text);
    } catch (err) {
      const e = toPaiError(err);
      status = e.status;
      if (e.code === 'internal') {
        this.deps.logger.error({ code: e.code, route: seen.label, ...safeCause(e) }, 'admin request failed');
      }
      if (!req.complete) res.setHeader('connection', 'close');
      sendError(res, e);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const method = (req.method ?? 'GET').slice(0, 10);
      this.deps.metrics.adminRequests.inc({ method, route: seen.label, status: String(status) });
      this.deps.metrics.adminDuration.observe({ route: seen.label }, seconds);
      this.deps.logger.debug(
        { method, route: seen.label, status, actor: seen.actor, ms: Math.round(seconds * 1000) },
        'admin request',
      );
    }
  }

  /**
   * Listens on a TCP address or a unix socket (mode 0600); resolves with the bound address text.
   * A unix path must be free or a stale socket (claimSocketPath): throws ConfigError otherwise.
   */
  async listen(addr: ListenAddress): Promise<string> {
    if (addr.kind === 'unix') await claimSocketPath(addr.path, 'PAI_ADMIN_LISTEN');
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const done = (): void => {
        this.server.off('error', reject);
        if (addr.kind === 'unix') {
          fs.chmodSync(addr.path, 0o600);
          resolve(`unix:${addr.path}`);
        } else {
          const a = this.server.address() as AddressInfo;
          resolve(`${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
        }
      };
      if (addr.kind === 'unix') this.server.listen(addr.path, done);
      else this.server.listen(addr.port, addr.host, done);
    });
  }

  /** Stops accepting connections and closes idle ones. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}
