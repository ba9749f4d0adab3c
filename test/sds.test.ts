/**
 * SDS conformance with Envoy's own protos through a grpc-js client on a unix socket: refusals
 * first (no node, no or invalid agent, unknown agent, unknown resource or type, nothing to certify,
 * a stream switching agent, DeltaSecrets), then the state-of-the-world exchange (initial request,
 * ACK, NACK, stale nonces, resource names), pushes (binding change, renewal on a fake clock, CA
 * rotation, agent deleted) and FetchSecrets.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import anyTest, { type TestFn } from 'ava';
import type { DiscoveryResponse__Output } from '../src/generated/envoy/service/discovery/v3/DiscoveryResponse.js';
import { SECRET_TYPE_URL } from '../src/injector/sds-codec.js';
import { loadSdsService } from '../src/injector/sds-protos.js';
import { FakeClock, SdsStreamClient, type SdsFixture, fetchSecrets, sdsRequest, secretsOf, startSds } from './helpers/sds.js';

const test = anyTest as TestFn<{ sds: SdsFixture }>;
const HOUR = 3_600_000;
const GITHUB = ['api.github.com', 'uploads.github.com', 'github.com'];

test.before(async (t) => {
  t.context.sds = await startSds();
  const { hosts } = t.context.sds;
  hosts.set('triage-bot', GITHUB);
  hosts.set('triage-bot', ['api.openai.com'], 'team-a');
  hosts.set('ip-only', ['10.0.0.1']);
  hosts.set('lonely', []);
});
test.after.always(async (t) => t.context.sds.close());

/** The SANs of the leaf in a response, and checks that the chain and key belong together. */
function leafOf(res: DiscoveryResponse__Output): { cert: X509Certificate; ca: X509Certificate; keyPem: string } {
  const [secret, ...rest] = secretsOf(res);
  if (secret === undefined || rest.length > 0) throw new Error('expected exactly one secret');
  const pems = secret.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
  if (pems.length !== 2) throw new Error(`chain has ${pems.length} certificates, expected leaf + CA`);
  const cert = new X509Certificate(pems[0] ?? '');
  const ca = new X509Certificate(pems[1] ?? '');
  const publicOfKey = createPublicKey(createPrivateKey(secret.keyPem)).export({ format: 'der', type: 'spki' });
  if (!publicOfKey.equals(cert.publicKey.export({ format: 'der', type: 'spki' }))) throw new Error('key does not match the leaf');
  return { cert, ca, keyPem: secret.keyPem };
}

