/**
 * Leak check for ext_proc and OAuth: every secret value is a canary (helpers/canary.ts): the
 * fixture's header, Telegram and AWS values, an STS session token, an Azure client secret, two
 * GCP private keys. Every new type is exercised through Process (and azure/gcp through Check),
 * successes and each denial kind, with the debug log on; then denial bodies and headers, the
 * server's debug log, /metrics and gRPC errors are searched in every encoding. Private keys and
 * client secrets must appear nowhere; an access token or signature only in the answer that
 * injects it; everything else nowhere but its own OK answer.
 */
import * as grpc from '@grpc/grpc-js';
import anyTest, { type TestFn } from 'ava';
import type { ProcessingResponse__Output } from '../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import { type ExtProcHeadersSpec, ScriptedStream, extProcClient, headersMessage } from './helpers/ext-proc-filter.js';
import { type Stack, startStack } from './helpers/injector.js';
import { type Fixture, HOSTS, seedFixture } from './helpers/injector-fixture.js';
import { CLOUD_HOSTS, type CloudFixture, startCloudServers } from './helpers/token-servers.js';

interface Context {
  stack: Stack;
  fx: Fixture;
  cloud: CloudFixture;
  /** Everything observed that must hold no value: name → text. */
  observed: Map<string, string>;
  /** OK answers, with the values each may legitimately carry. */
  oks: { name: string; text: string; own: string[] }[];
  /** Denial reasons seen. */
  reasons: Set<string>;
}
const test = anyTest as TestFn<Context>;

const bot = (authority: string, extra: Partial<ExtProcHeadersSpec> = {}): ExtProcHeadersSpec => ({
  agent: 'bot',
  authority,
  ...extra,
});
const cloud = (authority: string): ExtProcHeadersSpec => ({ agent: 'cloud-bot', authority });

// One request per denial kind that ext_proc and OAuth add or reach (and the old ones through Process).
const DENIALS: [string, ExtProcHeadersSpec, Buffer?][] = [
  ['no_identity', { authority: HOSTS.github, attributes: {}, headers: [['x-pai-agent', 'bot']] }],
  ['unknown_agent', { agent: 'ghost', authority: HOSTS.github }],
  ['bad_host', bot(`user@${HOSTS.telegram}`)],
  ['secret_missing', bot(HOSTS.doomed)],
  ['key_missing', bot(HOSTS.shrunk)],
  ['bad_header_value', bot(HOSTS.crlf)],
  ['bad_header_value', bot(HOSTS.nul)],
  ['bad_request', bot(HOSTS.telegram, { path: '/bot123:own/getMe' })],
  ['bad_request', bot(HOSTS.s3, { method: 'PUT', path: '/b/k', headers: [['content-encoding', 'aws-chunked']] })],
  ['bad_host', bot('x.y.z.amazonaws.com', { path: '/' })],
  ['body_too_large', bot(HOSTS.s3, { method: 'PUT', path: '/b/k', endOfStream: false }), Buffer.alloc(5000, 0x62)],
  ['token_endpoint_failed', cloud(CLOUD_HOSTS.down)],
  ['token_endpoint_failed', cloud(CLOUD_HOSTS.echo)],
  ['token_endpoint_failed', cloud(CLOUD_HOSTS.hang)],
  ['bad_header_value', cloud(CLOUD_HOSTS.badTenant)],
  ['bad_header_value', cloud(CLOUD_HOSTS.badKey)],
];

const OKS: [string, ExtProcHeadersSpec, Buffer?][] = [
  ['telegram', bot(HOSTS.telegram, { path: '/bot/getMe' })],
  ['s3 signed', bot(HOSTS.s3, { method: 'PUT', path: '/b/k', endOfStream: false }), Buffer.from('payload')],
  [
    'bedrock signed',
    { agent: 'bedrock-bot', authority: HOSTS.bedrock, method: 'POST', path: '/model/m/invoke', endOfStream: false },
    Buffer.from('{}'),
  ],
  [
    'sts signed',
    { agent: 'sts-bot', authority: 'sqs.us-east-1.amazonaws.com', method: 'POST', path: '/', endOfStream: false },
    Buffer.from('Action=ListQueues'),
  ],
  ['azure', cloud(CLOUD_HOSTS.arm)],
  ['gcp', cloud(CLOUD_HOSTS.gcs)],
  ['gcp via tokenUrl', cloud(CLOUD_HOSTS.bq)],
  ['header type', bot(HOSTS.github, { headers: [['authorization', 'Bearer agent-own']] })],
];

