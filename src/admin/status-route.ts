/**
 * GET /v1/[namespaces/{ns}/]agents/{name}/status (`pai status AGENT`): the agent's Providers and
 * ModelProviders with their type, hosts, today's request count and last use (every injector's
 * usage counts added up), and its gateway tokens' last use. Names and counts only.
 */
import { targetsOf } from '../resources/defaults.js';
import { agentModelProviders } from '../resources/agent-bindings.js';
import { isPaiError } from '../errors.js';
import type { Resource } from '../resources/types.js';
import { namespaced, namespaceOf } from './namespaces.js';
import type { ResourcesService } from './resources-service.js';
import type { Route } from './router.js';
import type { UsageService } from './usage-service.js';
import type { UsageSummary } from '../usage/usage-doc.js';

interface BindingStatus {
  readonly name: string;
  readonly type?: string;
  readonly hosts: readonly string[];
  readonly requestsToday: number;
  readonly lastUsedAt?: string;
  /** The binding names nothing that exists (deleted meanwhile). */
  readonly missing?: true;
}

function hostsOf(r: Resource | undefined): string[] {
  if (r === undefined || r.kind === 'Agent') return [];
  try {
    return [...new Set(targetsOf(r).flatMap((t) => t.hosts))];
  } catch {
    return [];
  }
}

async function binding(
  resources: ResourcesService,
  ns: string,
  plural: 'providers' | 'modelproviders',
  name: string,
  usage: UsageSummary | undefined,
): Promise<BindingStatus> {
  let resource: Resource | undefined;
  try {
    resource = (await resources.get(plural, ns, name)).resource;
  } catch (err) {
    if (!isPaiError(err, 'not_found')) throw err;
  }
  const type =
    resource?.kind === 'Provider' ? resource.spec.type : resource?.kind === 'ModelProvider' ? resource.spec.provider : undefined;
  return {
    name,
    ...(type === undefined ? { missing: true as const } : { type }),
    hosts: hostsOf(resource),
    requestsToday: usage?.requestsToday ?? 0,
    ...(usage?.lastUsedAt === undefined ? {} : { lastUsedAt: usage.lastUsedAt }),
  };
}

/** The status route (admin and viewer tokens). */
export function statusRoute(resources: ResourcesService, usage: UsageService): Route[] {
  return namespaced([
    {
      method: 'GET',
      path: '/v1/agents/:name/status',
      roles: ['admin', 'viewer'],
      handler: async (ctx) => {
        const ns = namespaceOf(ctx);
        const name = ctx.params['name'] ?? '';
        const { resource } = await resources.get('agents', ns, name);
        if (resource.kind !== 'Agent') throw new Error('stored agent is not an Agent');
        const summary = await usage.summary(ns).catch(() => new Map<string, UsageSummary>());
        const of = (kind: string, n: string) => summary.get(`${name}/${kind}/${n}`);
        const providers = await Promise.all(
          (resource.spec.providers ?? []).map((p) => binding(resources, ns, 'providers', p, of('Provider', p))),
        );
        const modelProviders = await Promise.all(
          agentModelProviders(resource.spec).map((m) => binding(resources, ns, 'modelproviders', m, of('ModelProvider', m))),
        );
        return { status: 200, json: { agent: name, namespace: ns, providers, modelProviders } };
      },
    },
  ]);
}
