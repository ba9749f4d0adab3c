/**
 * pai's own work per Check, without the gRPC transport: decode (check-decode.ts), the handler
 * (ExtAuthzService.check: identity, decision, observation with the request log, usage and metrics)
 * and the answer's encoding, in process, over an in-process stack with one agent bound to github
 * and openai, two requests of the mix's shape (10 headers) alternating. What the footprint bench's
 * mix ratio leaves to pai is this figure against the floor's CPU per Check.
 *
 * Knobs: BENCH_ROUNDS (5), BENCH_CHECKS (100000 per round). Run: `npx tsx bench/check-handler.ts`
 * (best under the pod profile's flags: `node --no-memory-reducer --max-semi-space-size=8 --import
 * tsx bench/check-handler.ts`).
 */
import { decodeCheckRequest } from '../src/injector/check-decode.js';
import { envoyService } from '../src/injector/envoy-grpc.js';
import { ExtAuthzService, serviceDefinition } from '../src/injector/ext-authz.js';
import { checkRequest, resource, startStack } from '../test/helpers/injector.js';
import { median } from './lib.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const CHECKS = Number(process.env['BENCH_CHECKS'] ?? 100_000);

const HEADERS: [string, string][] = [
  ['x-request-id', '5f0c6f6e-4a36-4a5e-9a64-000000000301'],
  ['x-forwarded-proto', 'http'],
  ['user-agent', 'pai-agent/1.0 (node)'],
  ['accept', 'application/json'],
  ['content-type', 'application/json'],
  ['content-length', '512'],
  ['x-envoy-expected-rq-timeout-ms', '15000'],
  ['authorization', 'Bearer agent-own'],
];

const stack = await startStack({ logLevel: 'error', env: { PAI_CACHE_TTL: '60s' } });
try {
  await stack.admin.createSecret('github-pat', { token: 'bench-github-0123456789abcdef' });
  await stack.admin.createSecret('openai-key', { 'api-key': 'bench-openai-0123456789abcdef' });
  await stack.admin.apply(
    resource('Provider', 'github', { type: 'github', auth: { secretRef: 'github-pat' } }),
    resource('ModelProvider', 'openai', { type: 'openai', apiKeySecretRef: { name: 'openai-key', key: 'api-key' } }),
    resource('Agent', 'bot', { providers: ['github'], modelProviders: ['openai'] }),
  );
  const parts = stack.running.injectorServer?.parts;
  const serialize = envoyService('auth')['Check']?.requestSerialize;
  if (!parts || !serialize) throw new Error('no injector in the stack');
  const service = new ExtAuthzService(parts.decider, parts.observer, undefined, serviceDefinition().serialize);
  const bodies = [
    serialize(
      checkRequest({
        agent: 'bot',
        method: 'POST',
        path: '/repos/pai/agents/issues?per_page=50',
        authority: 'api.github.com',
        scheme: 'http',
        headers: HEADERS,
      }),
    ),
    serialize(
      checkRequest({
        agent: 'bot',
        method: 'POST',
        path: '/v1/chat/completions',
        authority: 'api.openai.com',
        scheme: 'http',
        headers: HEADERS,
      }),
    ),
  ];
  let answered = 0;
  let injected = 0;
  let verify = true;
  const done = (_err: unknown, value: unknown): void => {
    answered++;
    // During the warm-up every answer must carry the credential (pre-encoded bytes hold it in the
    // clear); the timed rounds only count, so that the check is not part of the figure.
    if (verify && Buffer.isBuffer(value) && value.includes('Bearer bench-')) injected++;
  };
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const call = { request: decodeCheckRequest(bodies[i & 1] as Buffer) } as unknown as Parameters<ExtAuthzService['check']>[0];
      service.check(call, done);
    }
  };
  // The first requests find the cache cold and are answered asynchronously: wait for them.
  run(20_000);
  await new Promise((r) => setTimeout(r, 200));
  const warm = answered;
  verify = false;
  const perCheck: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await new Promise((r) => setTimeout(r, 50));
    const started = process.hrtime.bigint();
    run(CHECKS);
    perCheck.push(Number(process.hrtime.bigint() - started) / CHECKS / 1000);
  }
  console.log(
    `pai per Check (decode + handler + answer, no transport): ${perCheck.map((x) => x.toFixed(2)).join(' ')} µs; median ${median(perCheck).toFixed(2)} µs`,
  );
  console.log(`  verified: ${injected} of ${warm} warm-up answers injected; ${answered} answered in all`);
  if (injected !== warm || answered !== warm + ROUNDS * CHECKS) process.exitCode = 1;
} finally {
  await stack.close();
}
