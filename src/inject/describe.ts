/**
 * Printable descriptions of injection targets with every secret part shown as REDACTED (fly.io
 * tokenizer habit), for logs, `describe` output and error context. Key names are shown, values
 * never: this code does not even receive them.
 */
import type { InjectionTarget } from '../resources/types.js';
import { AWS_KEYS } from './sigv4.js';
import { needsExtProc } from './strategies.js';

export const REDACTED = 'REDACTED';

function ref(secret: string, key: string): string {
  return `${REDACTED}(${secret}/${key})`;
}

/** How the target's credential is put on the request, e.g. `header authorization: Bearer REDACTED(gh/token)`. */
export function describeAuth(target: InjectionTarget): string {
  const auth = target.auth;
  const s = target.secret;
  switch (auth.strategy) {
    case 'header':
      return `header ${auth.header.toLowerCase()}: ${auth.prefix}${ref(s, auth.key)}`;
    case 'basic':
      return `header authorization: Basic base64(${ref(s, auth.usernameKey)}:${ref(s, auth.passwordKey)})`;
    case 'github': {
      const git = `git smart-HTTP: header authorization: Basic base64(x-access-token:${ref(s, auth.key)})`;
      const api = auth.gitOnlyHosts.length === 0 ? '' : ` (none on other paths of ${auth.gitOnlyHosts.join(', ')})`;
      return `header authorization: Bearer ${ref(s, auth.key)}${api}; ${git}`;
    }
    case 'query':
      return `query ?${auth.param}=${ref(s, auth.key)}`;
    case 'telegram':
      return `path /bot${ref(s, auth.key)}/<method> and /file/bot${ref(s, auth.key)}/<path>`;
    case 'sigv4': {
      const service = auth.service ?? '(from host)';
      const region = auth.region ?? '(from host)';
      const keys = `${ref(s, AWS_KEYS.accessKeyId)}, ${ref(s, AWS_KEYS.secretAccessKey)}, ${ref(s, AWS_KEYS.sessionToken)}?`;
      return `sigv4 service=${service} region=${region} keys ${keys}`;
    }
    case 'azure':
    case 'gcp': {
      const endpoint = auth.tokenUrl === undefined ? '' : ` via ${auth.tokenUrl}`;
      const tenant = auth.strategy === 'azure' && auth.tenantId !== undefined ? ` tenant=${auth.tenantId}` : '';
      return `oauth2 ${auth.strategy} scope=${auth.scope}${tenant}${endpoint} (${REDACTED}(${s})) → header authorization: Bearer ${REDACTED}`;
    }
  }
}

/** One line describing the whole target: kind, name, type, hosts, injection, and whether it needs ext_proc. */
export function describeStrategy(target: InjectionTarget): string {
  const api = needsExtProc(target) ? 'ext_proc only' : 'ext_authz or ext_proc';
  return `${target.kind}/${target.name} (${target.type}) hosts=[${target.hosts.join(', ')}] ${describeAuth(target)} [${api}]`;
}
