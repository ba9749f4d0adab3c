/**
 * Shared-injector mode end to end (issue 15 item 3): a real `pai serve --role injector` child on
 * 127.0.0.1 with mTLS (PAI_INJECTOR_IDENTITY left at its default), agents bot-a and bot-b applied
 * through a separate admin process on the same data dir, each with its own Provider and a canary
 * credential. Clients speak Envoy's own protos (ext_authz Check, ext_proc Process, SDS) with SPIFFE
 * client certificates made by openssl: the certificate decides the agent; a `pai.agent` that
 * disagrees is denied and gets no credential; no client certificate, or one of another CA, is
 * refused at the TLS handshake.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { loadEnvoyServices } from '../src/injector/protos.js';
import { loadSdsService } from '../src/injector/sds-protos.js';
import type { AuthorizationClient } from '../src/generated/envoy/service/auth/v3/Authorization.js';
import type { CheckResponse__Output } from '../src/generated/envoy/service/auth/v3/CheckResponse.js';
import type { ExternalProcessorClient } from '../src/generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { SecretDiscoveryServiceClient } from '../src/generated/envoy/service/secret/v3/SecretDiscoveryService.js';
import { findCanary, makeCanary } from './helpers/canary.js';
import { processHeaders } from './helpers/ext-proc-filter.js';
import { assertImmediateDenial } from './helpers/ext-proc-suite.js';
import { Admin, check, checkRequest, denialBody, resource } from './helpers/injector.js';
import { type ServeHandle, adminToken, startServe, tempDir, waitForStderr } from './helpers/process.js';
import { SdsStreamClient, fetchSecrets, sdsRequest, secretsOf } from './helpers/sds.js';
import { type TestPki, issueClientCert, makeTestPki } from './helpers/tls-certs.js';

interface KeyPair {
  readonly cert: string;
  readonly key: string;
}
interface Context {
  pki: TestPki;
  injector: ServeHandle;
  address: string;
  values: { a: string; b: string };
  certs: Record<'a' | 'b' | 'nsA' | 'foreign' | 'otherCa' | 'noSan', KeyPair>;
  closers: (() => Promise<unknown> | void)[];
}
const test = anyTest as TestFn<Context>;

const HOST_A = 'api.a.example.test';
const HOST_B = 'api.b.example.test';

test.before(async (t) => {
  const pki = makeTestPki(tempDir('pai-shared-e2e-pki-'));
  const certs = {
    a: issueClientCert(pki, 'bot-a', ['spiffe://pai/agent/bot-a']),
    b: issueClientCert(pki, 'bot-b', ['spiffe://pai/agent/bot-b']),
    nsA: issueClientCert(pki, 'ns-bot-a', ['spiffe://pai/ns/default/agent/bot-a']),
    foreign: issueClientCert(pki, 'foreign-a', ['spiffe://elsewhere.org/agent/bot-a']),
    otherCa: issueClientCert(pki, 'other-ca-a', ['spiffe://pai/agent/bot-a'], 'other-ca'),
    noSan: { cert: pki.clientCert, key: pki.clientKey },
  };
  const closers: (() => Promise<unknown> | void)[] = [];
  const admin = await startServe({ args: ['--role', 'admin'] });
  closers.push(() => admin.stop());
  const injector = await startServe({
    dataDir: admin.dataDir,
    args: ['--role', 'injector'],
    env: {
      PAI_INJECTOR_LISTEN: '127.0.0.1:0',
      PAI_INJECTOR_TLS_CERT: pki.serverCert,
      PAI_INJECTOR_TLS_KEY: pki.serverKey,
      PAI_INJECTOR_TLS_CLIENT_CA: pki.caCert,
    },
  });
  closers.push(() => injector.stop());
  const api = new Admin(admin.adminUrl, adminToken(admin.dataDir));
  const values = { a: makeCanary('shared-a'), b: makeCanary('shared-b') };
  await api.createSecret('a-token', { token: values.a });
  await api.createSecret('b-token', { token: values.b });
  await api.apply(
    resource('Provider', 'api-a', { type: 'http', hosts: [HOST_A], auth: { secretRef: 'a-token' } }),
    resource('Provider', 'api-b', { type: 'http', hosts: [HOST_B], auth: { secretRef: 'b-token' } }),
    resource('Agent', 'bot-a', { providers: ['api-a'], egress: 'deny' }),
    resource('Agent', 'bot-b', { providers: ['api-b'], egress: 'deny' }),
  );
  t.context = { pki, injector, address: injector.injectorAddress(), values, certs, closers };
});

test.after.always(async (t) => {
  for (const close of (t.context.closers ?? []).reverse()) await close();
});

function credentials(t: ExecutionContext<Context>, pair: KeyPair | undefined): grpc.ChannelCredentials {
  const ca = fs.readFileSync(t.context.pki.caCert);
  if (pair === undefined) return grpc.credentials.createSsl(ca);
  return grpc.credentials.createSsl(ca, fs.readFileSync(pair.key), fs.readFileSync(pair.cert));
}

/** The server certificate names 127.0.0.1 and localhost; SNI takes names only. */
const CHANNEL = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' } as const;

