import { createHash } from 'node:crypto';
import test from 'ava';
import { signAws } from '../src/inject/sigv4.js';
import { AWS_SUITE, suiteSecretFor, upstreamHeaders, verifySigV4 } from './helpers/sigv4-verify.js';

/*
 * Vectors from AWS's published Signature Version 4 test suite ("aws-sig-v4-test-suite", linked
 * from https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html), as vendored
 * in bazelbuild/bazel third_party/aws-sig-v4-test-suite/<name>/<name>.{req,creq,sts,sreq,authz}.
 * Every case: access key AKIDEXAMPLE, secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 * 20150830T123600Z, region us-east-1, service "service", host example.amazonaws.com.
 * `signature` is the one in <name>.authz / .sreq; `creq` and `stsHash` (the last line of <name>.sts)
 * are given where the suite publishes them.
 */
interface Vector {
  name: string;
  method: string;
  path: string;
  headers?: [string, string][];
  body?: string;
  sessionToken?: string;
  signedHeaders: string;
  signature: string;
  creq?: string;
  stsHash?: string;
}

const STS_TOKEN =
  'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==';
const EMPTY_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const BASE_CREQ_HEADERS = 'host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date';

const VECTORS: Vector[] = [
  {
    name: 'get-vanilla',
    method: 'GET',
    path: '/',
    signedHeaders: 'host;x-amz-date',
    signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    creq: `GET\n/\n\n${BASE_CREQ_HEADERS}\n${EMPTY_SHA}`,
    stsHash: 'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
  },
  {
    name: 'get-vanilla-query-order-key-case',
    method: 'GET',
    path: '/?Param2=value2&Param1=value1',
    signedHeaders: 'host;x-amz-date',
    signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
  },
  {
    name: 'get-vanilla-query-order-key',
    method: 'GET',
    path: '/?Param1=value2&Param1=Value1',
    signedHeaders: 'host;x-amz-date',
    signature: 'eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1',
    creq: `GET\n/\nParam1=Value1&Param1=value2\n${BASE_CREQ_HEADERS}\n${EMPTY_SHA}`,
    stsHash: '704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89',
  },
  {
    name: 'get-vanilla-query-unreserved',
    method: 'GET',
    path: '/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
    signedHeaders: 'host;x-amz-date',
    signature: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197',
  },
  {
    name: 'get-vanilla-utf8-query',
    method: 'GET',
    path: '/?\u1234=bar',
    signedHeaders: 'host;x-amz-date',
    signature: '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04',
  },
  {
    name: 'get-vanilla-empty-query-key',
    method: 'GET',
    path: '/?Param1=value1',
    signedHeaders: 'host;x-amz-date',
    signature: 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb',
  },
  {
    name: 'get-utf8',
    method: 'GET',
    path: '/\u1234',
    signedHeaders: 'host;x-amz-date',
    signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85',
  },
  {
    name: 'normalize-path/get-slashes',
    method: 'GET',
    path: '//example//',
    signedHeaders: 'host;x-amz-date',
    signature: '9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84',
  },
  {
    name: 'normalize-path/get-space',
    method: 'GET',
    path: '/example space/',
    signedHeaders: 'host;x-amz-date',
    signature: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741',
  },
  {
    name: 'normalize-path/get-relative-relative',
    method: 'GET',
    path: '/example1/example2/../..',
    signedHeaders: 'host;x-amz-date',
    signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  },
  {
    name: 'post-vanilla',
    method: 'POST',
    path: '/',
    signedHeaders: 'host;x-amz-date',
    signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
  },
  {
    name: 'post-vanilla-empty-query-value',
    method: 'POST',
    path: '/?Param1=value1',
    signedHeaders: 'host;x-amz-date',
    signature: '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11',
  },
  {
    name: 'post-x-www-form-urlencoded',
    method: 'POST',
    path: '/',
    headers: [['Content-Type', 'application/x-www-form-urlencoded']],
    body: 'Param1=value1',
    signedHeaders: 'content-type;host;x-amz-date',
    signature: 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a',
    creq:
      'POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n' +
      'content-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e',
    stsHash: '42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281',
  },
  {
    // post-sts-token/post-sts-header-before: the session token is part of the signed request.
    name: 'post-sts-token/post-sts-header-before',
    method: 'POST',
    path: '/',
    sessionToken: STS_TOKEN,
    signedHeaders: 'host;x-amz-date;x-amz-security-token',
    signature: '85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead',
  },
];

