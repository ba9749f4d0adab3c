/**
 * The admin HTTP server: authentication, role checks, routing, metrics, request logs (method,
 * route, status, actor; never a body), and the health endpoints.
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenService, Principal } from '../auth/tokens.js';
import type { ListenAddress } from '../config.js';
import { PaiError, toPaiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { sendError, sendJson, sendText } from './http.js';
import type { RouteResult, Router } from './router.js';

export interface AdminServerDeps {
  readonly router: Router;
  readonly tokens: TokenService;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Resolves when the server can serve (store reachable); throws otherwise. */
  readonly ready: () => Promise<void>;
}

const ANONYMOUS: Principal = { tokenId: '-', role: 'viewer' };

function bearer(req: IncomingMessage): string {
  const header = req.headers.authorization;
  const m = header ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header) : null;
  if (!m?.[1]) {
    throw new PaiError('unauthenticated', header ? 'malformed Authorization header (expected "Bearer <token>")' : 'missing bearer token');
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

export class AdminServer {
  readonly server: http.Server;

  constructor(private readonly deps: AdminServerDeps) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;
  }

  private async route(req: IncomingMessage, url: URL): Promise<{ result: RouteResult; label: string; actor: string }> {
    const path = url.pathname;
    if (path === '/healthz' && req.method === 'GET') return { result: { status: 200, json: { status: 'ok' } }, label: path, actor: '-' };
    if (path === '/readyz' && req.method === 'GET') {
      try {
        await this.deps.ready();
        return { result: { status: 200, json: { status: 'ready' } }, label: path, actor: '-' };
      } catch (err) {
        throw new PaiError('store_unavailable', 'not ready: the store is unavailable', { cause: err });
      }
    }
    if (path === '/metrics' && req.method === 'GET') {
      const principal = await this.deps.tokens.verify(bearer(req));
      const text = await this.deps.metrics.registry.metrics();
      return {
        result: { status: 200, text, contentType: this.deps.metrics.registry.contentType },
        label: path,
        actor: principal.tokenId,
      };
    }
    const { route, params } = this.deps.router.match(req.method ?? 'GET', path);
    let principal = ANONYMOUS;
    if (route.roles.length > 0) {
      principal = await this.deps.tokens.verify(bearer(req));
      if (!route.roles.includes(principal.role)) {
        throw new PaiError('forbidden', `role ${principal.role} may not ${route.method} ${route.path}`);
      }
    }
    const result = await route.handler({ req, params, query: url.searchParams, principal });
    return { result, label: route.path, actor: principal.tokenId };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let label = 'unmatched';
    let actor = '-';
    let status = 500;
    try {
      const url = new URL(req.url ?? '/', 'http://admin.invalid');
      const out = await this.route(req, url);
      label = out.label;
      actor = out.actor;
      status = out.result.status;
      if ('json' in out.result) sendJson(res, status, out.result.json);
      else sendText(res, status, out.result.contentType, out.result.text);
    } catch (err) {
      const e = toPaiError(err);
      status = e.status;
      if (e.code === 'internal') this.deps.logger.error({ code: e.code, route: label, ...safeCause(e) }, 'admin request failed');
      if (!req.complete) res.setHeader('connection', 'close');
      sendError(res, e);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const method = (req.method ?? 'GET').slice(0, 10);
      this.deps.metrics.adminRequests.inc({ method, route: label, status: String(status) });
      this.deps.metrics.adminDuration.observe({ route: label }, seconds);
      this.deps.logger.debug({ method, route: label, status, actor, ms: Math.round(seconds * 1000) }, 'admin request');
    }
  }

  /** Listens on a TCP address or a unix socket (mode 0600); resolves with the bound address text. */
  listen(addr: ListenAddress): Promise<string> {
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
      if (addr.kind === 'unix') {
        if (fs.existsSync(addr.path)) fs.rmSync(addr.path);
        this.server.listen(addr.path, done);
      } else this.server.listen(addr.port, addr.host, done);
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
