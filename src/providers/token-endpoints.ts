/**
 * The OAuth token endpoints each cloud documents. A token request carries the credential itself
 * (azure: the client secret; gcp: an assertion signed with the service-account key, good for an
 * hour), so an endpoint outside these lists would hand it to whoever runs that server. Such an
 * endpoint (`auth.tokenUrl`, or a gcp key's `token_uri`) is used only when the injector's operator
 * allows it explicitly (PAI_ALLOWED_TOKEN_URLS, never settable through the admin API).
 */

/** Azure AD (Entra) authorities: public, US government, China. The tenant follows as the first path segment. */
export const AZURE_TOKEN_HOSTS: readonly string[] = [
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
];

/** Google's token endpoints (the one key files name, and its older alias). */
export const GCP_TOKEN_URLS: readonly string[] = [
  'https://oauth2.googleapis.com/token',
  'https://www.googleapis.com/oauth2/v4/token',
];

/** True for an https URL on a documented Azure authority. */
export function isDocumentedAzureTokenUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && u.port === '' && AZURE_TOKEN_HOSTS.includes(u.hostname) && u.username === '';
  } catch {
    return false;
  }
}

/** True for one of Google's documented token URLs. */
export function isDocumentedGcpTokenUrl(url: string): boolean {
  return GCP_TOKEN_URLS.includes(url);
}

/** True when `url` is in the operator's allow-list (exact URLs). */
export function isAllowedCustomTokenUrl(url: string, allowed: readonly string[]): boolean {
  return allowed.includes(url);
}
