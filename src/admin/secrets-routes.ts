/**
 * /v1/secrets routes (DESIGN §4). Responses carry key names, sizes, times and versions; never a
 * value.
 */
import { PaiError } from '../errors.js';
import type { SecretMeta } from '../store/types.js';
import type { SecretReference } from '../resources/types.js';
import { readJson } from './http.js';
import { UsageService } from './usage-service.js';
import { namespaced, namespaceOf } from './namespaces.js';
import type { Route } from './router.js';
import { parseSecretBody } from './secret-body.js';
import { describeReference, type SecretsService } from './secrets-service.js';

/** The list form of a secret's metadata. */
export function secretJson(m: SecretMeta): Record<string, unknown> {
  return {
    name: m.name,
    keys: m.keys.map((k) => k.name),
    createdAt: m.createdAt.toISOString(),
    updatedAt: m.updatedAt.toISOString(),
    version: m.version,
  };
}

function param(params: Readonly<Record<string, string>>, name: string): string {
  const v = params[name];
  if (v === undefined) throw new PaiError('internal', `route parameter ${name} missing`);
  return v;
}

function flag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === 'false' || v === '0') return false;
  if (v === '' || v === 'true' || v === '1') return true;
  throw new PaiError('invalid', `query parameter ${name} must be true or false`);
}

/** The last use of a secret: the latest use of the Providers and ModelProviders that read it. */
async function secretLastUsed(
  usage: UsageService | undefined,
  ns: string,
  referencedBy: readonly SecretReference[],
): Promise<string | undefined> {
  if (usage === undefined) return undefined;
  const summary = await usage.summary(ns).catch(() => undefined);
  if (summary === undefined) return undefined;
  let latest: string | undefined;
  for (const ref of referencedBy) {
    if (ref.kind === 'Agent') continue;
    const used = UsageService.lastUsed(summary, ref.kind, ref.name);
    if (used !== undefined && (latest === undefined || used > latest)) latest = used;
  }
  return latest;
}

/** The routes of the secrets API, bound to a service (and the usage counts, for a secret's last use). */
export function secretRoutes(service: SecretsService, extra: { usage?: UsageService } = {}): Route[] {
  return namespaced([
    {
      method: 'GET',
      path: '/v1/secrets',
      roles: ['admin', 'viewer'],
      handler: async (ctx) => ({ status: 200, json: { items: (await service.list(namespaceOf(ctx))).map(secretJson) } }),
    },
    {
      method: 'POST',
      path: '/v1/secrets',
      roles: ['admin'],
      handler: async (ctx) => {
        const ns = namespaceOf(ctx);
        const body = parseSecretBody(await readJson(ctx.req), ['name', 'data', 'binaryData']);
        if (body.name === undefined) throw new PaiError('invalid', 'name is required', { details: { field: 'name' } });
        return { status: 201, json: secretJson(await service.create(ctx.principal, ns, body.name, body.data)) };
      },
    },
    {
      method: 'GET',
      path: '/v1/secrets/:name',
      roles: ['admin', 'viewer'],
      handler: async (ctx) => {
        const ns = namespaceOf(ctx);
        const { meta, referencedBy } = await service.describe(ns, param(ctx.params, 'name'));
        const lastUsedAt = await secretLastUsed(extra.usage, ns, referencedBy);
        return {
          status: 200,
          json: {
            ...secretJson(meta),
            keySizes: Object.fromEntries(meta.keys.map((k) => [k.name, k.size])),
            referencedBy: referencedBy.map(describeReference),
            ...(lastUsedAt === undefined ? {} : { lastUsedAt }),
          },
        };
      },
    },
    {
      method: 'PUT',
      path: '/v1/secrets/:name',
      roles: ['admin'],
      handler: async (ctx) => {
        const ns = namespaceOf(ctx);
        const name = param(ctx.params, 'name');
        const body = parseSecretBody(await readJson(ctx.req), ['name', 'data', 'binaryData']);
        if (body.name !== undefined && body.name !== name) {
          throw new PaiError('invalid', 'name in the body does not match the path', { details: { field: 'name' } });
        }
        return { status: 200, json: secretJson(await service.replace(ctx.principal, ns, name, body.data)) };
      },
    },
    {
      method: 'PATCH',
      path: '/v1/secrets/:name',
      roles: ['admin'],
      handler: async (ctx) => {
        const ns = namespaceOf(ctx);
        const body = parseSecretBody(await readJson(ctx.req), ['data', 'binaryData', 'remove']);
        if (body.data.size === 0 && body.remove.length === 0) {
          throw new PaiError('invalid', 'a patch must set or remove at least one key', { details: { field: 'data' } });
        }
        const meta = await service.patch(ctx.principal, ns, param(ctx.params, 'name'), body.data, body.remove);
        return { status: 200, json: secretJson(meta) };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/secrets/:name',
      roles: ['admin'],
      handler: async (ctx) => {
        const name = param(ctx.params, 'name');
        const broken = await service.delete(ctx.principal, namespaceOf(ctx), name, flag(ctx.query, 'force'));
        return { status: 200, json: { deleted: name, broken: broken.map(describeReference) } };
      },
    },
  ]);
}
