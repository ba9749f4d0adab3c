/**
 * What each API role may do (issue 16, item 4). The split that matters: values leave pai through
 * env rendering only, and an ordinary admin can neither render nor mint a token that can.
 *
 * - owner: everything admin may, plus rendering env, creating owner and renderer tokens and
 *   revoking owner tokens. `pai serve` gives the first token of a store this role (config.yaml); more are made only
 *   by an owner.
 * - admin: secrets (write-only), resources, admin/viewer/agent tokens, master-key rotation.
 * - renderer: env rendering only. viewer: metadata reads. agent: the LLM gateway only.
 */
import type { Role } from './tokens.js';

/** True when a principal of `role` may use a route open to `allowed` (an owner may do what an admin may). */
export function roleAllows(allowed: readonly Role[], role: Role): boolean {
  return allowed.includes(role) || (role === 'owner' && allowed.includes('admin'));
}

// Tokens whose holders can read values (renderer, through env rendering) or mint such tokens (owner).
const VALUE_READING: ReadonlySet<Role> = new Set<Role>(['owner', 'renderer']);

/**
 * True when `actor` may `op` a token of role `target`. Creating an owner or renderer token takes an
 * owner. Revoking takes an admin for every role but owner: cutting off a leaked renderer token is
 * incident response and grants nothing, while revoking the owners would lock the owner out.
 */
export function mayManageToken(actor: Role, target: Role, op: 'create' | 'revoke'): boolean {
  if (actor === 'owner') return true;
  if (actor !== 'admin') return false;
  return op === 'create' ? !VALUE_READING.has(target) : target !== 'owner';
}
