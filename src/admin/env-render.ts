/**
 * Env rendering (DESIGN §5): the one path where secret values leave pai, for agents that mount a
 * secret as an environment variable. Renderer or owner tokens only; every render is audited (who,
 * agent, which secret and key, versions — never a value).
 */
import type { Principal } from '../auth/tokens.js';
import { PaiError, isPaiError, toPaiError } from '../errors.js';
import { placeholderFor } from '../providers/placeholder.js';
import { CA_BUNDLE_PATH, caBundleEnv } from '../resources/agent-trust.js';
import { quoteName } from '../resources/names.js';
import type { Agent, EnvVarRef } from '../resources/types.js';
import { namespaced, namespaceOf } from './namespaces.js';
import type { SecretData, SecretStore } from '../store/types.js';
import type { AuditLog } from './audit.js';
import type { ResourcesService } from './resources-service.js';
import type { Route } from './router.js';

export interface RenderedVar {
  readonly name: string;
  readonly value: Buffer;
  /** Where the value came from: a secret's key, the agent's literal `value`, or a Provider's placeholder. */
  readonly source:
    | { readonly secret: string; readonly key: string }
    | { readonly literal: true }
    | { readonly placeholder: string }
    | { readonly caBundle: string };
}

export interface RenderEnvOptions {
  /**
   * Where the agent container has the pai CA bundle (`pai render ca-bundle`): the six CA variables
   * point there (default CA_BUNDLE_PATH); `false` leaves them out (an agent run outside a pod).
   */
  readonly caBundle?: string | false;
}

export interface Rendered {
  readonly agent: string;
  readonly vars: readonly RenderedVar[];
  /** secret name → version used. */
  readonly versions: Readonly<Record<string, number>>;
}

/** Quotes bytes for a POSIX shell: single quotes keep every byte but `'`, written as `'\''`. */
export function shellQuote(value: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from("'")];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === 0x27) {
      parts.push(value.subarray(start, i), Buffer.from("'\\''"));
      start = i + 1;
    }
  }
  parts.push(value.subarray(start), Buffer.from("'"));
  return Buffer.concat(parts);
}