function authClient(t: ExecutionContext<Context>, pair: KeyPair | undefined): AuthorizationClient {
  const { auth } = loadEnvoyServices();
  const client = new auth.envoy.service.auth.v3.Authorization(t.context.address, credentials(t, pair), CHANNEL);
  t.context.closers.push(() => client.close());
  return client;
}

function extProcClient(t: ExecutionContext<Context>, pair: KeyPair): ExternalProcessorClient {
  const { extProc } = loadEnvoyServices();
  const client = new extProc.envoy.service.ext_proc.v3.ExternalProcessor(t.context.address, credentials(t, pair), CHANNEL);
  t.context.closers.push(() => client.close());
  return client;
}

function sdsClient(t: ExecutionContext<Context>, pair: KeyPair): SecretDiscoveryServiceClient {
  const { SecretDiscoveryService } = loadSdsService().envoy.service.secret.v3;
  const client = new SecretDiscoveryService(t.context.address, credentials(t, pair), CHANNEL);
  t.context.closers.push(() => client.close());
  return client;
}

/** The Authorization header an allowed Check sets, if any. */
function injected(res: CheckResponse__Output): string | undefined {
  return res.ok_response?.headers?.find((h) => h.header?.key === 'authorization')?.header?.value ?? undefined;
}

/** Neither credential (but `allowed`) appears in `res` nor in the injector's logs. */
function assertNoValues(t: ExecutionContext<Context>, res: unknown, allowed?: string): void {
  const text = `${JSON.stringify(res)}\n${t.context.injector.stdout()}\n${t.context.injector.stderr()}`;
  for (const value of [t.context.values.a, t.context.values.b]) {
    if (value !== allowed) t.deepEqual(findCanary(text, value), [], 'no credential of the other agent');
  }
}

// ---------------------------------------------------------------------------------------------
// Refused at the TLS handshake.

/**
 * No certificate: OpenSSL refuses it inside the handshake (TLS 1.3 alert "certificate required").
 * A certificate of another CA: Node verifies the client's chain once OpenSSL finishes and destroys
 * the socket without a byte of HTTP/2 (no alert); under TLS 1.2 the client never completes its
 * handshake, under TLS 1.3 its own half completes first and the connection then just ends.
 */
const HANDSHAKE_REFUSALS: readonly { name: string; pair: (c: Context['certs']) => KeyPair | undefined; alert?: RegExp }[] = [
  { name: 'no client certificate', pair: () => undefined, alert: /certificate required|handshake failure/i },
  { name: 'a certificate of another CA', pair: (c) => c.otherCa },
];

interface TlsOutcome {
  readonly secure: boolean;
  readonly data: boolean;
  readonly error: string | undefined;
}

/** Connects with node:tls as an HTTP/2 client would, and reports how the server ended it. */
function tlsAttempt(
  t: ExecutionContext<Context>,
  pair: KeyPair | undefined,
  maxVersion: 'TLSv1.2' | 'TLSv1.3',
): Promise<TlsOutcome> {
  const [host, port] = t.context.address.split(':');
  return new Promise((resolve) => {
    let secure = false;
    let data = false;
    let error: string | undefined;
    const socket = tls.connect({
      host,
      port: Number(port),
      servername: 'localhost',
      ca: fs.readFileSync(t.context.pki.caCert),
      ALPNProtocols: ['h2'],
      maxVersion,
      ...(pair ? { cert: fs.readFileSync(pair.cert), key: fs.readFileSync(pair.key) } : {}),
    });
    socket.on('secureConnect', () => (secure = true));
    socket.on('data', () => {
      data = true;
      socket.destroy();
    });
    socket.on('error', (err) => (error = err.message));
    socket.on('close', () => resolve({ secure, data, error }));
  });
}

