/**
 * One agent's huge SigV4 request cannot hold up another agent's Check (issue 16, item 5). The
 * review's request (a query repeating one name 30,000 times) used to stall the injector's one
 * thread for ~11 s in the signer; it is now refused at the headers, and what is within the bounds
 * is signed in O(n log n). Measured in one run, by ratio: the latency of agent B's Checks while
 * agent A's requests are in flight, against B's Checks alone, interleaved round by round so that
 * the machine's load hits both series alike.
 */
import anyTest, { type TestFn } from 'ava';
import type { AuthorizationClient } from '../src/generated/envoy/service/auth/v3/Authorization.js';
import type { ExternalProcessorClient } from '../src/generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { MAX_SIGNED_QUERY_PARAMS } from '../src/inject/sigv4-query.js';
import { assertImmediateDenial } from './helpers/ext-proc-suite.js';
import { extProcClient, processHeaders } from './helpers/ext-proc-filter.js';
import { Admin, authClient, check, checkRequest, resource } from './helpers/injector.js';
import { type ServeHandle, adminToken, startServe } from './helpers/process.js';

interface Context {
  server: ServeHandle;
  auth: AuthorizationClient;
  extProc: ExternalProcessorClient;
}
const test = anyTest as TestFn<Context>;

const S3 = 's3.us-east-1.amazonaws.com';
const GITHUB = 'api.github.com';

// The injector runs as its own process (the real `pai serve`), so that what is measured is its
// event loop, not the test's clients, which build and decode the large messages.
test.before(async (t) => {
  const server = await startServe({ env: { PAI_LOG_LEVEL: 'warn' } });
  t.context = { server } as Context;
  const admin = new Admin(server.adminUrl, adminToken(server.dataDir));
  await admin.createSecret('aws-keys', { access_key_id: 'AKIDEXAMPLE', secret_access_key: 'fairness-secret' });
  await admin.createSecret('github-pat', { token: 'fairness-token' });
  await admin.apply(
    resource('Provider', 'aws', { type: 'aws', auth: { secretRef: 'aws-keys' } }),
    resource('Provider', 'github', { type: 'github', auth: { secretRef: 'github-pat' } }),
    resource('Agent', 'signer-bot', { providers: ['aws'] }),
    resource('Agent', 'other-bot', { providers: ['github'] }),
  );
  t.context.auth = authClient(server.injectorAddress());
  t.context.extProc = extProcClient(server.injectorAddress());
});
test.after.always(async (t) => {
  t.context.auth?.close();
  t.context.extProc?.close();
  await t.context.server?.stop();
});

const ROUNDS = 25;
/** A Check slower than this fails the test at once (the stall it guards against lasted seconds). */
const CHECK_DEADLINE_MS = 3000;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

/** Agent B's Check (a header credential), timed in ms. */
async function timedCheck(t: { context: Context }): Promise<number> {
  const started = performance.now();
  const res = await check(
    t.context.auth,
    checkRequest({ agent: 'other-bot', authority: GITHUB, path: '/user' }),
    CHECK_DEADLINE_MS,
  );
  const ms = performance.now() - started;
  if (res.status?.code !== 0) throw new Error(`agent B's Check was not injected: ${JSON.stringify(res.status)}`);
  return ms;
}

interface Attack {
  readonly name: string;
  /** Agent A's request path (S3, signed over an empty body). */
  readonly path: string;
  /** Undefined: signed (a headers answer); else the expected denial's reason. */
  readonly refused?: RegExp;
}

const ATTACKS: readonly Attack[] = [
  {
    name: 'one name repeated 30,000 times (refused at the headers)',
    path: `/bucket/key?${Array.from({ length: 30_000 }, () => 'list-type=2').join('&')}`,
    refused: /^AWS: the query string is \d+ bytes; the injector signs at most 16384/,
  },
  {
    name: `${MAX_SIGNED_QUERY_PARAMS} repeats of one name, the most that is signed`,
    path: `/bucket/key?${Array.from({ length: MAX_SIGNED_QUERY_PARAMS }, (_, i) => `x=${i % 10}`).join('&')}`,
  },
];

for (const attack of ATTACKS) {
  test.serial(`agent A's ${attack.name} does not delay agent B's Check`, async (t) => {
    const alone: number[] = [];
    const contended: number[] = [];
    for (let i = 0; i < 3; i++) await timedCheck(t); // warm the caches and the JIT
    for (let round = 0; round < ROUNDS; round++) {
      alone.push(await timedCheck(t));
      // Agent A's request is written first; B's Checks follow one after another until A's is answered.
      let answered = false;
      const bad = processHeaders(t.context.extProc, {
        agent: 'signer-bot',
        authority: S3,
        method: 'GET',
        path: attack.path,
      }).finally(() => (answered = true));
      do contended.push(await timedCheck(t));
      while (!answered);
      const res = await bad;
      if (attack.refused) assertImmediateDenial(t, res, { http: 'BadRequest', code: 'bad_request', message: attack.refused });
      else t.is(res.response, 'request_headers', 'signed: a headers answer with the signature');
    }
    const ratio = median(contended) / median(alone);
    const tail = quantile(contended, 0.9) / quantile(alone, 0.9);
    t.log(
      `B alone: median ${median(alone).toFixed(2)} ms, p90 ${quantile(alone, 0.9).toFixed(2)} ms; ` +
        `while A's request was in flight (${contended.length} Checks): median ${median(contended).toFixed(2)} ms, ` +
        `p90 ${quantile(contended, 0.9).toFixed(2)} ms, max ${Math.max(...contended).toFixed(2)} ms; ` +
        `ratios median ${ratio.toFixed(2)}, p90 ${tail.toFixed(2)}`,
    );
    // A few ms on a Check of ~1 ms: the ratio a stall of seconds would push into the thousands.
    t.true(ratio < 5, `median ratio ${ratio.toFixed(2)}`);
    t.true(tail < 8, `p90 ratio ${tail.toFixed(2)}`);
  });
}
