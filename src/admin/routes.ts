/**
 * Assembles the admin API's routes from the services.
 */
import type { TokenService } from '../auth/tokens.js';
import type { ChangeFeed } from '../changes.js';
import { PaiError } from '../errors.js';
import type { LocalStore } from '../store/local/sqlite-store.js';
import type { SecretStore } from '../store/types.js';
import type { CaAuthority } from '../tls/authority.js';
import type { AuditLog } from './audit.js';
import { caRoutes } from './ca-routes.js';
import { sidecarRoutes } from './sidecar-routes.js';
import { Router, type Route } from './router.js';
import { secretRoutes } from './secrets-routes.js';
import { SecretsService } from './secrets-service.js';
import { envRoute } from './env-render.js';
import { resourceRoutes } from './resource-routes.js';
import { ResourcesService } from './resources-service.js';
import { tokenRoutes } from './token-routes.js';
import { statusRoute } from './status-route.js';
import { UsageService } from './usage-service.js';

export interface AdminDeps {
  readonly store: SecretStore;
  readonly tokens: TokenService;
  readonly audit: AuditLog;
  readonly changes: ChangeFeed;
  /** The pai CA (get, rotate, bundle); absent: those routes are not served. */
  readonly authority?: CaAuthority;
  /** The local store itself, for master-key rotation (absent with Vault). */
  readonly localStore?: LocalStore;
}

function rotateRoute(deps: AdminDeps): Route {
  return {
    method: 'POST',
    path: '/v1/admin/master-key/rotate',
    roles: ['admin'],
    handler: ({ principal }) => {
      const local = deps.localStore;
      if (!local) {
        throw new PaiError(
          'invalid',
          "master-key rotation applies to the local store; with Vault, rotate Vault's own keys (vault operator rotate)",
        );
      }
      const actor = { tokenId: principal.tokenId, role: principal.role };
      try {
        const result = local.rotateMasterKey();
        deps.audit.write({ actor, action: 'masterkey.rotate', outcome: 'ok', detail: result });
        return Promise.resolve({ status: 200, json: result });
      } catch (err) {
        deps.audit.write({
          actor,
          action: 'masterkey.rotate',
          outcome: 'error',
          code: err instanceof PaiError ? err.code : 'internal',
        });
        throw err;
      }
    },
  };
}

/** Builds the router of the admin API. */
export function buildAdminRouter(deps: AdminDeps): Router {
  const resources = new ResourcesService({ store: deps.store, audit: deps.audit, changes: deps.changes });
  const usage = new UsageService({ store: deps.store });
  const secrets = new SecretsService({ store: deps.store, audit: deps.audit, changes: deps.changes, references: resources });
  return new Router().add(
    ...secretRoutes(secrets, { usage }),
    ...resourceRoutes(resources, usage),
    ...statusRoute(resources, usage),
    ...envRoute(deps.store, resources, deps.audit),
    ...tokenRoutes(deps.tokens, deps.audit, deps.changes, usage),
    rotateRoute(deps),
    ...(deps.authority ? caRoutes(deps.authority, deps.store, deps.audit) : []),
    ...sidecarRoutes(deps.store),
  );
}
