/**
 * `pai get|describe|delete agent|provider|modelprovider` (and Pai's words: services,
 * model-providers): kubectl-style tables, and -o yaml|json output in Pai's form that `pai apply -f`
 * takes back unchanged.
 */
import { providerSecretKey, targetsOf } from '../resources/defaults.js';
import { renderResourceJson, renderResourceYaml } from '../resources/manifest.js';
import { PROVIDER_REGISTRY } from '../providers/registry.js';
import { DEFAULT_NAMESPACE, type ModelProvider, type Provider, type Resource, type ResourcePlural } from '../resources/types.js';
import { parseResource } from '../resources/validate.js';
import type { AdminClient } from './client.js';
import type { CliIo } from './io.js';
import { cell, formatAge, type OutputFormat, table } from './output.js';

export interface StoredItem {
  resource: unknown;
  createdAt: string;
  updatedAt: string;
  version: number;
  /** Set by servers that count usage: the last request through this resource. */
  lastUsedAt?: string;
}

interface Item extends Omit<StoredItem, 'resource'> {
  resource: Resource;
}

const SINGULAR: Record<ResourcePlural, string> = { agents: 'agent', providers: 'provider', modelproviders: 'modelprovider' };
const NONE = '—';

/** The secret (and key) a ModelProvider or Provider reads, as the tables show it. */
export function secretOf(r: ModelProvider | Provider): string {
  if (r.kind === 'ModelProvider') {
    const ref = r.spec.apiKeySecretRef;
    if (ref === undefined) return '<none>';
    return ref.key === undefined ? ref.name : `${ref.name}/${ref.key}`;
  }
  const auth = r.spec.auth;
  if (auth === undefined) return '<none>';
  const keys = PROVIDER_REGISTRY[r.spec.type].secretKeys(r.spec).requiredKeys;
  // Types with fixed key names (aws, azure, basic) read several keys: the secret alone says it.
  return keys.length === 1 && keys[0] === providerSecretKey(r) ? `${auth.secretRef}/${keys[0]}` : auth.secretRef;
}

/** The hosts a Provider covers, as the tables show them (the type's defaults when it names none). */
function hostsOf(p: Provider): string {
  try {
    const hosts = [...new Set(targetsOf(p).flatMap((t) => t.hosts))];
    return hosts.length === 0 ? '<none>' : hosts.join(', ');
  } catch {
    return '<invalid>';
  }
}

function envSummary(r: Extract<Resource, { kind: 'Agent' }>): string {
  return String((r.spec.env ?? []).length);
}

function row(item: Item, now: Date): string[] {
  const r = item.resource;
  const age = formatAge(new Date(item.createdAt), now);
  const lastUsed = item.lastUsedAt === undefined ? NONE : `${formatAge(new Date(item.lastUsedAt), now)} ago`;
  switch (r.kind) {
    case 'ModelProvider': {
      const max = r.spec.kept?.['maxTokensPerDay'];
      return [
        r.metadata.name,
        r.spec.provider,
        r.spec.endpoint ?? NONE,
        typeof max === 'number' ? String(max) : NONE,
        lastUsed,
        age,
      ];
    }
    case 'Provider':
      return [r.metadata.name, r.spec.type, hostsOf(r), secretOf(r), lastUsed, age];
    case 'Agent':
      return [
        r.metadata.name,
        [...(r.spec.models ?? []), ...(r.spec.modelProviders ?? []).map((m) => `${m}/*`)].join(', ') || '<none>',
        (r.spec.providers ?? []).join(', ') || '<none>',
        envSummary(r),
        age,
      ];
  }
}

const HEADERS: Record<ResourcePlural, string[]> = {
  modelproviders: ['NAME', 'PROVIDER', 'ENDPOINT', 'MAX/DAY', 'LAST USED', 'AGE'],
  providers: ['NAME', 'TYPE', 'HOST', 'SECRET', 'LAST USED', 'AGE'],
  agents: ['NAME', 'MODELS', 'PROVIDERS', 'ENV', 'AGE'],
};

/** The items of an API answer with their documents parsed (the server sent Pai's form). */
function parsed(items: StoredItem[]): Item[] {
  return items.map((i) => ({ ...i, resource: parseResource(i.resource, "the server's answer") }));
}

/** `pai get agents|providers|modelproviders [NAME]`. */
export function getResources(plural: ResourcePlural) {
  return async (client: AdminClient, name: string | undefined, format: OutputFormat, io: CliIo): Promise<void> => {
    const raw = name
      ? [(await client.request<StoredItem>('GET', client.nsPath(`${plural}/${encodeURIComponent(name)}`))).body]
      : (await client.request<{ items: StoredItem[] }>('GET', client.nsPath(plural))).body.items;
    const items = parsed(raw);
    const resources = items.map((i) => i.resource);
    if (format === 'yaml') return io.stdout(renderResourceYaml(resources));
    if (format === 'json') return io.stdout(renderResourceJson(name !== undefined && resources[0] ? resources[0] : resources));
    if (format === 'name') return io.stdout(resources.map((r) => `${SINGULAR[plural]}/${r.metadata.name}\n`).join(''));
    if (items.length === 0)
      return io.stderr(
        `No ${plural} found${client.namespace.name === DEFAULT_NAMESPACE ? '' : ` in namespace ${client.namespace.name}`}.\n`,
      );
    const now = io.now();
    io.stdout(
      table(
        HEADERS[plural],
        items.map((i) => row(i, now).map(cell)),
      ),
    );
  };
}

