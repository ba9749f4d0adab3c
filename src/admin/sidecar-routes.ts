/**
 * `GET [/v1/namespaces/:ns]/v1/agents/:name/sidecar?mode=&sharedInjector=&sdsCert=` (issue 14):
 * the agent's Envoy bootstrap (src/resources/sidecar-config.ts) as YAML. It names hosts, clusters
 * and the agent, never a secret value, so viewers and renderers may read it (the admission webhook
 * renders the same thing).
 */
import { PaiError, toPaiError } from '../errors.js';
import { loadAgentView } from '../injector/agents.js';
import { quoteName } from '../resources/names.js';
import {
  type RenderedSidecar,
  type SidecarInjector,
  type SidecarMode,
  type SidecarRenderOptions,
  endpointsOf,
  renderSidecarConfig,
} from '../resources/sidecar-config.js';
import type { AgentId } from '../tls/types.js';
import type { ModelProvider, Provider } from '../resources/types.js';
import { parseResource } from '../resources/validate.js';
import type { SecretStore } from '../store/types.js';
import { namespaced, namespaceOf } from './namespaces.js';
import type { Route } from './router.js';

const MODES: readonly SidecarMode[] = ['ext-authz', 'ext-proc'];

/** The `mode` query parameter: ext-authz, ext-proc, or absent/auto. Throws PaiError `invalid` otherwise. */
export function modeParam(raw: string | null): SidecarMode | undefined {
  if (raw === null || raw === '' || raw === 'auto') return undefined;
  const mode = MODES.find((m) => m === raw);
  if (mode === undefined) {
    throw new PaiError('invalid', `mode must be ext-authz, ext-proc or auto, got ${JSON.stringify(raw.slice(0, 40))}`, {
      details: { field: 'mode' },
    });
  }
  return mode;
}

/** The injector of the query: the shared one over mTLS when `sharedInjector` (HOST:PORT) is given, else the unix socket. */
function injectorParam(query: URLSearchParams): SidecarInjector | undefined {
  const address = query.get('sharedInjector');
  if (address === null || address === '') return undefined;
  return { kind: 'mtls', address, sdsCertName: query.get('sdsCert') ?? 'default' };
}

/** The agent's bound ModelProviders and mcp Providers, whose URLs may name a port or plain http. */
async function endpointResources(
  store: SecretStore,
  ns: string,
  modelProviders: Iterable<string>,
  mcpProviders: Iterable<string>,
): Promise<(ModelProvider | Provider)[]> {
  const load = async (kind: 'modelproviders' | 'providers', name: string): Promise<(ModelProvider | Provider)[]> => {
    try {
      const parsed = parseResource((await store.getDoc(kind, ns, name)).body, `stored ${kind}/${name}`);
      return parsed.kind === 'ModelProvider' || parsed.kind === 'Provider' ? [parsed] : [];
    } catch (err) {
      if (toPaiError(err).code === 'not_found') return []; // deleted meanwhile: loadAgentView left it out too
      throw err;
    }
  };
  const lists = await Promise.all([
    ...[...modelProviders].map((n) => load('modelproviders', n)),
    ...[...mcpProviders].map((n) => load('providers', n)),
  ]);
  return lists.flat();
}

/**
 * The sidecar bootstrap of the stored agent `id` (what the route and the admission webhook serve):
 * its resolved targets, plus the ports of its ModelProvider endpoints and mcp URLs. Throws PaiError
 * `not_found` for an unknown agent, `invalid` for a bad shared-injector address, and what the store throws.
 */
export async function renderAgentSidecar(
  store: SecretStore,
  id: AgentId,
  options: Omit<SidecarRenderOptions, 'endpoints'> = {},
): Promise<RenderedSidecar> {
  const view = await loadAgentView(store, id).catch((err: unknown) => {
    throw toPaiError(err).code === 'not_found' ? new PaiError('not_found', `agent ${quoteName(id.name)} not found`) : err;
  });
  const targets = view.agent.targets;
  // Only resources that resolved into targets (a broken binding is left out, as the injector does).
  const mps = new Set(targets.filter((t) => t.kind === 'ModelProvider').map((t) => t.name));
  const mcp = new Set(targets.filter((t) => t.kind === 'Provider' && t.type === 'mcp').map((t) => t.name));
  const endpoints = endpointsOf(await endpointResources(store, id.namespace, mps, mcp));
  return renderSidecarConfig(id, targets, { ...options, endpoints });
}

/** The sidecar route. */
export function sidecarRoutes(store: SecretStore): Route[] {
  return namespaced([
    {
      method: 'GET',
      path: '/v1/agents/:name/sidecar',
      roles: ['admin', 'viewer', 'renderer'],
      handler: async (ctx) => {
        const ns = namespaceOf(ctx);
        const name = ctx.params['name'] ?? '';
        const mode = modeParam(ctx.query.get('mode'));
        const injector = injectorParam(ctx.query);
        const rendered = await renderAgentSidecar(
          store,
          { namespace: ns, name },
          {
            ...(mode === undefined ? {} : { mode }),
            ...(injector === undefined ? {} : { injector }),
          },
        );
        return { status: 200, text: rendered.yaml, contentType: 'application/yaml' };
      },
    },
  ]);
}
