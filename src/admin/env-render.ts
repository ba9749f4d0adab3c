/**
 * Env rendering (DESIGN §5): the one path where secret values leave pai, for agents that mount a
 * secret as an environment variable. Renderer or owner tokens only; every render is audited (who,
 * agent, which secret and key, versions — never a value).
 */
import type { Principal } from '../auth/tokens.js';
import { PaiError, isPaiError, toPaiError } from '../errors.js';
import { quoteName } from '../resources/names.js';
import type { Agent } from '../resources/types.js';
import type { SecretData, SecretStore } from '../store/types.js';
import type { AuditLog } from './audit.js';
import type { ResourcesService } from './resources-service.js';
import type { Route } from './router.js';

export interface RenderedVar {
  readonly name: string;
  readonly value: Buffer;
  readonly secret: string;
  readonly key: string;
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
  agent: Agent,
): Promise<{ data: Map<string, SecretData>; versions: Record<string, number> }> {
  const data = new Map<string, SecretData>();
  const versions: Record<string, number> = {};
  for (const { secretRef } of agent.spec.env ?? []) {
    if (data.has(secretRef.name)) continue;
    try {
      const record = await store.readSecret(secretRef.name);
      data.set(secretRef.name, record.data);
      versions[secretRef.name] = record.meta.version;
    } catch (err) {
      if (!isPaiError(err, 'not_found')) throw err;
    }
  }
  return { data, versions };
}

/** Resolves every env entry of the agent. Throws `broken_reference` naming each missing secret or key. */
export async function renderEnv(store: SecretStore, resources: ResourcesService, agentName: string): Promise<Rendered> {
  const { resource } = await resources.get('agents', agentName);
  if (resource.kind !== 'Agent') throw new PaiError('internal', 'stored agent is not an Agent');
  const { data, versions } = await readAll(store, resource);
  const problems: string[] = [];
  const vars: RenderedVar[] = [];
  for (const [i, { name, secretRef }] of (resource.spec.env ?? []).entries()) {
    const secret = data.get(secretRef.name);
    const value = secret?.get(secretRef.key);
    if (!secret) problems.push(`spec.env[${i}] (${name}): secret ${quoteName(secretRef.name)} does not exist`);
    else if (!value)
      problems.push(`spec.env[${i}] (${name}): secret ${quoteName(secretRef.name)} has no key ${quoteName(secretRef.key)}`);
    else if (value.includes(0))
      problems.push(`spec.env[${i}] (${name}): the value contains a NUL byte, which an environment variable cannot hold`);
    else vars.push({ name, value, secret: secretRef.name, key: secretRef.key });
  }
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

/** GET /v1/agents/:name/env[?format=json|dotenv]. */
export function envRoute(store: SecretStore, resources: ResourcesService, audit: AuditLog): Route {
  return {
    method: 'GET',
    path: '/v1/agents/:name/env',
    // Not admin (issue 16, item 4): an admin could otherwise read any value by pointing an
    // Agent's env at it. Owners hold the first token of a one-machine install.
    roles: ['renderer', 'owner'],
    handler: async ({ params, query, principal }) => {
      const agent = params['name'] ?? '';
      const format = query.get('format') ?? 'json';
      if (format !== 'json' && format !== 'dotenv') throw new PaiError('invalid', 'format must be json or dotenv');
      const base = { actor: actorOf(principal), action: 'env.render' as const, kind: 'Agent', name: agent.slice(0, 253) };
      let rendered: Rendered;
      try {
        rendered = await renderEnv(store, resources, agent);
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
          refs: rendered.vars.map((v) => ({ env: v.name, secret: v.secret, key: v.key })),
          secretVersions: rendered.versions,
        },
      });
      if (format === 'json') return { status: 200, json: toJson(rendered) };
      return { status: 200, text: toDotenv(rendered), contentType: 'text/plain' };
    },
  };
}