/** Runs one request: headers, then the body when asked. Returns every response, as text. */
async function run(
  stack: Stack,
  client: ReturnType<typeof extProcClient>,
  spec: ExtProcHeadersSpec,
  body?: Buffer,
): Promise<ProcessingResponse__Output[]> {
  const stream = new ScriptedStream(client);
  try {
    const out: ProcessingResponse__Output[] = [];
    let r = await stream.send(headersMessage(spec));
    out.push(r);
    while (r.response === undefined) out.push((r = await stream.next()));
    if (r.mode_override && body) out.push(await stream.send({ request_body: { body, end_of_stream: true } }));
    return out;
  } finally {
    stream.end();
    void stack;
  }
}

const asText = (responses: unknown): string =>
  JSON.stringify(responses, (_k, v: unknown) =>
    v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
      ? Buffer.from((v as { data: number[] }).data).toString('latin1')
      : v,
  );

test.before(async (t) => {
  const servers = await startCloudServers(makeCanary);
  const stack = await startStack({
    logLevel: 'debug',
    env: { PAI_MAX_SIGNED_BODY: '4Ki', PAI_TOKEN_TIMEOUT: '1s', PAI_ALLOWED_TOKEN_URLS: servers.allowedTokenUrls },
  });
  const fx = await seedFixture(stack, makeCanary);
  const cl = await servers.seed(stack.admin);
  const client = extProcClient(stack.injector);
  const observed = new Map<string, string>();
  const oks: Context['oks'] = [];
  const reasons = new Set<string>();
  t.context = { stack, fx, cloud: cl, observed, oks, reasons };
  try {
    for (const [i, [code, spec, body]] of DENIALS.entries()) {
      const responses = await run(stack, client, spec, body);
      const last = responses.at(-1);
      const reason = last?.immediate_response?.headers?.set_headers?.find((h) => h.header?.key === 'x-pai-deny-reason')?.header
        ?.raw_value;
      if (Buffer.from(reason ?? '').toString() !== code) throw new Error(`denial ${i} did not produce ${code}: ${asText(last)}`);
      reasons.add(code);
      observed.set(`denial ${i} (${code})`, asText(responses));
    }
    for (const [name, spec, body] of OKS) {
      const text = asText(await run(stack, client, spec, body));
      const own =
        name === 'sts signed'
          ? [cl.values.stsKeyId, cl.values.sessionToken]
          : name.endsWith('signed')
            ? [fx.values.awsKeyId]
            : name === 'telegram'
              ? [fx.values.telegram]
              : name === 'header type'
                ? [fx.values.github]
                : [];
      oks.push({ name, text, own });
    }
    // azure and gcp through Check as well, success and failure.
    for (const host of [CLOUD_HOSTS.arm, CLOUD_HOSTS.gcs])
      oks.push({
        name: `check ${host}`,
        text: JSON.stringify(await stack.check({ agent: 'cloud-bot', authority: host })),
        own: [],
      });
    for (const host of [CLOUD_HOSTS.down, CLOUD_HOSTS.echo, CLOUD_HOSTS.badKey])
      observed.set(`check denial ${host}`, JSON.stringify(await stack.check({ agent: 'cloud-bot', authority: host })));

    // A Process stream fed bytes that are no ProcessingRequest: the gRPC error must not echo them.
    const raw = new grpc.Client(stack.injector, grpc.credentials.createInsecure());
    const garbage = Buffer.concat([Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from(cl.values.clientSecret)]);
    const error = await new Promise<string>((resolve) => {
      const call = raw.makeBidiStreamRequest(
        '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
        (b: Buffer) => b,
        (b: Buffer) => b,
      );
      call.on('data', (d: Buffer) => resolve(`unexpected data ${d.toString('latin1')}`));
      call.on('error', (err: grpc.ServiceError) =>
        resolve(JSON.stringify({ message: err.message, details: err.details, metadata: err.metadata?.getMap() })),
      );
      call.write(garbage);
      call.end();
    });
    observed.set('gRPC error: garbage ProcessingRequest', error);
    raw.close();
  } finally {
    client.close();
  }
  observed.set('server debug log', stack.logs());
  observed.set('/metrics', (await stack.admin.expect(200, 'GET', '/metrics')).text);
});

