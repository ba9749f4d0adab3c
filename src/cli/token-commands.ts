/**
 * `pai create token`, `pai get tokens`, `pai delete token ID`. A token is printed once, at
 * creation; listings show ids, roles, agents and times, never the token.
 */
import type { AdminClient } from './client.js';
import type { CliIo } from './io.js';
import { cell, formatAge, type OutputFormat, serialise, table } from './output.js';

interface TokenItem {
  id: string;
  role: string;
  agent?: string;
  description?: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
}

export interface CreateTokenOptions {
  readonly role?: string;
  readonly ttl?: string;
  readonly description?: string;
}

/** `pai create token [AGENT] [--role R] [--ttl D]`: prints the token once on stdout. */
export async function createToken(
  client: AdminClient,
  agent: string | undefined,
  opts: CreateTokenOptions,
  io: CliIo,
): Promise<void> {
  const role = agent ? 'agent' : (opts.role ?? 'viewer');
  const body = {
    role,
    ...(agent ? { agent, namespace: client.namespace.name } : {}),
    ...(opts.ttl ? { ttl: opts.ttl } : {}),
    ...(opts.description ? { description: opts.description } : {}),
  };
  const res = await client.request<TokenItem & { token: string }>('POST', '/v1/tokens', body);
  io.stdout(`${res.body.token}\n`);
  io.stderr(
    `token ${res.body.id} created (role ${role}${agent ? `, agent ${agent}${client.namespace.name === 'default' ? '' : ` in namespace ${client.namespace.name}`}` : ''}${res.body.expiresAt ? `, expires ${res.body.expiresAt}` : ''}); ` +
      'it is shown only this once\n',
  );
}

function until(iso: string | undefined, now: Date): string {
  if (!iso) return '<never>';
  const t = new Date(iso);
  return t <= now ? 'expired' : formatAge(now, t);
}

/** `pai get tokens`. */
export async function getTokens(client: AdminClient, format: OutputFormat, io: CliIo): Promise<void> {
  const items = (await client.request<{ items: TokenItem[] }>('GET', '/v1/tokens')).body.items;
  if (format === 'json' || format === 'yaml') return io.stdout(serialise({ items }, format));
  if (format === 'name') return io.stdout(items.map((t) => `token/${t.id}\n`).join(''));
  const now = io.now();
  io.stdout(
    table(
      ['ID', 'ROLE', 'AGENT', 'AGE', 'EXPIRES', 'LAST USED'],
      items.map((t) => [
        t.id,
        t.role,
        cell(t.agent ?? '-'),
        formatAge(new Date(t.createdAt), now),
        until(t.expiresAt, now),
        t.lastUsedAt ? `${formatAge(new Date(t.lastUsedAt), now)} ago` : '<never>',
      ]),
    ),
  );
}

/** `pai delete token ID`. */
export async function deleteToken(client: AdminClient, id: string, io: CliIo): Promise<void> {
  await client.request('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  io.stdout(`token/${id} revoked\n`);
}
