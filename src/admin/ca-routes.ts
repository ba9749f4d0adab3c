/**
 * The pai CA and what an agent container needs to trust it (issue 14): `GET /v1/ca` (public
 * certificates and dates), `POST /v1/ca/rotate` (admin, audited), `GET /v1/ca-bundle` (system roots
 * plus the trusted pai CAs, PEM) and `GET /v1/agents/:name/hosts` (an /etc/hosts fragment). None of
 * these carries a secret value or a key (CaAuthority.describe/bundle never return one), so
 * viewers may read them; renderers too, since a launcher mounts the bundle next to the env.
 */
import tls from 'node:tls';
import type { Principal } from '../auth/tokens.js';
import { parseDuration } from '../config.js';
import { PaiError, toPaiError } from '../errors.js';
import { loadAgentView } from '../injector/agents.js';
import { hostsOfTargets } from '../injector/leaf-hosts.js';
import { quoteName } from '../resources/names.js';
import type { SecretStore } from '../store/types.js';
import type { CaAuthority } from '../tls/authority.js';
import type { AuditLog } from './audit.js';
import { readJson } from './http.js';
import { namespaced, namespaceOf } from './namespaces.js';
import type { Route } from './router.js';

const actorOf = (p: Principal): { tokenId: string; role: string } => ({ tokenId: p.tokenId, role: p.role });

/** The /etc/hosts lines for `hosts`: exact names → 127.0.0.1; wildcards cannot be listed there, so they are named in a comment. */
export function hostsFile(agent: string, hosts: readonly string[]): string {
  const exact = hosts.filter((h) => !h.startsWith('*.'));
  const wild = hosts.filter((h) => h.startsWith('*.'));
  const lines = [`# pai: the hosts of agent ${agent}, served by its sidecar (agent container only)`];
  if (wild.length > 0) lines.push(`# wildcards, not expressible here (use a DNS override): ${wild.join(' ')}`);
  for (const host of exact) lines.push(`127.0.0.1 ${host}`);
  return `${lines.join('\n')}\n`;
}

/** The overlap of a rotation from the request body (`{"overlap": "7d"}`), or undefined for the default. */
function overlapOf(body: Record<string, unknown>): number | undefined {
  const raw = body['overlap'];
  if (raw === undefined) return undefined;
  const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
  if (ms === undefined)
    throw new PaiError('invalid', 'overlap must be a duration such as "7d", "12h" or "0s"', { details: { field: 'overlap' } });
  return ms;
}

/** The CA, bundle and hosts routes. `systemRoots` defaults to Node's copy of the system roots. */
export function caRoutes(
  authority: CaAuthority,
  store: SecretStore,
  audit: AuditLog,
  systemRoots: readonly string[] = tls.rootCertificates,
): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/ca',
      roles: ['admin', 'viewer', 'renderer'],
      handler: async () => ({ status: 200, json: { items: await authority.describe() } }),
    },
    {
      method: 'GET',
      path: '/v1/ca-bundle',
      roles: ['admin', 'viewer', 'renderer'],
      handler: async () => ({ status: 200, text: await authority.bundle(systemRoots), contentType: 'application/x-pem-file' }),
    },
    {
      method: 'POST',
      path: '/v1/ca/rotate',
      roles: ['admin'],
      handler: async ({ req, principal }) => {
        const base = { actor: actorOf(principal), action: 'ca.rotate' as const, kind: 'CA' };
        try {
          const overlapMs = overlapOf(await readJson(req));
          const result = await authority.rotate(overlapMs);
          audit.write({ ...base, outcome: 'ok', detail: { ...result, ...(overlapMs === undefined ? {} : { overlapMs }) } });
          return { status: 200, json: result };
        } catch (err) {
          audit.write({ ...base, outcome: 'error', code: toPaiError(err).code });
          throw err;
        }
      },
    },
    ...namespaced([
      {
        method: 'GET',
        path: '/v1/agents/:name/hosts',
        roles: ['admin', 'viewer', 'renderer'],
        handler: async (ctx) => {
          const ns = namespaceOf(ctx);
          const name = ctx.params['name'] ?? '';
          const view = await loadAgentView(store, { namespace: ns, name }).catch((err: unknown) => {
            throw toPaiError(err).code === 'not_found' ? new PaiError('not_found', `agent ${quoteName(name)} not found`) : err;
          });
          return { status: 200, text: hostsFile(name, hostsOfTargets(view.agent.targets)), contentType: 'text/plain' };
        },
      },
    ]),
  ];
}
