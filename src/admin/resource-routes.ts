/**
 * /v1/{agents,providers,modelproviders}[/{name}]: apply (PUT, `?dryRun=true` validates only), get,
 * list and delete. Responses wrap the resource as stored (round-trippable through apply) with its
 * times and version beside it.
 */
import { PaiError } from '../errors.js';
import { quoteName } from '../resources/names.js';
import { KIND_PLURAL, type ResourcePlural } from '../resources/types.js';
import { parseResource } from '../resources/validate.js';
import { resourceDocument } from '../resources/document.js';
import { readJson } from './http.js';
import { UsageService } from './usage-service.js';
import { namespaced, namespaceOf } from './namespaces.js';
import { PLURAL_KIND, type ResourcesService, type StoredResource } from './resources-service.js';
import type { Route, RouteContext } from './router.js';

const PLURALS: readonly ResourcePlural[] = ['agents', 'providers', 'modelproviders'];

function flag(ctx: RouteContext, name: string): boolean {
  const v = ctx.query.get(name);
  if (v === null || v === 'false' || v === '0') return false;
  if (v === '' || v === 'true' || v === '1') return true;
  throw new PaiError('invalid', `query parameter ${name} must be true or false`);
}

/** The API form of a stored resource. */
export function storedJson(s: StoredResource, lastUsedAt?: string): Record<string, unknown> {
  return {
    ...(lastUsedAt === undefined ? {} : { lastUsedAt }),
    resource: resourceDocument(s.resource),
    createdAt: s.record.createdAt.toISOString(),
    updatedAt: s.record.updatedAt.toISOString(),
    version: s.record.version,
  };
}

/** The last use of each Provider or ModelProvider of a namespace (undefined for agents, and without usage). */
async function usedBy(
  usage: UsageService | undefined,
  plural: ResourcePlural,
  ns: string,
): Promise<(name: string) => string | undefined> {
  if (usage === undefined || plural === 'agents') return () => undefined;
  const kind = plural === 'providers' ? 'Provider' : 'ModelProvider';
  try {
    const summary = await usage.summary(ns);
    return (name) => UsageService.lastUsed(summary, kind, name);
  } catch {
    // Usage is informational: a listing never fails for it.
    return () => undefined;
  }
}

function routesFor(plural: ResourcePlural, service: ResourcesService, usage?: UsageService): Route[] {
  const kind = PLURAL_KIND[plural];
  return [
    {
      method: 'GET',
      path: `/v1/${plural}`,
      roles: ['admin', 'viewer'],
      handler: async (ctx) => {
        const ns = namespaceOf(ctx);
        const items = await service.list(plural, ns);
        const used = await usedBy(usage, plural, ns);
        return { status: 200, json: { items: items.map((i) => storedJson(i, used(i.resource.metadata.name))) } };
      },
    },
    {
      method: 'GET',
      path: `/v1/${plural}/:name`,
      roles: ['admin', 'viewer'],
      handler: async (ctx) => ({
        status: 200,
        json: await (async () => {
          const ns = namespaceOf(ctx);
          const item = await service.get(plural, ns, ctx.params['name'] ?? '');
          return storedJson(item, (await usedBy(usage, plural, ns))(item.resource.metadata.name));
        })(),
      }),
    },
    {
      method: 'PUT',
      path: `/v1/${plural}/:name`,
      roles: ['admin'],
      handler: async (ctx) => {
        const name = ctx.params['name'] ?? '';
        const dryRun = flag(ctx, 'dryRun');
        const resource = parseResource(await readJson(ctx.req), 'request body');
        if (KIND_PLURAL[resource.kind] !== plural) {
          throw new PaiError('invalid', `kind ${resource.kind} does not belong under /v1/${plural} (expected ${kind})`, {
            details: { field: 'kind' },
          });
        }
        if (resource.metadata.name !== name) {
          throw new PaiError(
            'invalid',
            `metadata.name ${quoteName(resource.metadata.name)} does not match the path name ${quoteName(name)}`,
            {
              details: { field: 'metadata.name' },
            },
          );
        }
        const applied = await service.apply(ctx.principal, namespaceOf(ctx), resource, dryRun);
        return {
          status: applied.result === 'created' && !dryRun ? 201 : 200,
          json: {
            result: applied.result,
            dryRun,
            resource: resourceDocument(applied.resource),
            ...(applied.record ? { version: applied.record.version } : {}),
          },
        };
      },
    },
    {
      method: 'DELETE',
      path: `/v1/${plural}/:name`,
      roles: ['admin'],
      handler: async (ctx) => {
        const name = ctx.params['name'] ?? '';
        await service.delete(ctx.principal, plural, namespaceOf(ctx), name);
        return { status: 200, json: { deleted: `${kind}/${name}` } };
      },
    },
  ];
}

/** The resource routes of every kind. */
export function resourceRoutes(service: ResourcesService, usage?: UsageService): Route[] {
  return namespaced(PLURALS.flatMap((p) => routesFor(p, service, usage)));
}