for (const row of HANDSHAKE_REFUSALS) {
  test(`handshake: ${row.name} → refused before any HTTP/2 byte (TLS 1.2 and 1.3)`, async (t) => {
    const pair = row.pair(t.context.certs);
    const v12 = await tlsAttempt(t, pair, 'TLSv1.2');
    t.false(v12.secure, 'TLS 1.2: the handshake never completes');
    t.false(v12.data);
    t.not(v12.error, undefined);
    const v13 = await tlsAttempt(t, pair, 'TLSv1.3');
    t.false(v13.data, 'TLS 1.3: not one byte of HTTP/2 (no SETTINGS frame)');
    if (row.alert) t.regex(v13.error ?? '', row.alert);
  });

  test(`handshake: ${row.name} → a grpc Check fails UNAVAILABLE, never answered`, async (t) => {
    const client = authClient(t, row.pair(t.context.certs));
    const err = await t.throwsAsync(check(client, checkRequest({ authority: HOST_A, agent: 'bot-a' })));
    t.is((err as grpc.ServiceError | undefined)?.code, grpc.status.UNAVAILABLE);
  });
}

test("handshake: A's certificate (the control) → the handshake completes and the server speaks HTTP/2", async (t) => {
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const outcome = await tlsAttempt(t, t.context.certs.a, version);
    t.true(outcome.secure, version);
    t.true(outcome.data, `${version}: the server's SETTINGS frame arrives`);
  }
});

// ---------------------------------------------------------------------------------------------
// ext_authz Check over mTLS: denials first.

interface CheckRow {
  readonly name: string;
  readonly cert: keyof Context['certs'];
  readonly authority: string;
  readonly extensions: Readonly<Record<string, string>>;
  /** The denial code, or the agent whose credential is injected. */
  readonly want: { code: string } | { credential: 'a' | 'b' };
}

const CHECKS: readonly CheckRow[] = [
  {
    name: "A's certificate, pai.agent bot-b",
    cert: 'a',
    authority: HOST_B,
    extensions: { 'pai.agent': 'bot-b' },
    want: { code: 'identity_mismatch' },
  },
  {
    name: "A's certificate, pai.agent bot-b, A's host",
    cert: 'a',
    authority: HOST_A,
    extensions: { 'pai.agent': 'bot-b' },
    want: { code: 'identity_mismatch' },
  },
  {
    name: "A's certificate, pai.namespace team",
    cert: 'a',
    authority: HOST_A,
    extensions: { 'pai.agent': 'bot-a', 'pai.namespace': 'team' },
    want: { code: 'identity_mismatch' },
  },
  {
    name: "A's certificate, B's host, nothing named",
    cert: 'a',
    authority: HOST_B,
    extensions: {},
    want: { code: 'egress_denied' },
  },
  {
    name: "B's certificate, pai.agent bot-a",
    cert: 'b',
    authority: HOST_A,
    extensions: { 'pai.agent': 'bot-a' },
    want: { code: 'identity_mismatch' },
  },
  {
    name: 'a certificate without SPIFFE ID',
    cert: 'noSan',
    authority: HOST_A,
    extensions: { 'pai.agent': 'bot-a' },
    want: { code: 'no_identity' },
  },
  {
    name: 'a SPIFFE ID of another trust domain',
    cert: 'foreign',
    authority: HOST_A,
    extensions: { 'pai.agent': 'bot-a' },
    want: { code: 'no_identity' },
  },
  {
    name: "A's certificate, gateway mode",
    cert: 'a',
    authority: HOST_A,
    extensions: { 'pai.agent': 'bot-a', 'pai.mode': 'gateway' },
    want: { code: 'no_identity' },
  },
  {
    name: "A's certificate, pai.agent bot-a",
    cert: 'a',
    authority: HOST_A,
    extensions: { 'pai.agent': 'bot-a' },
    want: { credential: 'a' },
  },
  { name: "A's certificate, nothing named", cert: 'a', authority: HOST_A, extensions: {}, want: { credential: 'a' } },
  {
    name: "A's namespaced certificate, pai.namespace default",
    cert: 'nsA',
    authority: HOST_A,
    extensions: { 'pai.agent': 'bot-a', 'pai.namespace': 'default' },
    want: { credential: 'a' },
  },
  {
    name: "B's certificate, pai.agent bot-b",
    cert: 'b',
    authority: HOST_B,
    extensions: { 'pai.agent': 'bot-b' },
    want: { credential: 'b' },
  },
];

