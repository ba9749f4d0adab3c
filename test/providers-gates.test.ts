/**
 * Issue 16 item 1: credential-minting endpoints get no credential unless the Provider names them,
 * services and regions outside `config` get none, and customer-run hosts under a cloud's domain
 * never get a signature. One row per request, through the gate of the Provider's target (Pai form,
 * parsed as every stored Provider is). Before the gates, every row here was signed or tokened.
 */
import test from 'ava';
import { compileMatcher } from '../src/inject/match.js';
import { targetsOf } from '../src/resources/defaults.js';
import type { InjectionTarget, Provider } from '../src/resources/types.js';
import { parseResource } from '../src/resources/validate.js';

const provider = (spec: Record<string, unknown>): Provider =>
  parseResource({ apiVersion: 'pai.io/v1', kind: 'Provider', metadata: { name: 'cloud' }, spec }, 'test') as Provider;

const AWS = { type: 'aws', auth: { type: 'aws-sigv4', secretRef: 'aws' } };
const GCP = { type: 'gcp', auth: { type: 'gcp-service-account', secretRef: 'gcp' } };
const AZURE = { type: 'azure', auth: { type: 'azure-client-credentials', secretRef: 'az' }, config: { tenantId: 't' } };

/** The gate's answer for a request: 'pass', a withheld reason, or 'no-target' when no host of the Provider matches. */
function judge(spec: Record<string, unknown>, host: string, method: string, path: string): string {
  const targets: InjectionTarget[] = targetsOf(provider(spec));
  const target = compileMatcher(targets)(host);
  if (target === undefined) return 'no-target';
  const err = target.gate?.({ host, method, path });
  if (err === undefined) return 'pass';
  if (err.code !== 'credential_withheld') return `unexpected ${err.code}`;
  return String(err.details?.['reason']);
}

