/**
 * The query of a SigV4-signed request (src/inject/sigv4-query.ts, issue 16 item 5): bounded before
 * any work (count and size: a clear `bad_request` naming the limit, never a name or value), and
 * put in canonical form in O(n log n) with exactly the string smithy's own getCanonicalQuery makes
 * (fast-check), so signatures verify upstream as before. Failure cases first.
 */
import { getCanonicalQuery } from '@smithy/signature-v4';
import test from 'ava';
import fc from 'fast-check';
import { isPaiError } from '../src/errors.js';
import { signAws } from '../src/inject/sigv4.js';
import { MAX_SIGNED_QUERY_BYTES, MAX_SIGNED_QUERY_PARAMS, canonicalQuery, parseQuery } from '../src/inject/sigv4-query.js';
import { AWS_SUITE, suiteSecretFor, verifySigV4 } from './helpers/sigv4-verify.js';

const HOST = 'sqs.us-east-1.amazonaws.com';
const CANARY_NAME = 'CanaryName7f3a';
const CANARY_VALUE = 'canary-value-91c2';

async function sign(path: string): Promise<readonly { name: string; value: string }[]> {
  const signature = await signAws({
    method: 'GET',
    host: HOST,
    path,
    headers: [],
    body: Buffer.alloc(0),
    accessKeyId: AWS_SUITE.accessKeyId,
    secretAccessKey: AWS_SUITE.secretAccessKey,
    now: AWS_SUITE.now,
  });
  return signature.set;
}

const repeat = (n: number, piece: string): string => Array.from({ length: n }, () => piece).join('&');

const REFUSED: readonly { name: string; path: string; message: RegExp }[] = [
  {
    name: 'one name repeated 30,000 times (the review’s request)',
    path: `/?${repeat(30_000, `${CANARY_NAME}=${CANARY_VALUE}`)}`,
    message: /^AWS: the query string is \d+ bytes; the injector signs at most 16384/,
  },
  {
    name: 'one parameter over the count',
    path: `/?${repeat(MAX_SIGNED_QUERY_PARAMS + 1, 'a')}`,
    message: /^AWS: the query has 1001 parameters; the injector signs at most 1000 \(send large parameter sets in the body\)$/,
  },
  {
    name: 'one byte over the size',
    path: `/?${CANARY_NAME}=${'v'.repeat(MAX_SIGNED_QUERY_BYTES - CANARY_NAME.length)}`,
    message: /^AWS: the query string is 16385 bytes; the injector signs at most 16384 /,
  },
];

for (const row of REFUSED) {
  test(`refused before signing: ${row.name}`, async (t) => {
    const err = await t.throwsAsync(sign(row.path));
    t.true(isPaiError(err, 'bad_request'), String(err));
    t.regex(err?.message ?? '', row.message);
    t.false((err?.message ?? '').includes(CANARY_NAME), 'no parameter name in the message');
    t.false((err?.message ?? '').includes(CANARY_VALUE), 'no value in the message');
  });
}

test('empty pieces ("&&") are not parameters, and exactly the limits are signed', async (t) => {
  await t.notThrowsAsync(sign(`/?${repeat(MAX_SIGNED_QUERY_PARAMS, 'a')}&&&`));
  await t.notThrowsAsync(sign(`/?k=${'v'.repeat(MAX_SIGNED_QUERY_BYTES - 2)}`));
});

test('parseQuery checks the bounds itself (every caller of the signer is covered)', (t) => {
  const err = t.throws(() => parseQuery(repeat(MAX_SIGNED_QUERY_PARAMS + 1, 'a=1')));
  t.true(isPaiError(err, 'bad_request'));
});

test('1,000 values of one name (at the limit) sign in linear-ithmic time and verify upstream', async (t) => {
  const path = `/?Action=ReceiveMessage&${Array.from({ length: MAX_SIGNED_QUERY_PARAMS - 1 }, (_, i) => `Attr=${999 - i}`).join('&')}`;
  const set = await sign(path);
  const verdict = verifySigV4({
    method: 'GET',
    path,
    headers: [['host', HOST], ...set.map((e): [string, string] => [e.name, e.value])],
    body: Buffer.alloc(0),
    secretFor: suiteSecretFor,
    now: AWS_SUITE.now,
  });
  t.true(verdict.ok, verdict.reason);
});

// Names and values from a small alphabet, so that names repeat and sort against each other: the
// characters SigV4 encodes, a "+", unicode, "=" inside values, upper and lower case, empties.
const text = fc.string({
  unit: fc.constantFrom('a', 'B', 'b', '-', '_', '.', '~', '!', '*', '(', "'", '+', ' ', '/', '=', 'é', '€', '🚀'),
  maxLength: 4,
});
const query = fc.array(fc.tuple(text, text, fc.boolean()), { maxLength: 12 }).map((pairs) =>
  pairs
    .map(([name, value, bare]) => {
      const n = encodeURIComponent(name);
      return bare && value === '' ? n : `${n}=${encodeURIComponent(value)}`;
    })
    .join('&'),
);

test('canonicalQuery makes exactly smithy’s canonical query (generated queries with repeated names)', (t) => {
  let checked = 0;
  fc.assert(
    fc.property(query, (q) => {
      const parsed = parseQuery(q);
      checked++;
      return canonicalQuery(parsed) === getCanonicalQuery({ query: parsed } as Parameters<typeof getCanonicalQuery>[0]);
    }),
    { numRuns: 500 },
  );
  t.is(checked, 500);
});

test('canonicalQuery leaves out X-Amz-Signature in any case, as smithy does', (t) => {
  const parsed = parseQuery('b=2&X-Amz-Signature=abc&x-amz-signature=def&a=1&a=0');
  t.is(canonicalQuery(parsed), 'a=0&a=1&b=2');
  t.is(canonicalQuery(parsed), getCanonicalQuery({ query: parsed } as Parameters<typeof getCanonicalQuery>[0]));
});
