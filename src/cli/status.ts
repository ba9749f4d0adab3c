/**
 * `pai status AGENT` (Pai's command): the agent's Providers and ModelProviders, each with its type,
 * host and today's request count, as Pai prints them:
 *   - telegram-bot (telegram / api.telegram.org) — 5 requests today, last used 3m ago
 */
import type { AdminClient } from './client.js';
import type { CliIo } from './io.js';
import { cell, formatAge } from './output.js';

interface BindingStatus {
  name: string;
  type?: string;
  hosts: string[];
  requestsToday: number;
  lastUsedAt?: string;
  missing?: true;
}

interface AgentStatus {
  agent: string;
  namespace: string;
  providers: BindingStatus[];
  modelProviders: BindingStatus[];
}

function line(b: BindingStatus, now: Date): string {
  if (b.missing) return `- ${cell(b.name)} (does not exist)`;
  const where =
    b.hosts.length === 0 ? '' : ` / ${b.hosts.length > 2 ? `${b.hosts.slice(0, 2).join(', ')}, …` : b.hosts.join(', ')}`;
  const count = `${b.requestsToday} ${b.requestsToday === 1 ? 'request' : 'requests'} today`;
  const last = b.lastUsedAt === undefined ? '' : `, last used ${formatAge(new Date(b.lastUsedAt), now)} ago`;
  return `- ${cell(b.name)} (${b.type ?? ''}${where}) — ${count}${last}`;
}

/** Runs `pai status AGENT`. */
export async function status(client: AdminClient, agent: string, io: CliIo): Promise<void> {
  const s = (await client.request<AgentStatus>('GET', client.nsPath(`agents/${encodeURIComponent(agent)}/status`))).body;
  const now = io.now();
  const lines = [
    `Agent:      ${cell(s.agent)}`,
    `Namespace:  ${cell(s.namespace)}`,
    s.providers.length === 0 ? 'Providers:  <none>' : 'Providers:',
    ...s.providers.map((b) => line(b, now)),
    s.modelProviders.length === 0 ? 'Model providers:  <none>' : 'Model providers:',
    ...s.modelProviders.map((b) => line(b, now)),
  ];
  io.stdout(`${lines.join('\n')}\n`);
}
