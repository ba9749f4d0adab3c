/**
 * The placeholder an agent gets in a Provider's `auth.agentEnvVar`: never the value, only a marker
 * that lets libraries which insist on a token start, and that the injector recognises and replaces
 * on the wire. Deterministic per Provider (namespace and name), so every render and every injector
 * agree without storing it. Telegram's has a bot token's shape (`<digits>:<chars>`), since
 * Telegram libraries check it and build `/bot<token>/<method>` from it.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_NAMESPACE, type Provider } from '../resources/types.js';

/** The placeholder of `p`'s agentEnvVar (a visible-ASCII string safe in a header and a URL path). */
export function placeholderFor(p: Provider): string {
  const id = `${p.metadata.namespace ?? DEFAULT_NAMESPACE}/${p.metadata.name}`;
  const tag = createHash('sha256').update(id).digest('hex').slice(0, 16);
  return p.spec.type === 'telegram' ? `1000000000:pai-placeholder-${tag}` : `pai-placeholder-${tag}`;
}
