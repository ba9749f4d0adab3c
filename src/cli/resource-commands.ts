/**
 * `pai get|describe|delete agent|provider|modelprovider`: kubectl-style tables, and -o yaml|json
 * output that `pai apply -f` takes back unchanged.
 */
import { renderResourceJson, renderResourceYaml } from '../resources/manifest.js';
import type { Resource, ResourcePlural } from '../resources/types.js';
import type { AdminClient } from './client.js';
import type { CliIo } from './io.js';
import { cell, formatAge, type OutputFormat, table } from './output.js';

export interface StoredItem {
  resource: Resource;
  createdAt: string;
  updatedAt: string;
  version: number;
}

const SINGULAR: Record<ResourcePlural, string> = { agents: 'agent', providers: 'provider', modelproviders: 'modelprovider' };

function secretOf(r: Resource): string {
  switch (r.kind) {
    case 'ModelProvider':
      return r.spec.apiKeySecretRef.key
        ? `${r.spec.apiKeySecretRef.name}/${r.spec.apiKeySecretRef.key}`
        : r.spec.apiKeySecretRef.name;
    case 'Provider':
      return `${r.spec.auth.secretRef}/${r.spec.auth.secretKey ?? 'token'}`;
    case 'Agent':
      return [...new Set((r.spec.env ?? []).map((e) => e.secretRef.name))].join(', ') || '<none>';
  }
}

function row(item: StoredItem, now: Date): string[] {
  const r = item.resource;
  const age = formatAge(new Date(item.createdAt), now);
  switch (r.kind) {
    case 'ModelProvider':
      return [r.metadata.name, r.spec.type, secretOf(r), age];
    case 'Provider':
      return [r.metadata.name, r.spec.type, (r.spec.hosts ?? ['<default>']).join(', '), secretOf(r), age];
    case 'Agent':
      return [
        r.metadata.name,
        (r.spec.modelProviders ?? []).join(', ') || '<none>',
        (r.spec.providers ?? []).join(', ') || '<none>',
        String((r.spec.env ?? []).length),
        r.spec.egress ?? 'allow',
        age,
      ];
  }
}

const HEADERS: Record<ResourcePlural, string[]> = {
  modelproviders: ['NAME', 'TYPE', 'SECRET', 'AGE'],
  providers: ['NAME', 'TYPE', 'HOSTS', 'SECRET', 'AGE'],
  agents: ['NAME', 'MODELPROVIDERS', 'PROVIDERS', 'ENV', 'EGRESS', 'AGE'],
};

/** `pai get agents|providers|modelproviders [NAME]`. */
export function getResources(plural: ResourcePlural) {
  return async (client: AdminClient, name: string | undefined, format: OutputFormat, io: CliIo): Promise<void> => {
    const items = name
      ? [(await client.request<StoredItem>('GET', `/v1/${plural}/${encodeURIComponent(name)}`)).body]
      : (await client.request<{ items: StoredItem[] }>('GET', `/v1/${plural}`)).body.items;
    const resources = items.map((i) => i.resource);
    if (format === 'yaml') return io.stdout(renderResourceYaml(resources));
    if (format === 'json') return io.stdout(renderResourceJson(name !== undefined && resources[0] ? resources[0] : resources));
    if (format === 'name') return io.stdout(resources.map((r) => `${SINGULAR[plural]}/${r.metadata.name}\n`).join(''));
    if (items.length === 0) return io.stderr(`No ${plural} found.\n`);
    const now = io.now();
    io.stdout(
      table(
        HEADERS[plural],
        items.map((i) => row(i, now).map(cell)),
      ),
    );
  };
}

function describeLines(r: Resource): string[] {
  switch (r.kind) {
    case 'ModelProvider':
      return [
        `Type:      ${r.spec.type}`,
        ...(r.spec.baseUrl ? [`Base URL:  ${r.spec.baseUrl}`] : []),
        ...(r.spec.region ? [`Region:    ${r.spec.region}`] : []),
        `Secret:    ${secretOf(r)} (apiKeySecretRef)`,
      ];
    case 'Provider':
      return [
        `Type:      ${r.spec.type}`,
        `Hosts:     ${(r.spec.hosts ?? ['<default for type>']).join(', ')}`,
        `Secret:    ${secretOf(r)} (auth.secretRef)`,
        ...(r.spec.auth.scheme ? [`Scheme:    ${r.spec.auth.scheme}`] : []),
        ...(r.spec.auth.header ? [`Header:    ${r.spec.auth.header}`] : []),
        ...(r.spec.auth.scope ? [`Scope:     ${r.spec.auth.scope}`] : []),
      ];
    case 'Agent':
      return [
        `Model providers:  ${(r.spec.modelProviders ?? []).join(', ') || '<none>'}`,
        `Providers:        ${(r.spec.providers ?? []).join(', ') || '<none>'}`,
        `Egress:           ${r.spec.egress ?? 'allow'}`,
        (r.spec.env ?? []).length === 0 ? 'Env:              <none>' : 'Env:',
        ...(r.spec.env ?? []).map((e) => `  ${e.name} <- secret ${e.secretRef.name}, key ${e.secretRef.key}`),
      ];
  }
}

/** `pai describe agent|provider|modelprovider NAME`. */
export function describeResource(plural: ResourcePlural) {
  return async (client: AdminClient, name: string, io: CliIo): Promise<void> => {
    const item = (await client.request<StoredItem>('GET', `/v1/${plural}/${encodeURIComponent(name)}`)).body;
    const now = io.now();
    const r = item.resource;
    const lines = [
      `Name:      ${r.metadata.name}`,
      `Kind:      ${r.kind}`,
      ...describeLines(r),
      `Version:   ${item.version}`,
      `Created:   ${item.createdAt} (${formatAge(new Date(item.createdAt), now)} ago)`,
      `Updated:   ${item.updatedAt} (${formatAge(new Date(item.updatedAt), now)} ago)`,
    ];
    io.stdout(lines.map(cell).join('\n') + '\n');
  };
}

/** `pai delete agent|provider|modelprovider NAME`. */
export function deleteResource(plural: ResourcePlural) {
  return async (client: AdminClient, name: string, _force: boolean, io: CliIo): Promise<void> => {
    await client.request('DELETE', `/v1/${plural}/${encodeURIComponent(name)}`);
    io.stdout(`${SINGULAR[plural]}/${name} deleted\n`);
  };
}
