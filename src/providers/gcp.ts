/**
 * gcp: a service-account key (`key.json`) → a JWT-bearer token exchange → Bearer. Hosts: with
 * `config.services`, those APIs' endpoints (`<service>.googleapis.com`); else `*.googleapis.com`.
 * Credential-minting APIs (IAM Credentials' generateAccessToken / signJwt, IAM's key creation,
 * STS, OAuth2) get the token only when `config.services` names them.
 */
import type { ProviderConfig } from '../resources/types.js';
import { coveredHosts, secretKeyOf } from './common.js';
import { type RequestGate, withheld } from './gate.js';
import type { ProviderTypeDef } from './types.js';
import { gcpWordProblem } from './action-words.js';
import { gcpAction } from './gcp-actions.js';

export const GCP_DEFAULT_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
export const GCP_KEY_FILE = 'key.json';
/** APIs whose answers are new credentials. */
export const GCP_MINTING_SERVICES: readonly string[] = ['iamcredentials', 'iam', 'sts', 'oauth2'];

/** The API of a googleapis.com host: its first label, without a region prefix (`us-central1-aiplatform` → aiplatform). */
export function gcpService(host: string): string | undefined {
  if (!host.endsWith('.googleapis.com')) return undefined;
  const first = host.slice(0, host.indexOf('.'));
  const dash = /^[a-z]+-[a-z]+\d+-(.+)$/.exec(first);
  return dash?.[1] ?? first;
}

function gcpGate(provider: string, config: ProviderConfig | undefined): RequestGate {
  const services = config?.services;
  return ({ host }) => {
    const service = gcpService(host);
    if (service === undefined) return undefined;
    if (services !== undefined && !services.includes(service)) {
      return withheld(provider, 'service_not_allowed', `API ${service} is not in config.services (${services.join(', ')})`);
    }
    if (services === undefined && GCP_MINTING_SERVICES.includes(service)) {
      return withheld(
        provider,
        'credential_minting',
        `${service}.googleapis.com issues credentials; list ${service} in config.services to let the agent call it`,
      );
    }
    return undefined;
  };
}

export const gcp: ProviderTypeDef = {
  type: 'gcp',
  // Cloud Storage encodes "/" in object names: an encoded slash is normal form there.
  policy: {
    type: 'gcp',
    resolver: gcpAction,
    allowEncodedSlash: true,
    scope: { field: 'resources', options: { questionMark: true } },
    bodyMatters: () => false,
  },
  authTypes: ['gcp-service-account'],
  authOptions: ['secretKey', 'scope', 'tokenUrl'],
  scopeFields: ['resources'],
  actionWordProblem: gcpWordProblem,
  configFields: ['project', 'services'],
  defaultSecretKey: GCP_KEY_FILE,
  defaultHosts: ['*.googleapis.com'],
  secretKeys: (spec) => ({ requiredKeys: [secretKeyOf(spec, GCP_KEY_FILE)], optionalKeys: [] }),
  targets: (p) => {
    const services = p.spec.config?.services;
    // The services' endpoints first; `*.googleapis.com` last, so another API matches and the gate refuses it (403).
    const defaults =
      services === undefined ? ['*.googleapis.com'] : [...services.map((s) => `${s}.googleapis.com`), '*.googleapis.com'];
    const a = p.spec.auth;
    return [
      {
        hosts: coveredHosts(p, defaults),
        auth: {
          strategy: 'gcp',
          scope: a?.scope ?? GCP_DEFAULT_SCOPE,
          ...(a?.tokenUrl === undefined ? {} : { tokenUrl: a.tokenUrl }),
        },
        gate: gcpGate(p.metadata.name, p.spec.config),
      },
    ];
  },
};
