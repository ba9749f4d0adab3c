/**
 * Leak check for the injector: every secret value is a canary (helpers/canary.ts), every denial
 * kind is triggered with the canaries configured, and the outputs the agent side (or an operator)
 * can see are searched in every encoding: denial bodies and headers, the server's debug log,
 * /metrics, and gRPC errors. Only an OK response to Envoy may carry a value, and only its own.
 */
import * as grpc from '@grpc/grpc-js';
import anyTest, { type TestFn } from 'ava';
import { createMetrics, scrapeRegistry } from '../src/metrics.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import {
  type EnvoyRequest,
  type Stack,
  check,
  checkRequest,
  faultyInjector,
  memoryLogger,
  startStack,
} from './helpers/injector.js';
import { type Fixture, HOSTS, seedFixture } from './helpers/injector-fixture.js';

interface Context {
  stack: Stack;
  fx: Fixture;
  /** Everything observed that must hold no value: name → text. */
  observed: Map<string, string>;
}
const test = anyTest as TestFn<Context>;

const bot = (authority: string, extra: Partial<EnvoyRequest> = {}): EnvoyRequest => ({ agent: 'bot', authority, ...extra });

// One request per denial kind (and the kinds' variants that read a value before refusing).
const DENIALS: [string, EnvoyRequest][] = [
  ['no_identity', { authority: HOSTS.github, headers: [['x-pai-agent', 'bot']] }],
  ['unknown_agent', { agent: 'ghost', authority: HOSTS.github }],
  ['egress_denied', { agent: 'strict-bot', authority: HOSTS.unmatched }],
  ['bad_host', bot(`user@${HOSTS.github}`)],
  ['secret_missing', bot(HOSTS.doomed)],
  ['key_missing', bot(HOSTS.shrunk)],
  ['bad_header_value', bot(HOSTS.crlf)],
  ['bad_header_value', bot(HOSTS.lf)],
  ['bad_header_value', bot(HOSTS.nul)],
  ['needs_ext_proc', bot(HOSTS.telegram, { path: '/bot/getMe' })],
  ['needs_ext_proc', bot(HOSTS.s3, { method: 'PUT', path: '/b/k' })],
  ['needs_ext_proc', { agent: 'bedrock-bot', authority: HOSTS.bedrock, method: 'POST', path: '/model/m/invoke' }],
];

// Successful injections too: their debug log lines and metrics must not carry the value either.
const INJECTIONS: EnvoyRequest[] = [
  HOSTS.openai,
  HOSTS.anthropic,
  HOSTS.gemini,
  HOSTS.azure,
  HOSTS.github,
  HOSTS.custom,
  HOSTS.basic,
  HOSTS.ip,
].map((h) => bot(h, { headers: [['authorization', 'Bearer agent-own']] }));

function grpcErrorText(err: unknown): string {
  const e = err as grpc.ServiceError;
  return JSON.stringify({ message: e.message, details: e.details, code: e.code, metadata: e.metadata?.getMap() });
}

function callError(p: Promise<unknown>): Promise<string> {
  return p.then(
    (res) => `unexpected success: ${JSON.stringify(res)}`,
    (err: unknown) => grpcErrorText(err),
  );
}

