/**
 * Shared-injector mode, pure parts (src/injector/peer-identity.ts, src/config.ts): the table of
 * `peerAgent` (the client certificate's SPIFFE ID against what the request names), the URI SANs
 * read from real certificates (openssl-made, so the parser is checked against another encoder),
 * the certificate cache, and PAI_INJECTOR_IDENTITY's defaults and refusals. The end-to-end half,
 * over mTLS against a running `pai serve`, is test/shared-injector-e2e.test.ts.
 */
import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import test from 'ava';
import { ConfigError, type InjectorIdentity, loadConfig } from '../src/config.js';
import { PaiError } from '../src/errors.js';
import type { NamedAgent } from '../src/injector/identity.js';
import { PeerIdentity, peerAgent, uriSansOf } from '../src/injector/peer-identity.js';
import { tempDir } from './helpers/process.js';
import { type TestPki, issueClientCert, makeTestPki } from './helpers/tls-certs.js';

const TD = 'pai';
const NONE: NamedAgent = { agent: undefined, namespace: undefined };
const named = (agent: string | null | undefined, namespace?: string | null): NamedAgent => ({ agent, namespace });

interface Row {
  readonly name: string;
  readonly uris: readonly string[] | undefined;
  readonly named?: NamedAgent;
  /** The agent `namespace/name`, or the error code. */
  readonly want: string;
}

const ROWS: readonly Row[] = [
  // Denied: no usable certificate identity.
  { name: 'no client certificate', uris: undefined, want: 'no_identity' },
  { name: 'a certificate without URI SANs', uris: [], want: 'no_identity' },
  { name: 'two SPIFFE IDs', uris: ['spiffe://pai/agent/a', 'spiffe://pai/agent/b'], want: 'no_identity' },
  { name: 'another trust domain', uris: ['spiffe://other.org/agent/a'], want: 'no_identity' },
  { name: 'a look-alike trust domain', uris: ['spiffe://pai.evil/agent/a'], want: 'no_identity' },
  { name: 'the trust domain in upper case', uris: ['spiffe://PAI/agent/a'], want: 'no_identity' },
  { name: 'not spiffe://', uris: ['https://pai/agent/a'], want: 'no_identity' },
  { name: 'a workload that is no agent', uris: ['spiffe://pai/ns/team/sa/a'], want: 'no_identity' },
  { name: 'an empty agent name', uris: ['spiffe://pai/agent/'], want: 'no_identity' },
  { name: 'an agent name that is no DNS label', uris: ['spiffe://pai/agent/Bot_A'], want: 'no_identity' },
  { name: 'a trailing segment', uris: ['spiffe://pai/ns/team/agent/a/x'], want: 'no_identity' },
  { name: 'an empty namespace', uris: ['spiffe://pai/ns//agent/a'], want: 'no_identity' },
  { name: 'a query string', uris: ['spiffe://pai/agent/a?x=1'], want: 'no_identity' },
  // Denied: the request names another agent than the certificate.
  { name: 'pai.agent names another agent', uris: ['spiffe://pai/agent/a'], named: named('b'), want: 'identity_mismatch' },
  {
    name: 'pai.namespace names another namespace',
    uris: ['spiffe://pai/ns/team/agent/a'],
    named: named('a', 'other'),
    want: 'identity_mismatch',
  },
  {
    name: 'pai.namespace alone names another namespace',
    uris: ['spiffe://pai/ns/team/agent/a'],
    named: named(undefined, 'default'),
    want: 'identity_mismatch',
  },
  {
    name: 'a default-namespace certificate, pai.namespace team',
    uris: ['spiffe://pai/agent/a'],
    named: named('a', 'team'),
    want: 'identity_mismatch',
  },
  { name: 'an unreadable route agent', uris: ['spiffe://pai/agent/a'], named: named(null), want: 'identity_mismatch' },
  { name: 'an unreadable route namespace', uris: ['spiffe://pai/agent/a'], named: named('a', null), want: 'identity_mismatch' },
  { name: 'pai.agent differs in case only', uris: ['spiffe://pai/agent/a'], named: named('A'), want: 'identity_mismatch' },
  // The certificate's agent.
  { name: 'nothing named', uris: ['spiffe://pai/agent/a'], want: 'default/a' },
  { name: 'empty strings named', uris: ['spiffe://pai/agent/a'], named: named('', ''), want: 'default/a' },
  { name: 'the same agent named', uris: ['spiffe://pai/agent/a'], named: named('a'), want: 'default/a' },
  { name: 'default named explicitly', uris: ['spiffe://pai/agent/a'], named: named('a', 'default'), want: 'default/a' },
  { name: 'a namespaced certificate', uris: ['spiffe://pai/ns/team/agent/a'], want: 'team/a' },
  {
    name: 'a namespaced certificate, same names',
    uris: ['spiffe://pai/ns/team/agent/a'],
    named: named('a', 'team'),
    want: 'team/a',
  },
];

for (const row of ROWS) {
  test(`peerAgent: ${row.name} → ${row.want}`, (t) => {
    const got = peerAgent(row.uris, TD, row.named ?? NONE);
    t.is(got instanceof PaiError ? got.code : `${got.namespace}/${got.name}`, row.want);
    if (got instanceof PaiError) t.is(got.status, 403);
  });
}

test('peerAgent: the mismatch message names both sides, the certificate ID is quoted and bounded', (t) => {
  const mismatch = peerAgent(['spiffe://pai/agent/a'], TD, named('b'));
  t.true(mismatch instanceof PaiError);
  t.regex((mismatch as PaiError).message, /pai\.agent "b" disagrees with the client certificate, which is agent "a"/);
  const long = peerAgent([`spiffe://other/${'x'.repeat(5000)}`], TD, NONE);
  t.true((long as PaiError).message.length < 600);
});