const AKID = AWS_SUITE.accessKeyId;
const SECRET = AWS_SUITE.secretAccessKey;
const NOW = AWS_SUITE.now;
const secretFor = suiteSecretFor;

for (const v of VECTORS) {
  test(`SigV4 suite vector ${v.name}`, async (t) => {
    // The agent's own X-Amz-Date (as in the suite's .req) is replaced by ours, equal here.
    const headers: [string, string][] = [['X-Amz-Date', '20150830T123600Z'], ...(v.headers ?? [])];
    const body = Buffer.from(v.body ?? '');
    const sig = await signAws({
      method: v.method,
      host: 'example.amazonaws.com',
      path: v.path,
      headers,
      body,
      accessKeyId: AKID,
      secretAccessKey: SECRET,
      sessionToken: v.sessionToken,
      service: 'service',
      region: 'us-east-1',
      now: NOW,
    });
    const authorization = `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=${v.signedHeaders}, Signature=${v.signature}`;
    t.deepEqual(sig.set.at(-1), { name: 'authorization', value: authorization });
    t.deepEqual(sig.set[0], { name: 'x-amz-date', value: '20150830T123600Z' });
    if (v.sessionToken !== undefined) t.deepEqual(sig.set[1], { name: 'x-amz-security-token', value: v.sessionToken });
    // The independent verifier reproduces the published canonical request and string to sign.
    const verdict = verifySigV4({
      method: v.method,
      path: v.path,
      headers: upstreamHeaders('example.amazonaws.com', headers, sig),
      body,
      secretFor,
    });
    t.true(verdict.ok, verdict.reason);
    if (v.creq !== undefined) t.is(verdict.canonicalRequest, v.creq);
    if (v.stsHash !== undefined) t.is(verdict.stringToSign?.split('\n')[3], v.stsHash);
  });
}

test('published canonical requests hash (node:crypto) to the published string-to-sign hashes', (t) => {
  const withBoth = VECTORS.filter((v) => v.creq !== undefined && v.stsHash !== undefined);
  t.is(withBoth.length, 3);
  for (const v of withBoth)
    t.is(
      createHash('sha256')
        .update(v.creq ?? '')
        .digest('hex'),
      v.stsHash ?? '',
      v.name,
    );
});

test('the verifier rejects tampering, wrong keys and stale dates', async (t) => {
  const headers: [string, string][] = [['content-type', 'application/json']];
  const body = Buffer.from('{"a":1}');
  const sig = await signAws({
    method: 'POST',
    host: 'sqs.eu-west-1.amazonaws.com',
    path: '/?Action=x',
    headers,
    body,
    accessKeyId: AKID,
    secretAccessKey: SECRET,
    now: NOW,
  });
  const up = upstreamHeaders('sqs.eu-west-1.amazonaws.com', headers, sig);
  const base = { method: 'POST', path: '/?Action=x', headers: up, body, secretFor };
  t.true(verifySigV4(base).ok);
  t.true(verifySigV4({ ...base, now: NOW, expectService: 'sqs', expectRegion: 'eu-west-1' }).ok);
  t.is(verifySigV4({ ...base, body: Buffer.from('{"a":2}') }).reason, 'signature mismatch');
  t.is(verifySigV4({ ...base, path: '/?Action=y' }).reason, 'signature mismatch');
  t.is(verifySigV4({ ...base, method: 'PUT' }).reason, 'signature mismatch');
  t.is(
    verifySigV4({ ...base, headers: up.map(([n, v]) => [n, n === 'content-type' ? 'text/plain' : v] as const) }).reason,
    'signature mismatch',
  );
  t.is(verifySigV4({ ...base, secretFor: () => 'other' }).reason, 'signature mismatch');
  t.is(verifySigV4({ ...base, secretFor: () => undefined }).reason, 'unknown access key');
  t.is(verifySigV4({ ...base, now: new Date('2015-08-30T13:00:00Z') }).reason, 'request time skewed');
  t.is(verifySigV4({ ...base, expectRegion: 'us-east-1' }).reason, 'region eu-west-1');
  t.is(verifySigV4({ ...base, headers: up.filter(([n]) => n !== 'authorization') }).reason, 'no authorization header');
});