const REFUSED: readonly [string, Parameters<typeof sdsRequest>[0], grpc.status, RegExp][] = [
  ['no node', { names: ['pai-leaf'] }, grpc.status.INVALID_ARGUMENT, /no_identity: the first request .* carries no node/],
  ['node without pai.agent', { node: true }, grpc.status.INVALID_ARGUMENT, /no_identity: node.metadata has no "pai.agent"/],
  ['agent name not a DNS label', { agent: 'Triage_Bot' }, grpc.status.INVALID_ARGUMENT, /"pai.agent" is not a valid name/],
  ['namespace not a DNS label', { agent: 'triage-bot', namespace: 'a/b' }, grpc.status.INVALID_ARGUMENT, /"pai.namespace"/],
  ['unknown agent', { agent: 'nobody' }, grpc.status.PERMISSION_DENIED, /unknown_agent: unknown agent default\/nobody/],
  [
    'known name, other namespace',
    { agent: 'triage-bot', namespace: 'team-b' },
    grpc.status.PERMISSION_DENIED,
    /team-b\/triage-bot/,
  ],
  [
    'unknown resource',
    { agent: 'triage-bot', names: ['pai-leaf', 'pai-ca'] },
    grpc.status.NOT_FOUND,
    /"pai-ca".*serves pai-leaf/,
  ],
  [
    'wrong type',
    { agent: 'triage-bot', typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' },
    grpc.status.INVALID_ARGUMENT,
    /type_url/,
  ],
  ['only IP hosts', { agent: 'ip-only' }, grpc.status.FAILED_PRECONDITION, /no host that can be certified/],
  ['no hosts at all', { agent: 'lonely' }, grpc.status.FAILED_PRECONDITION, /no host that can be certified/],
];

for (const [title, req, code, details] of REFUSED) {
  test(`StreamSecrets refuses: ${title}`, async (t) => {
    const stream = new SdsStreamClient(t.context.sds.client);
    stream.send(sdsRequest(req));
    const status = await stream.status;
    t.is(status.code, code);
    t.regex(status.details, details);
    t.is(stream.pending(), 0, 'no certificate was sent');
  });

  test(`FetchSecrets refuses: ${title}`, async (t) => {
    const err = await t.throwsAsync<grpc.ServiceError>(fetchSecrets(t.context.sds.client, sdsRequest(req)));
    t.is(err?.code, code);
  });
}

test('a stream never switches agent', async (t) => {
  const stream = new SdsStreamClient(t.context.sds.client);
  stream.send(sdsRequest({ agent: 'triage-bot' }));
  const first = await stream.next();
  stream.send(sdsRequest({ agent: 'other', nonce: first.nonce ?? '', version: first.version_info ?? '' }));
  const status = await stream.status;
  t.is(status.code, grpc.status.INVALID_ARGUMENT);
  t.regex(status.details, /never switches agent/);
});

test('DeltaSecrets answers UNIMPLEMENTED', async (t) => {
  const call = t.context.sds.client.DeltaSecrets();
  call.on('error', () => undefined);
  const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  t.is(status.code, grpc.status.UNIMPLEMENTED);
  t.regex(status.details, /api_type GRPC/);
});

test('initial request: one pai-leaf tls_certificate, chain leaf + CA, SANs exactly the hosts, version and nonce set', async (t) => {
  const stream = new SdsStreamClient(t.context.sds.client);
  stream.send(sdsRequest({ agent: 'triage-bot' }));
  const res = await stream.next();
  t.is(res.type_url, SECRET_TYPE_URL);
  t.is(res.nonce, '1');
  t.is(res.control_plane?.identifier, 'pai-injector');
  const { cert, ca } = leafOf(res);
  t.is(res.version_info, `${/pai CA ([0-9a-f]{8})/.exec(ca.subject)?.[1]}.${cert.serialNumber.toLowerCase()}`);
  t.deepEqual(
    secretsOf(res).map((s) => s.name),
    ['pai-leaf'],
  );
  t.is(cert.subjectAltName, 'DNS:api.github.com, DNS:github.com, DNS:uploads.github.com');
  t.true(cert.checkIssued(ca));
  t.is(ca.raw.toString('base64'), new X509Certificate((await t.context.sds.authority.trusted())[0] ?? '').raw.toString('base64'));
  stream.close();
  t.is((await stream.status).code, grpc.status.OK);
});

test('namespaces are separate agents: team-a/triage-bot gets its own hosts', async (t) => {
  const stream = new SdsStreamClient(t.context.sds.client);
  stream.send(sdsRequest({ agent: 'triage-bot', namespace: 'team-a' }));
  t.is(leafOf(await stream.next()).cert.subjectAltName, 'DNS:api.openai.com');
  stream.close();
});

test('resource names: the empty (wildcard) list and duplicates both mean pai-leaf once', async (t) => {
  for (const names of [[], ['pai-leaf', 'pai-leaf']]) {
    const stream = new SdsStreamClient(t.context.sds.client);
    stream.send(sdsRequest({ agent: 'triage-bot', names }));
    t.deepEqual(
      secretsOf(await stream.next()).map((s) => s.name),
      ['pai-leaf'],
    );
    stream.close();
  }
});

test('ACK sends nothing; a binding change pushes a new leaf; a change that certifies the same names pushes nothing', async (t) => {
  const { client, hosts } = t.context.sds;
  hosts.set('acker', ['a.example.com']);
  const stream = new SdsStreamClient(client);
  stream.send(sdsRequest({ agent: 'acker' }));
  const first = await stream.next();
  stream.send(sdsRequest({ nonce: first.nonce ?? '', version: first.version_info ?? '' })); // ACK (no node: as Envoy)
  await t.context.sds.waitForLog(/"agent":"default\/acker".*"msg":"sds: ACK"/);
  const read = hosts.nextRead();
  hosts.set('acker', ['a.example.com', '10.9.9.9']); // the IP is never certified: same names, no push
  await read;
  hosts.set('acker', ['a.example.com', '*.b.example.com']);
  const second = await stream.next();
  t.is(second.nonce, '2', 'nothing was sent for the ACK nor for the unchanged names');
  t.not(second.version_info, first.version_info);
  t.is(leafOf(second).cert.subjectAltName, 'DNS:*.b.example.com, DNS:a.example.com');
  stream.close();
});

test('NACK: nothing is re-sent, the code and message are logged, the next change is still pushed', async (t) => {
  const { client, hosts, logs } = t.context.sds;
  hosts.set('nacker', ['n.example.com']);
  const stream = new SdsStreamClient(client);
  stream.send(sdsRequest({ agent: 'nacker' }));
  const first = await stream.next();
  stream.send(sdsRequest({ nonce: first.nonce ?? '', version: first.version_info ?? '' }));
  hosts.set('nacker', ['n.example.com', 'm.example.com']);
  const pushed = await stream.next();
  // Envoy's NACK: the last version it accepted, the nonce of the response it rejects, error_detail.
  stream.send(
    sdsRequest({
      nonce: pushed.nonce ?? '',
      version: first.version_info ?? '',
      error: { code: 13, message: 'Failed to load certificate chain' },
    }),
  );
  await t.context.sds.waitForLog(/"agent":"default\/nacker".*NACK/);
  hosts.set('nacker', ['n.example.com', 'm.example.com', 'o.example.com']);
  const after = await stream.next();
  t.is(after.nonce, '3', 'nothing was sent in answer to the NACK');
  t.is(leafOf(after).cert.subjectAltName, 'DNS:m.example.com, DNS:n.example.com, DNS:o.example.com');
  const nack = logs()
    .split('\n')
    .find((line) => line.includes('NACK') && line.includes('default/nacker'));
  t.truthy(nack);
  t.regex(nack ?? '', /"code":13/);
  t.regex(nack ?? '', /Failed to load certificate chain/);
  t.regex(nack ?? '', new RegExp(`"version":"${first.version_info}"`));
  stream.close();
});

test('a request with a superseded nonce is ignored (even one that would be refused)', async (t) => {
  const { client, hosts, waitForLog } = t.context.sds;
  hosts.set('stale', ['s.example.com']);
  const stream = new SdsStreamClient(client);
  stream.send(sdsRequest({ agent: 'stale', names: ['pai-leaf'] }));
  const first = await stream.next();
  hosts.set('stale', ['s.example.com', 't.example.com']);
  const second = await stream.next();
  // Answers the superseded response 1 and asks for a name that does not exist: processed, it would end the stream.
  stream.send(sdsRequest({ nonce: first.nonce ?? '', version: first.version_info ?? '', names: ['pai-ca'] }));
  stream.send(sdsRequest({ nonce: second.nonce ?? '', version: second.version_info ?? '', names: [] })); // ACK, same set
  await waitForLog(new RegExp(`"agent":"default/stale".*"nonce":"2".*"msg":"sds: ACK"`));
  hosts.set('stale', ['t.example.com']);
  const third = await stream.next();
  t.is(third.nonce, '3');
  stream.close();
  t.is((await stream.status).code, grpc.status.OK);
});

test('an agent deleted while its stream is open: the stream ends PERMISSION_DENIED', async (t) => {
  const { client, hosts } = t.context.sds;
  hosts.set('doomed', ['d.example.com']);
  const stream = new SdsStreamClient(client);
  stream.send(sdsRequest({ agent: 'doomed' }));
  await stream.next();
  hosts.delete('doomed');
  const status = await stream.status;
  t.is(status.code, grpc.status.PERMISSION_DENIED);
});

test('a CA rotation pushes a leaf of the new CA', async (t) => {
  const sds = await startSds();
  t.teardown(() => sds.close());
  sds.hosts.set('rot', ['r.example.com']);
  const stream = new SdsStreamClient(sds.client);
  stream.send(sdsRequest({ agent: 'rot' }));
  const before = leafOf(await stream.next());
  const { activeId } = await sds.authority.rotate();
  const after = await stream.next();
  t.true((after.version_info ?? '').startsWith(`${activeId}.`));
  t.regex(leafOf(after).ca.subject, new RegExp(`pai CA ${activeId}`));
  t.not(before.ca.fingerprint256, leafOf(after).ca.fingerprint256);
  stream.close();
});

test('renewal: a leaf is re-issued and pushed between 57 % and 2/3 of its lifetime, before it expires', async (t) => {
  const clock = new FakeClock(Date.now());
  const sds = await startSds({ clock, book: { lifetimeMs: 24 * HOUR } });
  t.teardown(() => sds.close());
  sds.hosts.set('renewer', ['r.example.com']);
  const start = clock.now();
  const stream = new SdsStreamClient(sds.client);
  stream.send(sdsRequest({ agent: 'renewer' }));
  const first = await stream.next();
  stream.send(sdsRequest({ nonce: first.nonce ?? '', version: first.version_info ?? '' }));
  const notAfter = new Date(leafOf(first).cert.validTo).getTime();
  const due = clock.nextTimer() ?? Infinity;
  t.true(due - start <= 16 * HOUR && due - start >= 13.6 * HOUR, `renewal after ${(due - start) / HOUR} h`);
  clock.advance(due - start);
  const renewed = await stream.next();
  t.is(renewed.nonce, '2');
  t.not(renewed.version_info, first.version_info);
  t.true(clock.now() < notAfter, 'pushed before the old leaf expired');
  t.true(new Date(leafOf(renewed).cert.validTo).getTime() > notAfter);
  stream.close();
});

test('a leaf lives only while watched: a stream opened after the last one closed gets a fresh leaf', async (t) => {
  const { client } = t.context.sds;
  const a = new SdsStreamClient(client);
  a.send(sdsRequest({ agent: 'triage-bot', namespace: 'team-a' }));
  const first = await a.next();
  a.close();
  await a.status;
  const b = new SdsStreamClient(client);
  b.send(sdsRequest({ agent: 'triage-bot', namespace: 'team-a' }));
  const second = await b.next();
  t.not(second.version_info, first.version_info);
  b.close();
});

test('two streams of one agent share its leaf', async (t) => {
  const { client } = t.context.sds;
  const a = new SdsStreamClient(client);
  const b = new SdsStreamClient(client);
  a.send(sdsRequest({ agent: 'triage-bot' }));
  const first = await a.next();
  b.send(sdsRequest({ agent: 'triage-bot' }));
  t.is((await b.next()).version_info, first.version_info);
  a.close();
  b.close();
});

test('FetchSecrets answers with the agent leaf (no nonce)', async (t) => {
  const res = await fetchSecrets(t.context.sds.client, sdsRequest({ agent: 'triage-bot' }));
  t.is(res.nonce ?? '', '');
  t.is(leafOf(res).cert.subjectAltName, 'DNS:api.github.com, DNS:github.com, DNS:uploads.github.com');
});

test("the service is Envoy's: the definition carries the three methods of sds.proto", (t) => {
  const service = loadSdsService().envoy.service.secret.v3.SecretDiscoveryService.service;
  t.deepEqual(
    Object.values(service)
      .map((m) => m.path)
      .sort(),
    [
      '/envoy.service.secret.v3.SecretDiscoveryService/DeltaSecrets',
      '/envoy.service.secret.v3.SecretDiscoveryService/FetchSecrets',
      '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets',
    ],
  );
});