test.before(async (t) => {
  const stack = await startStack({ logLevel: 'debug' });
  const fx = await seedFixture(stack, (label) => makeCanary(label));
  const observed = new Map<string, string>();
  t.context = { stack, fx, observed };

  // Denials from the in-process server, and the codes they carried (so the test knows each fired).
  for (const [i, [code, req]] of DENIALS.entries()) {
    const res = await stack.check(req);
    observed.set(`denial ${i} (${code})`, JSON.stringify(res));
    if (res.denied_response?.headers?.find((h) => h.header?.key === 'x-pai-deny-reason')?.header?.value !== code) {
      throw new Error(`request ${i} did not produce ${code}: ${JSON.stringify(res.status)}`);
    }
  }
  for (const req of INJECTIONS) await stack.check(req);

  // Store faults: unavailable, hanging, and a foreign error whose message holds a value.
  const faultLog = memoryLogger('debug');
  const faultMetrics = createMetrics(await scrapeRegistry(false));
  const faults = [
    { readSecret: 'throw' as const },
    {
      readSecret: new Error(`ECONNRESET while reading ${fx.values.github} (${Buffer.from(fx.values.github).toString('base64')})`),
    },
    { readSecret: 'hang' as const },
  ];
  for (const [i, f] of faults.entries()) {
    const injector = await faultyInjector(stack, f, { logger: faultLog.logger, metrics: faultMetrics, storeTimeoutMs: 100 });
    try {
      observed.set(`store fault ${i}`, JSON.stringify(await injector.check(bot(HOSTS.github))));
      if (f.readSecret === 'hang') {
        // A gRPC error: Envoy's deadline shorter than the store timeout, the store hanging.
        observed.set('gRPC error: deadline', await callError(check(injector.client, checkRequest(bot(HOSTS.github)), 20)));
      }
    } finally {
      await injector.close();
    }
  }
  observed.set('store-fault logs', faultLog.text());
  observed.set('store-fault metrics', (await faultMetrics.registry?.metrics()) ?? '');

  // gRPC errors from the real server: a request that is not a CheckRequest, and an unknown method.
  const raw = new grpc.Client(stack.injector, grpc.credentials.createInsecure());
  const garbage = Buffer.concat([Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from(fx.values.openai)]);
  const rawCall = (method: string): Promise<string> =>
    callError(
      new Promise((resolve, reject) =>
        raw.makeUnaryRequest(
          method,
          (b: Buffer) => b,
          (b: Buffer) => b,
          garbage,
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      ),
    );
  observed.set('gRPC error: garbage CheckRequest', await rawCall('/envoy.service.auth.v3.Authorization/Check'));
  observed.set('gRPC error: unknown method', await rawCall('/envoy.service.auth.v3.Authorization/Nope'));
  raw.close();

  observed.set('server debug log', stack.logs());
  observed.set('/metrics', (await stack.admin.expect(200, 'GET', '/metrics')).text);
});

test.after.always(async (t) => {
  await t.context.stack?.close();
});

test('every denial kind fired, the debug log recorded decisions, and the observations are not empty', (t) => {
  const { observed } = t.context;
  const kinds = new Set([...observed.keys()].filter((k) => k.startsWith('denial')).map((k) => /\((\w+)\)/.exec(k)?.[1]));
  t.deepEqual([...kinds].sort(), [
    'bad_header_value',
    'bad_host',
    'egress_denied',
    'key_missing',
    'needs_ext_proc',
    'no_identity',
    'secret_missing',
    'unknown_agent',
  ]);
  t.regex(observed.get('server debug log') ?? '', /"msg":"injector decision"/, 'debug logging was on');
  t.regex(observed.get('/metrics') ?? '', /pai_injector_requests_total\{api="check",outcome="inject"/);
  t.regex(observed.get('store fault 0') ?? '', /store_unavailable/);
  t.regex(observed.get('store fault 1') ?? '', /"internal"/);
  t.regex(observed.get('store fault 2') ?? '', /store_unavailable/);
  t.regex(observed.get('gRPC error: garbage CheckRequest') ?? '', /"code":13/, 'the garbage request is a gRPC INTERNAL error');
  t.regex(observed.get('gRPC error: unknown method') ?? '', /"code":12/);
  t.regex(observed.get('gRPC error: deadline') ?? '', /"code":4/);
});

test('no canary value in any denial, log line, metric or gRPC error', (t) => {
  const leaks: string[] = [];
  for (const [where, text] of t.context.observed) {
    for (const value of t.context.fx.all) {
      const forms = findCanary(text, value);
      if (forms.length > 0) leaks.push(`${where}: ${forms.length} form(s) of a value`);
    }
  }
  t.deepEqual(leaks, []);
  t.true(t.context.observed.size >= DENIALS.length + 9);
});

test('the canary check can fail: a value is found when it is there', (t) => {
  const value = t.context.fx.values.github;
  t.true(findCanary(`prefix ${Buffer.from(`x${value}`).toString('base64')} suffix`, value).length > 0);
  t.true(findCanary(JSON.stringify({ v: value }), value).length > 0);
});