for (const row of CHECKS) {
  const label = 'code' in row.want ? `403 ${row.want.code}` : `${row.want.credential}'s credential`;
  test(`Check over mTLS: ${row.name} → ${label}`, async (t) => {
    const client = authClient(t, t.context.certs[row.cert]);
    const res = await check(client, checkRequest({ authority: row.authority, contextExtensions: row.extensions }));
    if ('code' in row.want) {
      t.is(res.denied_response?.status?.code, 'Forbidden');
      t.is(denialBody(res)?.error.code, row.want.code);
      t.is(injected(res), undefined);
      assertNoValues(t, res);
    } else {
      const value = t.context.values[row.want.credential];
      t.is(res.status?.code, 0);
      t.is(injected(res), `Bearer ${value}`);
      assertNoValues(t, res, value);
    }
  });
}

test('Check over mTLS: the mismatch denial names both agents, and the log records it without values', async (t) => {
  const client = authClient(t, t.context.certs.a);
  const res = await check(client, checkRequest({ authority: HOST_B, agent: 'bot-b' }));
  t.regex(
    denialBody(res)?.error.message ?? '',
    /pai\.agent "bot-b" disagrees with the client certificate, which is agent "bot-a"/,
  );
  // The child writes its log line around the answer, not before it: wait for it to arrive.
  const log = await waitForStderr(t.context.injector, /identity_mismatch/, 10_000);
  t.regex(log, /"injectorIdentity":"peer-certificate"/);
  assertNoValues(t, res);
});

// ---------------------------------------------------------------------------------------------
// ext_proc Process and SDS over the same listener.

test("Process over mTLS: A's certificate with route metadata naming bot-b → ImmediateResponse 403, no credential", async (t) => {
  const res = await processHeaders(extProcClient(t, t.context.certs.a), { authority: HOST_B, scheme: 'https', agent: 'bot-b' });
  assertImmediateDenial(t, res, { http: 'Forbidden', code: 'identity_mismatch' });
  assertNoValues(t, res);
});

test("Process over mTLS: A's certificate, route naming bot-a (and naming nothing) → A's credential", async (t) => {
  for (const agent of ['bot-a', undefined]) {
    const res = await processHeaders(extProcClient(t, t.context.certs.a), { authority: HOST_A, scheme: 'https', agent });
    t.is(res.response, 'request_headers');
    const set = res.request_headers?.response?.header_mutation?.set_headers ?? [];
    const auth = set.find((h) => h.header?.key === 'authorization');
    t.is(Buffer.from(auth?.header?.raw_value ?? Buffer.alloc(0)).toString('latin1'), `Bearer ${t.context.values.a}`);
    assertNoValues(t, res, t.context.values.a);
  }
});

test("SDS over mTLS: A's certificate gets bot-a's leaf; node metadata naming bot-b ends the stream with no certificate", async (t) => {
  const client = sdsClient(t, t.context.certs.a);
  const denied = new SdsStreamClient(client);
  denied.send(sdsRequest({ agent: 'bot-b' }));
  const status = await denied.status;
  t.is(status.code, grpc.status.PERMISSION_DENIED);
  t.regex(status.details, /identity_mismatch/);
  t.is(denied.pending(), 0, 'no certificate was sent');
  await t.throwsAsync(fetchSecrets(client, sdsRequest({ agent: 'bot-b' })), { message: /identity_mismatch/ });

  // A stream that started as bot-a and later names bot-b in its node metadata is ended too.
  const switching = new SdsStreamClient(client);
  switching.send(sdsRequest({ agent: 'bot-a' }));
  const first = await switching.next();
  switching.send(sdsRequest({ agent: 'bot-b', nonce: first.nonce ?? '', version: first.version_info ?? '' }));
  const switched = await switching.status;
  t.is(switched.code, grpc.status.PERMISSION_DENIED);
  t.regex(switched.details, /identity_mismatch/);

  const ok = await fetchSecrets(client, sdsRequest({ agent: 'bot-a' }));
  const [leaf] = secretsOf(ok);
  const cert = new (await import('node:crypto')).X509Certificate(leaf?.chainPem ?? '');
  t.regex(cert.subjectAltName ?? '', new RegExp(HOST_A.replace(/\./g, '\\.')));
  t.notRegex(cert.subjectAltName ?? '', /api\.b\.example\.test/);
});
