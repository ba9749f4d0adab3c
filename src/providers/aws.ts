/**
 * aws: SigV4 with the secret's access_key_id and secret_access_key (and session_token when
 * present), over the buffered body (ext_proc). `config.region` and `config.services` decide the
 * endpoints the Provider covers and the signing scope:
 *
 * - hosts: a named `host` as given; else, with region and services, exactly those services'
 *   endpoints in that region (what a TLS leaf can name); with a region only, `*.<region>` endpoints;
 *   else `*.amazonaws.com`.
 * - per request (the gate): the service and region derived from the host must be in
 *   `config.services` / equal `config.region` when given; credential-minting services (STS, IAM,
 *   SSO, Cognito identity, sign-in) are signed only when `config.services` names them, since
 *   their answers hold new credentials that no IAM policy on the caller can keep from the agent; and
 *   customer-owned hosts under amazonaws.com (API Gateway execute-api, S3 website, load balancers,
 *   EC2 instance names) are never signed under the default wildcard, so a session token never
 *   reaches a server anyone can run, unless the Provider names such a host itself.
 */
import { awsScopeFromHost } from '../inject/aws-scope.js';
import { isPaiError } from '../errors.js';
import type { ProviderConfig } from '../resources/types.js';
import { coveredHosts, namesHosts } from './common.js';
import { type RequestGate, hostCovered, withheld } from './gate.js';
import type { KeySet, ProviderTypeDef } from './types.js';
import { awsWordProblem } from './action-words.js';
import { awsAction } from './aws-actions.js';

export const AWS_KEYS: KeySet = { requiredKeys: ['access_key_id', 'secret_access_key'], optionalKeys: ['session_token'] };

/** Services whose answers are new credentials: signed only when `config.services` names them. */
export const AWS_MINTING_SERVICES: readonly string[] = [
  'sts',
  'iam',
  'sso',
  'sso-oauth',
  'awsssoportal',
  'cognito-identity',
  'signin',
];

/** Host shapes under amazonaws.com that customers run (anyone can own one): never signed by default. */
const CUSTOMER_HOSTS: readonly RegExp[] = [
  /\.execute-api\.[a-z0-9-]+\.amazonaws\.com$/,
  /(^|\.)s3-website[.-][a-z0-9-]+\.amazonaws\.com$/,
  /\.elb\.amazonaws\.com$/,
  /\.elb\.[a-z0-9-]+\.amazonaws\.com$/,
  /\.compute(-1)?\.amazonaws\.com$/,
  /\.compute\.[a-z0-9-]+\.amazonaws\.com$/,
];

/** Services reached on a global endpoint (`<svc>.amazonaws.com`) as well as, or instead of, a regional one. */
const GLOBAL_ENDPOINTS: ReadonlySet<string> = new Set(['iam', 'sts', 'route53', 'cloudfront', 'organizations', 's3']);
/** Endpoint prefixes of a service word, where they are more than the word itself. */
const ENDPOINT_PREFIXES: Readonly<Record<string, readonly string[]>> = {
  bedrock: ['bedrock', 'bedrock-runtime', 'bedrock-agent', 'bedrock-agent-runtime'],
  dynamodb: ['dynamodb', 'streams.dynamodb'],
  ses: ['email'],
};

/** The exact endpoints of `services` in `region` (S3 with its virtual-hosted bucket names). */
function serviceHosts(region: string, services: readonly string[]): string[] {
  const hosts: string[] = [];
  for (const service of services) {
    for (const prefix of ENDPOINT_PREFIXES[service] ?? [service]) hosts.push(`${prefix}.${region}.amazonaws.com`);
    if (service === 's3') hosts.push(`*.s3.${region}.amazonaws.com`);
    if (GLOBAL_ENDPOINTS.has(service)) hosts.push(`${service}.amazonaws.com`);
    if (service === 's3') hosts.push('*.s3.amazonaws.com');
  }
  return hosts;
}

