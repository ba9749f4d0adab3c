/**
 * Azure AD (Microsoft Entra ID) client-credentials grant: `client_id` and `client_secret` from the
 * Provider's secret, the tenant from `config.tenantId` (else the secret's `tenant_id`), POSTed with the Provider's scope to
 * `https://login.microsoftonline.com/<tenant_id>/oauth2/v2.0/token`, or to `spec.auth.tokenUrl`
 * verbatim when it is set (sovereign clouds, tests). The tenant is checked before it goes into the
 * URL path, so a value such as `../x` cannot move the request elsewhere on the login host.
 */
import { badValue, requireKey } from '../inject/mutation.js';
import type { StrategyOf } from '../inject/mutation.js';
import type { InjectionTarget } from '../resources/types.js';
import type { TokenRequest } from './oauth-http.js';

const [CLIENT_ID, CLIENT_SECRET, TENANT_ID] = ['client_id', 'client_secret', 'tenant_id'] as const;
/** A tenant: a GUID or a verified domain name. */
const TENANT = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** The login endpoint of a tenant in Azure's public cloud. */
export function azureTokenUrl(tenant: string): string {
  return `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
}

function text(target: InjectionTarget, values: ReadonlyMap<string, Buffer>, key: string): string {
  const bytes = requireKey(values, target.secret, key);
  const what = { secret: target.secret, key };
  if (bytes.length === 0) throw badValue(what, 'is empty');
  const value = bytes.toString('utf8');
  if (!Buffer.from(value, 'utf8').equals(bytes)) throw badValue(what, 'is not UTF-8 text');
  return value;
}

/**
 * The token request of an azure target. Throws PaiError `key_missing` or `bad_header_value` (a
 * tenant_id or client_id that cannot be right), naming secret and key, never the value.
 */
export function azureTokenRequest(
  target: InjectionTarget,
  auth: StrategyOf<'azure'>,
  values: ReadonlyMap<string, Buffer>,
  what: string,
): TokenRequest {
  // config.tenantId (Pai's form) first; a tenant_id key in the secret still works.
  const tenant = auth.tenantId ?? text(target, values, TENANT_ID);
  if (!TENANT.test(tenant) || tenant.includes('..'))
    throw badValue(
      { secret: target.secret, key: auth.tenantId === undefined ? TENANT_ID : 'config.tenantId' },
      'is not a tenant id (a GUID or a domain name)',
    );
  const clientId = text(target, values, CLIENT_ID);
  if (!VISIBLE_ASCII.test(clientId))
    throw badValue({ secret: target.secret, key: CLIENT_ID }, 'is not a client id (visible ASCII)');
  const clientSecret = text(target, values, CLIENT_SECRET);
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
    scope: auth.scope,
  });
  return { what, url: auth.tokenUrl ?? azureTokenUrl(tenant), form };
}
