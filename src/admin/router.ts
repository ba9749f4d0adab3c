/**
 * A small router: routes are (method, path pattern, roles, handler). Path parameters are matched
 * per segment; a path that matches with another method answers 405 with Allow.
 */
import type { IncomingMessage } from 'node:http';
import type { Principal, Role } from '../auth/tokens.js';
import { PaiError } from '../errors.js';

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly principal: Principal;
}

/** What a handler returns: a JSON body, or a raw text body with its content type. */
export type RouteResult =
  | { readonly status: number; readonly json: unknown }
  | { readonly status: number; readonly text: string | Buffer; readonly contentType: string };

export interface Route {
  readonly method: string;
  /** e.g. `/v1/secrets/:name`; the route label in metrics. */
  readonly path: string;
  /** Roles allowed; empty means no authentication (healthz, readyz). */
  readonly roles: readonly Role[];
  readonly handler: (ctx: RouteContext) => Promise<RouteResult>;
}

export interface RouteMatch {
  readonly route: Route;
  readonly params: Record<string, string>;
}

function matchPath(pattern: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] ?? '';
    const s = segments[i] ?? '';
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p !== s) return undefined;
  }
  return params;
}

export class Router {
  private readonly routes: { route: Route; pattern: string[] }[] = [];

  add(...routes: Route[]): this {
    for (const route of routes) this.routes.push({ route, pattern: route.path.split('/').filter(Boolean) });
    return this;
  }

  /**
   * Finds the route for a request. Throws `not_found` for an unknown path, `method_not_allowed`
   * (with the allowed methods) for a known path with another method, `bad_request` for a path
   * segment that is not valid percent-encoding.
   */
  match(method: string, pathname: string): RouteMatch {
    let segments: string[];
    try {
      segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new PaiError('bad_request', 'malformed percent-encoding in the request path');
    }
    const allowed: string[] = [];
    for (const { route, pattern } of this.routes) {
      const params = matchPath(pattern, segments);
      if (!params) continue;
      if (route.method === method) return { route, params };
      allowed.push(route.method);
    }
    if (allowed.length > 0) {
      throw new PaiError('method_not_allowed', `method ${method} is not allowed here (allowed: ${allowed.join(', ')})`, {
        details: { allow: allowed.join(', ') },
      });
    }
    throw new PaiError('not_found', 'no such API path');
  }
}
