/**
 * The SigV4 signing service and region of an AWS endpoint host, for targets that do not name them.
 * Handles the endpoint shapes AWS documents:
 *   <service>.<region>.amazonaws.com            sqs.eu-west-1.amazonaws.com
 *   <prefix>.<service>.<region>.amazonaws.com   abc.execute-api.us-east-1…, runtime.sagemaker.…
 *   <name>.<region>.<service>.amazonaws.com     search-x.eu-west-1.es.amazonaws.com
 *   <service>.amazonaws.com (global)            iam, sts, route53 → us-east-1
 *   S3: <bucket>.s3.<region>…, s3.<region>…, s3.dualstack.<region>…, s3-<region>… (legacy),
 *       <bucket>.s3.amazonaws.com and s3.amazonaws.com → us-east-1
 *   the same under amazonaws.com.cn (global → cn-north-1)
 * A `-fips` suffix on the service label is dropped; endpoint prefixes whose signing name differs
 * are mapped (bedrock-runtime → bedrock, …). Anything else is PaiError `bad_host` with a reason.
 */
import { PaiError } from '../errors.js';

export interface AwsScope {
  readonly service: string;
  readonly region: string;
}

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
const LEGACY_S3 = /^s3-((?:[a-z]{2}(?:-[a-z]+)+-\d{1,2})|external-1)$/;

// Endpoint prefix → signing name, where they differ.
const SIGNING_NAME: ReadonlyMap<string, string> = new Map([
  ['bedrock-runtime', 'bedrock'],
  ['bedrock-agent-runtime', 'bedrock'],
  ['bedrock-agent', 'bedrock'],
  ['email', 'ses'],
  ['s3-control', 's3'],
  ['s3-accesspoint', 's3'],
  ['streams.dynamodb', 'dynamodb'],
  ['data.iot', 'iotdata'],
]);

function underivable(host: string, why: string): PaiError {
  return new PaiError(
    'bad_host',
    `cannot derive the AWS service and region from host ${JSON.stringify(host)}: ${why}; set service and region on the target`,
    { details: { reason: why } },
  );
}

function signingName(label: string, before: string | undefined): string {
  const plain = label.endsWith('-fips') ? label.slice(0, -5) : label;
  const dotted = before === undefined ? undefined : SIGNING_NAME.get(`${before}.${plain}`);
  return dotted ?? SIGNING_NAME.get(plain) ?? plain;
}

/** Service and region for `host` (no port). Throws PaiError `bad_host` when they cannot be derived. */
export function awsScopeFromHost(host: string): AwsScope {
  let rest: string;
  let globalRegion: string;
  if (host.endsWith('.amazonaws.com')) {
    rest = host.slice(0, -'.amazonaws.com'.length);
    globalRegion = 'us-east-1';
  } else if (host.endsWith('.amazonaws.com.cn')) {
    rest = host.slice(0, -'.amazonaws.com.cn'.length);
    globalRegion = 'cn-north-1';
  } else {
    throw underivable(host, 'not an amazonaws.com or amazonaws.com.cn host');
  }
  const labels = rest.split('.');
  const n = labels.length;
  const last = labels[n - 1] ?? '';
  const prev = n >= 2 ? labels[n - 2] : undefined;
  if (last.length === 0) throw underivable(host, 'no service label');

  const legacy = LEGACY_S3.exec(last);
  if (legacy !== null) {
    const region = legacy[1] === 'external-1' ? 'us-east-1' : (legacy[1] ?? globalRegion);
    return { service: 's3', region };
  }
  if (REGION.test(last)) {
    // …<service>.<region>: skip S3's "dualstack" marker to find the service label.
    let i = n - 2;
    if (labels[i] === 'dualstack') i--;
    const service = labels[i];
    if (service === undefined || service.length === 0) throw underivable(host, 'no service label before the region');
    return { service: signingName(service, labels[i - 1]), region: last };
  }
  if (last === 's3' || last === 's3-fips') return { service: 's3', region: globalRegion };
  if (prev !== undefined && REGION.test(prev)) return { service: signingName(last, undefined), region: prev };
  if (n === 1) return { service: signingName(last, undefined), region: globalRegion };
  throw underivable(host, 'unrecognised endpoint shape');
}
