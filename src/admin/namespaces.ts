/**
 * Namespaced routes (Kubernetes' shape): every secret and resource route answers under
 * `/v1/namespaces/{namespace}/…`, and under its plain `/v1/…` path for the `default` namespace, so
 * clients written before namespaces keep working.
 */
import { assertUserNamespace } from '../resources/names.js';
import { DEFAULT_NAMESPACE } from '../resources/types.js';
import type { Route, RouteContext } from './router.js';

const PREFIX = '/v1/namespaces/:namespace';

/** The namespace a request addresses (validated, never pai's reserved one): the path's, else `default`. Throws PaiError `invalid`. */
export function namespaceOf(ctx: Pick<RouteContext, 'params'>): string {
  const ns = ctx.params['namespace'] ?? DEFAULT_NAMESPACE;
  assertUserNamespace(ns);
  return ns;
}

/** Each `/v1/…` route, plus the same under `/v1/namespaces/:namespace/…`. */
export function namespaced(routes: readonly Route[]): Route[] {
  return routes.flatMap((route) => [route, { ...route, path: `${PREFIX}${route.path.slice('/v1'.length)}` }]);
}