const rows: [string, Record<string, unknown>, string, string, string, string][] = [
  // aws, default hosts (*.amazonaws.com): minting services refused, ordinary ones signed.
  ['aws default: STS GetSessionToken', AWS, 'sts.amazonaws.com', 'POST', '/', 'credential_minting'],
  ['aws default: regional STS', AWS, 'sts.eu-west-1.amazonaws.com', 'POST', '/', 'credential_minting'],
  ['aws default: IAM CreateAccessKey', AWS, 'iam.amazonaws.com', 'POST', '/', 'credential_minting'],
  ['aws default: SSO portal', AWS, 'portal.sso.us-east-1.amazonaws.com', 'GET', '/federation/credentials', 'credential_minting'],
  ['aws default: Cognito identity', AWS, 'cognito-identity.us-east-1.amazonaws.com', 'POST', '/', 'credential_minting'],
  ['aws default: S3 GetObject', AWS, 's3.us-east-1.amazonaws.com', 'GET', '/bucket/key', 'pass'],
  ['aws default: DynamoDB', AWS, 'dynamodb.us-east-1.amazonaws.com', 'POST', '/', 'pass'],
  // customer-run hosts: the session token must never reach them.
  ['aws default: API Gateway execute-api', AWS, 'abc123.execute-api.us-east-1.amazonaws.com', 'GET', '/prod/x', 'customer_host'],
  ['aws default: S3 website', AWS, 'bucket.s3-website-us-east-1.amazonaws.com', 'GET', '/', 'customer_host'],
  ['aws default: S3 website (dot form)', AWS, 'bucket.s3-website.eu-west-1.amazonaws.com', 'GET', '/', 'customer_host'],
  ['aws default: ELB', AWS, 'my-lb-1234.us-east-1.elb.amazonaws.com', 'GET', '/', 'customer_host'],
  ['aws default: EC2 public name', AWS, 'ec2-1-2-3-4.compute-1.amazonaws.com', 'GET', '/', 'customer_host'],
  // config.services decides: named minting services are signed, others refused.
  [
    'aws services [sts]: STS named',
    { ...AWS, config: { region: 'us-east-1', services: ['sts'] } },
    'sts.us-east-1.amazonaws.com',
    'POST',
    '/',
    'pass',
  ],
  [
    'aws services [s3]: STS not named',
    { ...AWS, config: { region: 'us-east-1', services: ['s3'] } },
    'sts.amazonaws.com',
    'POST',
    '/',
    'service_not_allowed',
  ],
  [
    'aws services [s3]: SQS',
    { ...AWS, config: { region: 'us-east-1', services: ['s3'] } },
    'sqs.us-east-1.amazonaws.com',
    'POST',
    '/',
    'service_not_allowed',
  ],
  [
    'aws region us-east-1: eu-west-1',
    { ...AWS, config: { region: 'us-east-1' } },
    's3.eu-west-1.amazonaws.com',
    'GET',
    '/b/k',
    'region_not_allowed',
  ],
  [
    'aws named execute-api host',
    { ...AWS, host: 'abc123.execute-api.us-east-1.amazonaws.com' },
    'abc123.execute-api.us-east-1.amazonaws.com',
    'GET',
    '/prod/x',
    'pass',
  ],
  // gcp
  [
    'gcp default: iamcredentials generateAccessToken',
    GCP,
    'iamcredentials.googleapis.com',
    'POST',
    '/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken',
    'credential_minting',
  ],
  [
    'gcp default: IAM service account keys',
    GCP,
    'iam.googleapis.com',
    'POST',
    '/v1/projects/p/serviceAccounts/sa/keys',
    'credential_minting',
  ],
  ['gcp default: STS token exchange', GCP, 'sts.googleapis.com', 'POST', '/v1/token', 'credential_minting'],
  ['gcp default: oauth2', GCP, 'oauth2.googleapis.com', 'POST', '/token', 'credential_minting'],
  ['gcp default: Cloud Storage', GCP, 'storage.googleapis.com', 'GET', '/storage/v1/b/bucket/o', 'pass'],
  [
    'gcp services [storage]: BigQuery',
    { ...GCP, config: { services: ['storage'] } },
    'bigquery.googleapis.com',
    'GET',
    '/',
    'service_not_allowed',
  ],
  [
    'gcp services [iamcredentials]: named',
    { ...GCP, config: { services: ['iamcredentials'] } },
    'iamcredentials.googleapis.com',
    'POST',
    '/v1/x:generateAccessToken',
    'pass',
  ],
  // azure: ARM actions that return keys, and Graph unless named.
  [
    'azure: storage listKeys',
    AZURE,
    'management.azure.com',
    'POST',
    '/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a/listKeys',
    'credential_minting',
  ],
  [
    'azure: listKeys in another case',
    AZURE,
    'management.azure.com',
    'POST',
    '/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a/LISTKEYS?api-version=2023-01-01',
    'credential_minting',
  ],
  [
    'azure: regenerateKey',
    AZURE,
    'management.azure.com',
    'POST',
    '/subscriptions/s/providers/Microsoft.CognitiveServices/accounts/a/regenerateKey',
    'credential_minting',
  ],
  [
    'azure: listAccountSas',
    AZURE,
    'management.azure.com',
    'POST',
    '/subscriptions/s/providers/Microsoft.Storage/storageAccounts/a/ListAccountSas',
    'credential_minting',
  ],
  [
    'azure: an ordinary ARM read',
    AZURE,
    'management.azure.com',
    'GET',
    '/subscriptions/s/resourceGroups/g?api-version=2021-04-01',
    'pass',
  ],
  ['azure: Graph not covered by default', AZURE, 'graph.microsoft.com', 'POST', '/v1.0/applications/x/addPassword', 'no-target'],
  [
    'azure services [arm, listkeys]: listKeys named',
    { ...AZURE, config: { tenantId: 't', services: ['arm', 'listkeys'] } },
    'management.azure.com',
    'POST',
    '/subscriptions/s/providers/Microsoft.Storage/storageAccounts/a/listKeys',
    'pass',
  ],
];

for (const [title, spec, host, method, path, want] of rows) {
  test(`${title}: ${want}`, (t) => {
    t.is(judge(spec, host, method, path), want);
  });
}