test.after.always(async (t) => {
  await t.context.cloud?.close();
  await t.context.stack?.close();
});

/** The secret values of the suite, each with the middle line of a PEM key as a form of its own. */
function secrets(t: { context: Context }): { name: string; value: string }[] {
  const { fx, cloud: cl } = t.context;
  const pemLine = (pem: string): string => pem.split('\n').filter((l) => l.length > 40)[5] ?? pem;
  return [
    ...Object.entries(fx.values).map(([name, value]) => ({ name: `fixture ${name}`, value })),
    { name: 'azure client secret', value: cl.values.clientSecret },
    { name: 'gcp private key', value: cl.values.privateKey },
    { name: 'gcp private key (a line)', value: pemLine(cl.values.privateKey) },
    { name: 'gcp private key 2 (a line)', value: pemLine(cl.values.privateKey2) },
    { name: 'sts session token', value: cl.values.sessionToken },
    { name: 'sts secret key', value: cl.values.stsSecret },
    ...[cl.azure, cl.gcp, cl.gcpOverride].flatMap((s, i) =>
      [...s.issued.keys()].map((value) => ({ name: `access token ${i}`, value })),
    ),
  ];
}

test('every denial kind fired, the debug log recorded ext_proc decisions, tokens were issued', (t) => {
  t.deepEqual([...t.context.reasons].sort(), [
    'bad_header_value',
    'bad_host',
    'bad_request',
    'body_too_large',
    'key_missing',
    'no_identity',
    'secret_missing',
    'token_endpoint_failed',
    'unknown_agent',
  ]);
  const log = t.context.observed.get('server debug log') ?? '';
  t.regex(log, /"api":"process"/);
  t.regex(log, /"outcome":"token_endpoint_failed"/);
  t.true(
    t.context.cloud.azure.issued.size > 0 && t.context.cloud.gcp.issued.size > 0 && t.context.cloud.gcpOverride.issued.size > 0,
  );
  t.regex(t.context.observed.get('gRPC error: garbage ProcessingRequest') ?? '', /INTERNAL: Error deserializing request/);
});

test('no secret value, private key, client secret or access token in denials, logs, metrics or gRPC errors', (t) => {
  const leaks: string[] = [];
  for (const [where, text] of t.context.observed) {
    for (const { name, value } of secrets(t)) {
      const forms = findCanary(text, value);
      if (forms.length > 0) leaks.push(`${name} in ${where} (${forms.length} forms)`);
    }
  }
  t.deepEqual(leaks, []);
});

test('OK answers carry only their own credential: never a client secret, private key or another target’s value', (t) => {
  const leaks: string[] = [];
  const tokens = new Set(
    secrets(t)
      .filter((s) => s.name.startsWith('access token'))
      .map((s) => s.value),
  );
  for (const ok of t.context.oks) {
    const carried = [...tokens].filter((tk) => ok.text.includes(tk));
    if (ok.name.includes('azure') || ok.name.includes('gcp') || ok.name.startsWith('check')) {
      if (carried.length !== 1) leaks.push(`${ok.name} carries ${carried.length} access tokens`);
    } else if (carried.length > 0) leaks.push(`${ok.name} carries an access token`);
    for (const { name, value } of secrets(t)) {
      if (ok.own.includes(value) || tokens.has(value)) continue;
      if (findCanary(ok.text, value).length > 0) leaks.push(`${name} in the OK answer ${ok.name}`);
    }
  }
  t.deepEqual(leaks, []);
});