test('peerAgent: another configured trust domain', (t) => {
  t.deepEqual(peerAgent(['spiffe://example.org/agent/a'], 'example.org', NONE), { namespace: 'default', name: 'a' });
  t.is((peerAgent(['spiffe://pai/agent/a'], 'example.org', NONE) as PaiError).code, 'no_identity');
});

let pki: TestPki | undefined;
function testPki(): TestPki {
  pki ??= makeTestPki(tempDir('pai-shared-unit-'));
  return pki;
}

/** A grpc-js call stand-in whose auth context holds the certificate at `file` (as Node's TLS socket reports it). */
function callWith(file: string | undefined): { getAuthContext(): { sslPeerCertificate?: PeerCertificate } } {
  if (file === undefined) return { getAuthContext: () => ({}) };
  const x = new X509Certificate(fs.readFileSync(file));
  const cert = { raw: x.raw, fingerprint256: x.fingerprint256 } as PeerCertificate;
  return { getAuthContext: () => ({ sslPeerCertificate: cert }) };
}

test('uriSansOf reads the URI SANs openssl wrote, in order, and nothing else', (t) => {
  const p = testPki();
  const two = issueClientCert(p, 'two-uris', ['spiffe://pai/agent/a', 'spiffe://pai/agent/b']);
  const der = new X509Certificate(fs.readFileSync(two.cert)).raw;
  t.deepEqual(uriSansOf(der), ['spiffe://pai/agent/a', 'spiffe://pai/agent/b']);
  // The server certificate has IP and DNS SANs only.
  t.deepEqual(uriSansOf(new X509Certificate(fs.readFileSync(p.serverCert)).raw), []);
  t.deepEqual(uriSansOf(new X509Certificate(fs.readFileSync(p.clientCert)).raw), []);
});

test('PeerIdentity: the agent of the certificate, denials for none, for a SAN-less one, and for a mismatch', (t) => {
  const p = testPki();
  const peer = new PeerIdentity(TD);
  const a = issueClientCert(p, 'unit-a', ['spiffe://pai/ns/team/agent/bot-a']);
  t.deepEqual(peer.agentOf(callWith(a.cert), NONE), { namespace: 'team', name: 'bot-a' });
  // Second time from the cache: same answer.
  t.deepEqual(peer.agentOf(callWith(a.cert), named('bot-a', 'team')), { namespace: 'team', name: 'bot-a' });
  t.is((peer.agentOf(callWith(a.cert), named('bot-b', 'team')) as PaiError).code, 'identity_mismatch');
  t.is((peer.agentOf(callWith(undefined), named('bot-a', 'team')) as PaiError).code, 'no_identity');
  t.is((peer.agentOf(callWith(p.clientCert), named('bot-a')) as PaiError).code, 'no_identity');
  t.is(peer.urisOf({ getAuthContext: () => null }), undefined);
});

// PAI_INJECTOR_IDENTITY.
const BASE = { HOME: '/nonexistent-home', PAI_DATA_DIR: '/nonexistent-home/.pai' } as const;
const MTLS = {
  PAI_INJECTOR_LISTEN: '127.0.0.1:9001',
  PAI_INJECTOR_TLS_CERT: '/x/server.pem',
  PAI_INJECTOR_TLS_KEY: '/x/server.key',
  PAI_INJECTOR_TLS_CLIENT_CA: '/x/ca.pem',
} as const;

const REFUSED: readonly [string, Record<string, string>, RegExp][] = [
  ['peer-certificate on the unix socket', { PAI_INJECTOR_IDENTITY: 'peer-certificate' }, /needs the injector on TCP with mTLS/],
  [
    'peer-certificate on benchmark plain TCP',
    {
      PAI_INJECTOR_IDENTITY: 'peer-certificate',
      PAI_INJECTOR_LISTEN: '127.0.0.1:9001',
      PAI_INJECTOR_INSECURE_LOOPBACK_TCP_FOR_BENCHMARKS_ONLY: '1',
    },
    /needs the injector on TCP with mTLS/,
  ],
  ['an unknown mode', { ...MTLS, PAI_INJECTOR_IDENTITY: 'header' }, /expected one of route, peer-certificate/],
];
for (const [name, env, message] of REFUSED) {
  test(`PAI_INJECTOR_IDENTITY refused: ${name}`, (t) => {
    const err = t.throws(() => loadConfig({ ...BASE, ...env }), { instanceOf: ConfigError });
    t.is(err?.variable, 'PAI_INJECTOR_IDENTITY');
    t.regex(err?.message ?? '', message);
  });
}

const DEFAULTS: readonly [string, Record<string, string>, InjectorIdentity][] = [
  ['the unix socket', {}, 'route'],
  ['mTLS on TCP (shared mode is the default)', MTLS, 'peer-certificate'],
  ['mTLS on TCP, route chosen explicitly', { ...MTLS, PAI_INJECTOR_IDENTITY: 'route' }, 'route'],
  ['mTLS on TCP, peer-certificate explicitly', { ...MTLS, PAI_INJECTOR_IDENTITY: 'peer-certificate' }, 'peer-certificate'],
];
for (const [name, env, want] of DEFAULTS) {
  test(`PAI_INJECTOR_IDENTITY for ${name} is ${want}`, (t) => {
    t.is(loadConfig({ ...BASE, ...env }).injectorIdentity, want);
  });
}
