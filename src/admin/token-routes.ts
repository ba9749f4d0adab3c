/**
 * /v1/tokens: create (shown once), list (never the token) and revoke API and agent tokens. Owner
 * and renderer tokens are created by owners only, owner tokens revoked by owners only (roles.ts);
 * a refusal is audited.
 */
import { mayManageToken } from '../auth/roles.js';
import { type Principal, ROLES, type Role, type TokenInfo, type TokenService } from '../auth/tokens.js';
import type { ChangeFeed } from '../changes.js';
import { MAX_TOKEN_TTL_MS, parseDuration } from '../config.js';
import { PaiError } from '../errors.js';
import { nameProblem, quoteName } from '../resources/names.js';
import type { AuditLog } from './audit.js';
import { readJson } from './http.js';
import type { UsageService } from './usage-service.js';
import type { Route } from './router.js';

function parseCreate(body: Record<string, unknown>): {
  role: Role;
  agent?: string;
  namespace?: string;
  description?: string;
  ttlMs?: number;
} {
  for (const key of Object.keys(body)) {
    if (!['role', 'agent', 'namespace', 'ttl', 'description'].includes(key)) {
      throw new PaiError('invalid', `unknown field ${quoteName(key)} (expected role, agent, namespace, ttl, description)`, {
        details: { field: key },
      });
    }
  }
  const { role, agent, namespace, ttl, description } = body;
  if (namespace !== undefined && (typeof namespace !== 'string' || nameProblem(namespace) || role !== 'agent')) {
    throw new PaiError('invalid', 'namespace must be a valid namespace name, and only with role agent', {
      details: { field: 'namespace' },
    });
  }
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new PaiError('invalid', `role must be one of ${ROLES.join(', ')}`, { details: { field: 'role' } });
  }
  if (role === 'agent' && typeof agent !== 'string')
    throw new PaiError('invalid', 'agent is required for role agent', { details: { field: 'agent' } });
  if (agent !== undefined && (typeof agent !== 'string' || nameProblem(agent) || role !== 'agent')) {
    throw new PaiError('invalid', 'agent must be a valid agent name, and only with role agent', { details: { field: 'agent' } });
  }
  if (description !== undefined && (typeof description !== 'string' || description.length > 200)) {
    throw new PaiError('invalid', 'description must be a string of at most 200 characters', {
      details: { field: 'description' },
    });
  }
  let ttlMs: number | undefined;
  if (ttl !== undefined) {
    ttlMs = typeof ttl === 'string' ? parseDuration(ttl) : undefined;
    if (ttlMs === undefined || ttlMs <= 0 || ttlMs > MAX_TOKEN_TTL_MS) {
      throw new PaiError('invalid', 'ttl must be a duration such as 30d, 12h or 90m, at most 366d', {
        details: { field: 'ttl' },
      });
    }
  }
  return {
    role: role as Role,
    ...(typeof agent === 'string' ? { agent } : {}),
    ...(typeof namespace === 'string' ? { namespace } : {}),
    ...(typeof description === 'string' ? { description } : {}),
    ...(ttlMs === undefined ? {} : { ttlMs }),
  };
}

/**
 * Refuses, and audits the refusal, when `principal` may not create or revoke a token of `target`:
 * renderer tokens read values (env rendering), owner tokens mint renderer tokens.
 */
function assertMayManage(
  principal: Principal,
  target: Role,
  audit: AuditLog,
  record: { action: 'token.create' | 'token.delete'; name?: string },
): void {
  const op = record.action === 'token.create' ? 'create' : 'revoke';
  if (mayManageToken(principal.role, target, op)) return;
  audit.write({
    actor: { tokenId: principal.tokenId, role: principal.role },
    action: record.action,
    kind: 'Token',
    ...(record.name === undefined ? {} : { name: record.name }),
    outcome: 'error',
    code: 'forbidden',
    detail: { role: target },
  });
  const verb = record.action === 'token.create' ? 'create' : 'revoke';
  const why =
    target === 'renderer'
      ? 'renderer tokens read secret values through env rendering'
      : 'owner tokens can create renderer tokens';
  throw new PaiError('forbidden', `role ${principal.role} may not ${verb} ${target} tokens: ${why}; only an owner token may`);
}

/**
 * Token management routes (admin and owner). A revocation is published on `changes` (doc `tokens/t<id>`,
 * the name TokenService stores it under), so the injector in this process forgets the token at once.
 */
/**
 * Agent tokens with the last use the injectors counted (they record it in their usage counts, not
 * in the token record); API tokens as recorded.
 */
async function withUsage(items: TokenInfo[], usage: UsageService | undefined): Promise<TokenInfo[]> {
  if (usage === undefined) return items;
  const namespaces = [...new Set(items.filter((i) => i.agent !== undefined).map((i) => i.agentNamespace ?? 'default'))];
  const summaries = new Map(
    await Promise.all(namespaces.map(async (ns) => [ns, await usage.summary(ns).catch(() => undefined)] as const)),
  );
  return items.map((i) => {
    if (i.agent === undefined) return i;
    const used = summaries.get(i.agentNamespace ?? 'default')?.get(`${i.agent}/Token/${i.id}`)?.lastUsedAt;
    if (used === undefined || (i.lastUsedAt !== undefined && i.lastUsedAt >= used)) return i;
    return { ...i, lastUsedAt: used };
  });
}

export function tokenRoutes(tokens: TokenService, audit: AuditLog, changes?: ChangeFeed, usage?: UsageService): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/tokens',
      roles: ['admin'],
      handler: async () => ({ status: 200, json: { items: await withUsage(await tokens.list(), usage) } }),
    },
    {
      method: 'POST',
      path: '/v1/tokens',
      roles: ['admin'],
      handler: async ({ req, principal }) => {
        const input = parseCreate(await readJson(req));
        assertMayManage(principal, input.role, audit, { action: 'token.create' });
        const { token, info } = await tokens.create(input);
        audit.write({
          actor: { tokenId: principal.tokenId, role: principal.role },
          action: 'token.create',
          kind: 'Token',
          name: info.id,
          outcome: 'ok',
          detail: { role: info.role, ...(info.agent ? { agent: info.agent } : {}) },
        });
        return { status: 201, json: { ...info, token } };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/tokens/:id',
      roles: ['admin'],
      handler: async ({ params, principal }) => {
        const id = params['id'] ?? '';
        const existing = await tokens.info(id);
        if (existing) assertMayManage(principal, existing.role, audit, { action: 'token.delete', name: id });
        await tokens.revoke(id);
        changes?.publish({ type: 'doc', kind: 'tokens', name: `t${id}` });
        audit.write({
          actor: { tokenId: principal.tokenId, role: principal.role },
          action: 'token.delete',
          kind: 'Token',
          name: id,
          outcome: 'ok',
        });
        return { status: 200, json: { deleted: id } };
      },
    },
  ];
}
