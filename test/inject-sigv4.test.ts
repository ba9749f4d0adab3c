import { createHash } from 'node:crypto';
import test from 'ava';
import { isPaiError } from '../src/errors.js';
import { awsScopeFromHost } from '../src/inject/aws-scope.js';
import { CREDENTIAL_HEADERS } from '../src/inject/mutation.js';
import type { InjectRequest } from '../src/inject/mutation.js';
import { sigv4Mutation } from '../src/inject/sigv4.js';
import type { InjectionTarget } from '../src/resources/types.js';
import { AWS_SUITE, suiteSecretFor, upstreamHeaders, verifySigV4 } from './helpers/sigv4-verify.js';

const AKID = AWS_SUITE.accessKeyId;
const SECRET = AWS_SUITE.secretAccessKey;
const NOW = AWS_SUITE.now;
const secretFor = suiteSecretFor;

const scopes: [string, string | undefined, string | undefined][] = [
  // Underivable hosts first.
  ['api.github.com', undefined, undefined],
  ['amazonaws.com', undefined, undefined],
  ['amazonaws.com.evil.net', undefined, undefined],
  ['foo.bar.amazonaws.com', undefined, undefined],
  ['.amazonaws.com', undefined, undefined],
  ['sqs.us-east-1.amazonaws.com', 'sqs', 'us-east-1'],
  ['dynamodb.eu-central-1.amazonaws.com', 'dynamodb', 'eu-central-1'],
  ['bedrock-runtime.us-west-2.amazonaws.com', 'bedrock', 'us-west-2'],
  ['bedrock-agent-runtime.eu-west-3.amazonaws.com', 'bedrock', 'eu-west-3'],
  ['bedrock.us-east-1.amazonaws.com', 'bedrock', 'us-east-1'],
  ['bedrock-runtime-fips.us-east-1.amazonaws.com', 'bedrock', 'us-east-1'],
  ['sts-fips.us-east-2.amazonaws.com', 'sts', 'us-east-2'],
  ['sts.amazonaws.com', 'sts', 'us-east-1'],
  ['iam.amazonaws.com', 'iam', 'us-east-1'],
  ['sts.ap-southeast-2.amazonaws.com', 'sts', 'ap-southeast-2'],
  ['s3.amazonaws.com', 's3', 'us-east-1'],
  ['my-bucket.s3.amazonaws.com', 's3', 'us-east-1'],
  ['my.dotted.bucket.s3.amazonaws.com', 's3', 'us-east-1'],
  ['s3.eu-west-1.amazonaws.com', 's3', 'eu-west-1'],
  ['my-bucket.s3.eu-west-1.amazonaws.com', 's3', 'eu-west-1'],
  ['my-bucket.s3.dualstack.ap-south-1.amazonaws.com', 's3', 'ap-south-1'],
  ['s3-us-west-2.amazonaws.com', 's3', 'us-west-2'],
  ['my-bucket.s3-us-west-2.amazonaws.com', 's3', 'us-west-2'],
  ['s3-external-1.amazonaws.com', 's3', 'us-east-1'],
  ['123456789012.s3-control.us-east-1.amazonaws.com', 's3', 'us-east-1'],
  ['abc123.execute-api.eu-west-1.amazonaws.com', 'execute-api', 'eu-west-1'],
  ['runtime.sagemaker.us-east-1.amazonaws.com', 'sagemaker', 'us-east-1'],
  ['email.us-east-1.amazonaws.com', 'ses', 'us-east-1'],
  ['search-logs-abc.eu-west-1.es.amazonaws.com', 'es', 'eu-west-1'],
  ['sts.us-gov-west-1.amazonaws.com', 'sts', 'us-gov-west-1'],
  ['sts.cn-north-1.amazonaws.com.cn', 'sts', 'cn-north-1'],
  ['my-bucket.s3.cn-northwest-1.amazonaws.com.cn', 's3', 'cn-northwest-1'],
  ['iam.amazonaws.com.cn', 'iam', 'cn-north-1'],
];
for (const [host, service, region] of scopes) {
  test(`awsScopeFromHost(${host}) → ${service ?? 'bad_host'}${region === undefined ? '' : `/${region}`}`, (t) => {
    if (service === undefined) {
      const err = t.throws(() => awsScopeFromHost(host));
      t.true(isPaiError(err, 'bad_host'));
      t.regex(err.message, /cannot derive the AWS service and region .*: .+; set service and region/);
    } else {
      t.deepEqual(awsScopeFromHost(host), { service, region });
    }
  });
}

function awsTarget(auth: { service?: string; region?: string } = {}): InjectionTarget {
  return {
    kind: 'Provider',
    name: 'aws',
    type: 'aws',
    hosts: ['*.amazonaws.com'],
    secret: 'aws-creds',
    requiredKeys: ['access_key_id', 'secret_access_key'],
    optionalKeys: ['session_token'],
    auth: { strategy: 'sigv4', ...auth },
  };
}
const creds = (extra: Record<string, string> = {}): Map<string, Buffer> =>
  new Map(Object.entries({ access_key_id: AKID, secret_access_key: SECRET, ...extra }).map(([k, v]) => [k, Buffer.from(v)]));