function policyLines(p: Provider): string[] {
  const { policy, scope, audit } = p.spec;
  const lines: string[] = [];
  if (policy?.allow) lines.push(`Allow:     ${policy.allow.join(', ')}`);
  if (policy?.deny) lines.push(`Deny:      ${policy.deny.join(', ')}`);
  for (const rule of policy?.httpRules ?? [])
    lines.push(`Rule:      ${rule.effect} ${rule.methods.join(',')} ${rule.paths.join(' ')}`);
  if (policy?.mcp?.allowedTools) lines.push(`Tools:     ${policy.mcp.allowedTools.join(', ')}`);
  if (policy?.mcp?.deniedTools) lines.push(`No tools:  ${policy.mcp.deniedTools.join(', ')}`);
  const scopes = [...(scope?.repositories ?? []), ...(scope?.channels ?? []), ...(scope?.resources ?? [])];
  if (scopes.length > 0) lines.push(`Scope:     ${scopes.join(', ')}`);
  if (audit)
    lines.push(`Audit:     ${audit.enforcement ?? 'enforce'}${audit.logRequests === false ? ', requests not logged' : ''}`);
  return lines;
}

function describeLines(r: Resource): string[] {
  switch (r.kind) {
    case 'ModelProvider':
      return [
        `Provider:  ${r.spec.provider}`,
        `Endpoint:  ${r.spec.endpoint ?? `${NONE} (the provider's own)`}`,
        ...(r.spec.region ? [`Region:    ${r.spec.region}`] : []),
        ...(r.spec.apiVersion ? [`API version: ${r.spec.apiVersion}`] : []),
        `Secret:    ${secretOf(r)} (apiKeySecretRef)`,
      ];
    case 'Provider': {
      const a = r.spec.auth;
      return [
        `Type:      ${r.spec.type}${a?.type ? ` (auth ${a.type})` : ''}`,
        `Hosts:     ${hostsOf(r)}`,
        `Secret:    ${secretOf(r)} (auth.secretRef)`,
        ...(a?.header ? [`Header:    ${a.header}${a.prefix !== undefined ? ` (prefix ${JSON.stringify(a.prefix)})` : ''}`] : []),
        ...(a?.param ? [`Param:     ${a.param}`] : []),
        ...(a?.agentEnvVar ? [`Agent env: ${a.agentEnvVar} (a placeholder, never the value)`] : []),
        ...(r.spec.config ? [`Config:    ${JSON.stringify(r.spec.config)}`] : []),
        ...(r.spec.mcp
          ? [`MCP:       ${r.spec.mcp.transport ?? 'sse'} ${r.spec.mcp.url ?? (r.spec.mcp.command ?? []).join(' ')}`]
          : []),
        ...policyLines(r),
      ];
    }
    case 'Agent':
      return [
        `Models:           ${(r.spec.models ?? []).join(', ') || '<none>'}`,
        ...(r.spec.modelProviders ? [`Model providers:  ${r.spec.modelProviders.join(', ')}`] : []),
        `Providers:        ${(r.spec.providers ?? []).join(', ') || '<none>'}`,
        `Egress:           ${r.spec.egress ?? 'allow'}`,
        (r.spec.env ?? []).length === 0 ? 'Env:              <none>' : 'Env:',
        ...(r.spec.env ?? []).map((e) =>
          'secretRef' in e ? `  ${e.name} <- secret ${e.secretRef.name}, key ${e.secretRef.key}` : `  ${e.name} = (literal)`,
        ),
        ...(r.spec.kept ? [`Other fields:     ${Object.keys(r.spec.kept).join(', ')} (kept for other Pai components)`] : []),
      ];
  }
}

/** `pai describe agent|provider|modelprovider NAME`. */
export function describeResource(plural: ResourcePlural) {
  return async (client: AdminClient, name: string, io: CliIo): Promise<void> => {
    const [item] = parsed([
      (await client.request<StoredItem>('GET', client.nsPath(`${plural}/${encodeURIComponent(name)}`))).body,
    ]);
    if (item === undefined) return;
    const now = io.now();
    const r = item.resource;
    const lines = [
      `Name:      ${r.metadata.name}`,
      `Namespace: ${r.metadata.namespace ?? client.namespace.name}`,
      `Kind:      ${r.kind}`,
      ...describeLines(r),
      `Version:   ${item.version}`,
      `Created:   ${item.createdAt} (${formatAge(new Date(item.createdAt), now)} ago)`,
      `Updated:   ${item.updatedAt} (${formatAge(new Date(item.updatedAt), now)} ago)`,
      ...(item.lastUsedAt ? [`Last used: ${item.lastUsedAt} (${formatAge(new Date(item.lastUsedAt), now)} ago)`] : []),
    ];
    io.stdout(lines.map(cell).join('\n') + '\n');
  };
}

/** `pai delete agent|provider|modelprovider NAME`. */
export function deleteResource(plural: ResourcePlural) {
  return async (client: AdminClient, name: string, _force: boolean, io: CliIo): Promise<void> => {
    await client.request('DELETE', client.nsPath(`${plural}/${encodeURIComponent(name)}`));
    io.stdout(`${SINGULAR[plural]}/${name} deleted\n`);
  };
}