/**
 * The hosts an aws Provider covers when it names none (see the file comment). The exact
 * endpoints come first (what a hosts file and a TLS leaf can name); `*.amazonaws.com` stays last so
 * that a request to another service or region still matches the Provider and is refused 403 by the
 * gate, rather than passing on without a credential as if it belonged to no Provider.
 */
export function awsDefaultHosts(config: ProviderConfig | undefined): string[] {
  const region = config?.region;
  if (region !== undefined && config?.services !== undefined)
    return [...serviceHosts(region, config.services), '*.amazonaws.com'];
  if (region !== undefined) return [`*.${region}.amazonaws.com`, `*.s3.${region}.amazonaws.com`, '*.amazonaws.com'];
  return ['*.amazonaws.com'];
}

/** True for a host that a named (non-default) host pattern of the Provider covers. */
function namedExplicitly(named: readonly string[], host: string): boolean {
  return named.some((p) => p !== '*.amazonaws.com' && p !== '*.amazonaws.com.cn' && hostCovered(p, host));
}

/** The per-request checks of an aws target (see the file comment). */
export function awsGate(provider: string, config: ProviderConfig | undefined, named: readonly string[]): RequestGate {
  const services = config?.services;
  const region = config?.region;
  return ({ host }) => {
    if (CUSTOMER_HOSTS.some((re) => re.test(host)) && !namedExplicitly(named, host)) {
      return withheld(
        provider,
        'customer_host',
        `${host} is a customer-owned endpoint; name it in spec.host to sign requests to it`,
      );
    }
    let scope;
    try {
      scope = awsScopeFromHost(host);
    } catch (err) {
      if (isPaiError(err)) return err;
      throw err;
    }
    if (services !== undefined && !services.includes(scope.service)) {
      return withheld(
        provider,
        'service_not_allowed',
        `service ${scope.service} is not in config.services (${services.join(', ')})`,
      );
    }
    if (services === undefined && AWS_MINTING_SERVICES.includes(scope.service)) {
      return withheld(
        provider,
        'credential_minting',
        `${scope.service} issues credentials; list it in config.services to let the agent call it`,
      );
    }
    // A global endpoint (no region in the host: iam, sts, s3.amazonaws.com) signs for us-east-1 whatever the Provider's region.
    const regional = host.includes(`.${scope.region}.`) || host.includes(`-${scope.region}.`);
    if (region !== undefined && regional && scope.region !== region) {
      return withheld(provider, 'region_not_allowed', `region ${scope.region} is not config.region (${region})`);
    }
    return undefined;
  };
}

export const aws: ProviderTypeDef = {
  type: 'aws',
  // IAM's `?` wildcard; JSON-protocol targets and DynamoDB tables are in the body.
  policy: {
    type: 'aws',
    resolver: awsAction,
    questionMark: true,
    scope: { field: 'resources', options: { questionMark: true } },
    bodyMatters: (decides) => decides,
  },
  authTypes: ['aws-sigv4'],
  authOptions: [],
  scopeFields: ['resources'],
  actionWordProblem: awsWordProblem,
  configFields: ['region', 'services'],
  defaultSecretKey: 'access_key_id',
  fixedKeys: 'the secret holds access_key_id, secret_access_key and optionally session_token',
  defaultHosts: ['*.amazonaws.com'],
  secretKeys: () => AWS_KEYS,
  targets: (p) => {
    const hosts = coveredHosts(p, awsDefaultHosts(p.spec.config));
    const named = namesHosts(p.spec) ? hosts : [];
    const services = p.spec.config?.services;
    // Service and region are read from the request's host (e.g. sqs.eu-west-1.amazonaws.com).
    return [
      {
        hosts,
        auth: { strategy: 'sigv4', ...(services === undefined ? {} : { services }) },
        gate: awsGate(p.metadata.name, p.spec.config, named),
      },
    ];
  },
};