/** The dotenv form: a comment naming the versions, then NAME='value' lines, sourceable by `sh`. */
export function toDotenv(r: Rendered): Buffer {
  const versions = Object.entries(r.versions)
    .map(([s, v]) => `${s}@${v}`)
    .join(', ');
  const lines: Buffer[] = [Buffer.from(`# pai render env ${r.agent}: secret versions ${versions || '(none)'}\n`)];
  for (const v of r.vars) lines.push(Buffer.from(`${v.name}=`), shellQuote(v.value), Buffer.from('\n'));
  return Buffer.concat(lines);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON form: values as strings when UTF-8, else base64 in valueBase64. */
export function toJson(r: Rendered): Record<string, unknown> {
  return {
    agent: r.agent,
    secretVersions: r.versions,
    items: r.vars.map((v) => {
      try {
        return { name: v.name, value: utf8.decode(v.value) };
      } catch {
        return { name: v.name, valueBase64: v.value.toString('base64') };
      }
    }),
  };
}

async function readAll(
  store: SecretStore,
  ns: string,
  agent: Agent,
): Promise<{ data: Map<string, SecretData>; versions: Record<string, number> }> {
  const data = new Map<string, SecretData>();
  const versions: Record<string, number> = {};
  for (const entry of agent.spec.env ?? []) {
    if (!('secretRef' in entry)) continue;
    const { secretRef } = entry;
    if (data.has(secretRef.name)) continue;
    try {
      const record = await store.readSecret(ns, secretRef.name);
      data.set(secretRef.name, record.data);
      versions[secretRef.name] = record.meta.version;
    } catch (err) {
      if (!isPaiError(err, 'not_found')) throw err;
    }
  }
  return { data, versions };
}

/**
 * The placeholder variables of the agent's Providers that set `auth.agentEnvVar` (never a value),
 * leaving out names the agent's own env sets: its own settings win. Exported for the webhook,
 * which puts them into agent pods (src/webhook/store-pieces.ts).
 */
export async function placeholders(
  resources: Pick<ResourcesService, 'get'>,
  ns: string,
  agent: Agent,
  taken: ReadonlySet<string>,
): Promise<RenderedVar[]> {
  const vars: RenderedVar[] = [];
  for (const name of agent.spec.providers ?? []) {
    let provider;
    try {
      provider = (await resources.get('providers', ns, name)).resource;
    } catch (err) {
      if (isPaiError(err, 'not_found')) continue;
      throw err;
    }
    const env = provider.kind === 'Provider' ? provider.spec.auth?.agentEnvVar : undefined;
    if (provider.kind !== 'Provider' || env === undefined || taken.has(env) || vars.some((v) => v.name === env)) continue;
    vars.push({ name: env, value: Buffer.from(placeholderFor(provider)), source: { placeholder: name } });
  }
  return vars;
}

/**
 * The CA variables (SSL_CERT_FILE and the five others) pointing at `path`, leaving out names already
 * set: the agent's own env entry of the same name wins.
 */
function caBundleVars(path: string | false, taken: ReadonlySet<string>): RenderedVar[] {
  if (path === false) return [];
  return caBundleEnv(path)
    .filter((v) => !taken.has(v.name))
    .map((v) => ({ name: v.name, value: Buffer.from(v.value), source: { caBundle: path } }));
}

/**
 * Parses the `caBundle` query parameter: absent → CA_BUNDLE_PATH, `none` → false, else an absolute
 * path. Throws `invalid` for a relative path (the agent's working directory is not known here) or a
 * control character.
 */
export function parseCaBundle(raw: string | null): string | false {
  if (raw === null) return CA_BUNDLE_PATH;
  if (raw === 'none') return false;
  // eslint-disable-next-line no-control-regex
  if (!raw.startsWith('/') || raw.length > 4096 || /[\x00-\x1f\x7f]/.test(raw))
    throw new PaiError('invalid', 'caBundle must be an absolute path (without control characters) or "none"');
  return raw;
}

/** The value of one `secretRef` entry, or the problem with it. */
function fromSecret(i: number, entry: EnvVarRef, data: ReadonlyMap<string, SecretData>): RenderedVar | string {
  const { name, secretRef } = entry;
  const secret = data.get(secretRef.name);
  const value = secret?.get(secretRef.key);
  if (!secret) return `spec.env[${i}] (${name}): secret ${quoteName(secretRef.name)} does not exist`;
  if (!value) return `spec.env[${i}] (${name}): secret ${quoteName(secretRef.name)} has no key ${quoteName(secretRef.key)}`;
  if (value.includes(0))
    return `spec.env[${i}] (${name}): the value contains a NUL byte, which an environment variable cannot hold`;
  return { name, value, source: { secret: secretRef.name, key: secretRef.key } };
}

/**
 * Resolves every env entry of the agent (secret values and literal values, in spec order), then
 * the placeholders of its Providers' `auth.agentEnvVar`, then the six CA variables pointing at the
 * mounted bundle (options.caBundle; names the agent sets itself are kept as the agent set them).
 * Throws `broken_reference` naming each missing secret or key.
 */
export async function renderEnv(
  store: SecretStore,
  resources: ResourcesService,
  ns: string,
  agentName: string,
  options: RenderEnvOptions = {},
): Promise<Rendered> {
  const { resource } = await resources.get('agents', ns, agentName);
  if (resource.kind !== 'Agent') throw new PaiError('internal', 'stored agent is not an Agent');
  const { data, versions } = await readAll(store, ns, resource);
  const problems: string[] = [];
  const vars: RenderedVar[] = [];
  for (const [i, entry] of (resource.spec.env ?? []).entries()) {
    if (!('secretRef' in entry)) {
      vars.push({ name: entry.name, value: Buffer.from(entry.value, 'utf8'), source: { literal: true } });
      continue;
    }
    const rendered = fromSecret(i, entry, data);
    if (typeof rendered === 'string') problems.push(rendered);
    else vars.push(rendered);
  }
  vars.push(...(await placeholders(resources, ns, resource, new Set(vars.map((v) => v.name)))));
  vars.push(...caBundleVars(options.caBundle ?? CA_BUNDLE_PATH, new Set(vars.map((v) => v.name))));
  if (problems.length > 0) {
    throw new PaiError('broken_reference', `cannot render env of agent ${quoteName(agentName)}: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return { agent: agentName, vars, versions };
}

function actorOf(p: Principal): { tokenId: string; role: string } {
  return { tokenId: p.tokenId, role: p.role };
}

/** GET /v1/[namespaces/:namespace/]agents/:name/env[?format=json|dotenv][&caBundle=PATH|none]. */
export function envRoute(store: SecretStore, resources: ResourcesService, audit: AuditLog): Route[] {
  return namespaced([
    {
      method: 'GET',
      path: '/v1/agents/:name/env',
      // Not admin (issue 16, item 4): an admin could otherwise read any value by pointing an
      // Agent's env at it. Owners hold the first token of a one-machine install.
      roles: ['renderer', 'owner'],
      handler: async (ctx) => {
        const { params, query, principal } = ctx;
        const ns = namespaceOf(ctx);
        const agent = params['name'] ?? '';
        const format = query.get('format') ?? 'json';
        if (format !== 'json' && format !== 'dotenv') throw new PaiError('invalid', 'format must be json or dotenv');
        const caBundle = parseCaBundle(query.get('caBundle'));
        const base = {
          actor: actorOf(principal),
          action: 'env.render' as const,
          kind: 'Agent',
          namespace: ns,
          name: agent.slice(0, 253),
        };
        let rendered: Rendered;
        try {
          rendered = await renderEnv(store, resources, ns, agent, { caBundle });
        } catch (err) {
          audit.write({ ...base, outcome: 'error', code: toPaiError(err).code });
          throw err;
        }
        audit.write({
          ...base,
          keys: rendered.vars.map((v) => v.name),
          outcome: 'ok',
          detail: {
            format,
            refs: rendered.vars.map((v) => ({ env: v.name, ...v.source })),
            secretVersions: rendered.versions,
          },
        });
        if (format === 'json') return { status: 200, json: toJson(rendered) };
        return { status: 200, text: toDotenv(rendered), contentType: 'text/plain' };
      },
    },
  ]);
}