const sigv4Refusals: [string, Map<string, Buffer>, string, RegExp][] = [
  [
    'missing access key',
    new Map([['secret_access_key', Buffer.from(SECRET)]]),
    'key_missing',
    /"aws-creds" has no key "access_key_id"/,
  ],
  ['missing secret key', new Map([['access_key_id', Buffer.from(AKID)]]), 'key_missing', /no key "secret_access_key"/],
  ['access key with newline', creds({ access_key_id: `${AKID}\n` }), 'bad_header_value', /key "access_key_id".*line break/],
  ['secret key with newline', creds({ secret_access_key: `${SECRET}\n` }), 'bad_header_value', /key "secret_access_key"/],
  ['session token with CR', creds({ session_token: 'abc\rdef' }), 'bad_header_value', /key "session_token"/],
];
for (const [name, vals, code, message] of sigv4Refusals) {
  test(`sigv4 strategy refuses: ${name}`, async (t) => {
    const req: InjectRequest = { method: 'GET', path: '/', host: 'sts.amazonaws.com', headers: [] };
    const err = await t.throwsAsync(sigv4Mutation(awsTarget(), vals, req, Buffer.alloc(0), NOW));
    t.is((err as { code?: string }).code, code);
    t.regex(err.message, message);
    t.false(err.message.includes(SECRET));
  });
}

test('sigv4 strategy refuses aws-chunked streaming uploads and underivable hosts', async (t) => {
  const streaming: InjectRequest = {
    method: 'PUT',
    path: '/key',
    host: 'b.s3.amazonaws.com',
    headers: [['x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD']],
  };
  t.true(isPaiError(await t.throwsAsync(sigv4Mutation(awsTarget(), creds(), streaming, Buffer.alloc(0), NOW)), 'bad_request'));
  const custom: InjectRequest = { method: 'GET', path: '/', host: 'minio.internal:9000', headers: [] };
  t.true(isPaiError(await t.throwsAsync(sigv4Mutation(awsTarget(), creds(), custom, Buffer.alloc(0), NOW)), 'bad_host'));
  // With service and region on the target, any host (and port) can be signed.
  const m = await sigv4Mutation(awsTarget({ service: 's3', region: 'us-east-1' }), creds(), custom, Buffer.alloc(0), NOW);
  t.regex(m.set.at(-1)?.value ?? '', /\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date,/);
});

test('sigv4 strategy: bedrock request signed as bedrock, agent credentials replaced, verifiable upstream', async (t) => {
  const body = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }));
  const req: InjectRequest = {
    method: 'POST',
    path: '/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke',
    host: 'bedrock-runtime.us-west-2.amazonaws.com',
    headers: [
      ['content-type', 'application/json'],
      [
        'Authorization',
        'AWS4-HMAC-SHA256 Credential=AGENTKEY/20150830/us-west-2/bedrock/aws4_request, SignedHeaders=host, Signature=00',
      ],
      ['X-Amz-Date', '20990101T000000Z'],
      ['x-amz-security-token', 'agent-token'],
      ['x-amz-content-sha256', 'UNSIGNED-PAYLOAD'],
      ['x-api-key', 'agent-own'],
      ['user-agent', 'agent/1.0'],
      ['x-amzn-trace-id', 'Root=1'],
      ['connection', 'keep-alive'],
    ],
  };
  const m = await sigv4Mutation(awsTarget(), creds({ session_token: 'FwoGZXIvYXdzEXAMPLE' }), req, body, NOW);
  for (const h of [...CREDENTIAL_HEADERS, 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'])
    t.true(m.remove.includes(h), h);
  t.deepEqual(
    m.set.map((e) => e.name),
    ['x-amz-date', 'x-amz-security-token', 'authorization'],
  );
  t.regex(
    m.set.at(-1)?.value ?? '',
    /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20150830\/us-west-2\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
  );
  const verdict = verifySigV4({
    method: req.method,
    path: req.path,
    headers: upstreamHeaders(req.host, req.headers, m),
    body,
    secretFor,
    now: NOW,
    expectService: 'bedrock',
    expectRegion: 'us-west-2',
    expectSessionToken: 'FwoGZXIvYXdzEXAMPLE',
  });
  t.true(verdict.ok, verdict.reason);
});

test('sigv4 strategy: S3 gets the payload hash, signed, and its path signed as sent', async (t) => {
  const body = Buffer.from('object body');
  const req: InjectRequest = {
    method: 'PUT',
    path: '/photos/a%20b.jpg?x-id=PutObject',
    host: 'my-bucket.s3.eu-west-1.amazonaws.com',
    headers: [
      ['content-type', 'image/jpeg'],
      ['x-amz-meta-owner', 'agent'],
      ['x-amz-meta-owner', 'second'],
    ],
  };
  const m = await sigv4Mutation(awsTarget(), creds({ session_token: '' }), req, body, NOW);
  const hash = createHash('sha256').update(body).digest('hex');
  t.deepEqual(m.set[1], { name: 'x-amz-content-sha256', value: hash });
  t.false(
    m.set.some((e) => e.name === 'x-amz-security-token'),
    'an empty session_token means none',
  );
  t.regex(m.set.at(-1)?.value ?? '', /SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-owner,/);
  const verdict = verifySigV4({
    method: 'PUT',
    path: req.path,
    headers: upstreamHeaders(req.host, req.headers, m),
    body,
    secretFor,
  });
  t.true(verdict.ok, verdict.reason);
  t.is(verdict.canonicalRequest?.split('\n')[1], '/photos/a%20b.jpg');
  t.true(verdict.canonicalRequest?.includes('x-amz-meta-owner:agent,second\n'));
});
