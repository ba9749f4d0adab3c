/**
 * The pai CA and its leaves, without a network: SAN rules (table-driven, failures first), the
 * CA's and leaves' extensions as a TLS client reads them (node:crypto's X509Certificate, and
 * OpenSSL's text dump for the name constraints), rotation states, the stored-state codec and the
 * CA authority's compare-and-set creation.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { inspect } from 'node:util';
import test from 'ava';
import { isPaiError } from '../src/errors.js';
import { CaAuthority } from '../src/tls/authority.js';
import { createCa, openSigningCa } from '../src/tls/ca.js';
import {
  type StoredCa,
  activeEntry,
  caBundle,
  decodeStoredCa,
  encodeStoredCa,
  initialCa,
  prepareCa,
  rotateCa,
  trustedCaPems,
} from '../src/tls/ca-state.js';
import { issueLeaf } from '../src/tls/leaf.js';
import { MemoryCaMaterialStore } from '../src/tls/memory-ca-store.js';
import { planSans, sanCovers, sanProblem } from '../src/tls/sans.js';
import { SecretPem } from '../src/tls/secret-pem.js';

const NOW = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;
const AGENT = { namespace: 'default', name: 'triage-bot' };

const REFUSED: readonly [string, string][] = [
  ['', 'empty'],
  ['*', '"*"'],
  ['*.com', 'two labels'],
  ['a*.x.com', '"*"'],
  ['x.*.com', '"*"'],
  ['*.*.x.com', '"*"'],
  ['**.x.com', '"*"'],
  ['API.github.com', 'lower-case'],
  ['api.github.com.', 'ends with'],
  ['a..b.com', 'empty label'],
  ['.x.com', 'empty label'],
  ['a_b.x.com', 'DNS name'],
  ['-a.x.com', 'DNS name'],
  ['a-.x.com', 'DNS name'],
  [`${'a'.repeat(64)}.x.com`, 'DNS name'],
  [`${'a.'.repeat(127)}com`, 'longer than'],
  ['10.20.30.40', 'IP address'],
  ['*.0.1', 'IP address'],
  ['[::1]', 'DNS name'],
  ['host:443', 'DNS name'],
  ['a b.com', 'DNS name'],
  ['é.example.com', 'DNS name'],
];

for (const [pattern, reason] of REFUSED) {
  test(`SAN refused: ${JSON.stringify(pattern.slice(0, 40))}`, (t) => {
    t.true(sanProblem(pattern)?.includes(reason) ?? false, `${pattern}: ${sanProblem(pattern)}`);
  });
}

for (const pattern of ['api.github.com', '*.googleapis.com', 'xn--bcher-kva.example', 'a-b.c0.io', `${'a'.repeat(63)}.x.com`]) {
  test(`SAN accepted: ${pattern.slice(0, 40)}`, (t) => t.is(sanProblem(pattern), undefined));
}

test('planSans sorts, dedupes and reports what it left out', (t) => {
  const plan = planSans(['uploads.github.com', 'api.github.com', 'api.github.com', '10.0.0.1', '*']);
  t.deepEqual(plan.dnsNames, ['api.github.com', 'uploads.github.com']);
  t.deepEqual(
    plan.skipped.map((s) => s.host),
    ['10.0.0.1', '*'],
  );
});

const COVERS: readonly [string, string, boolean][] = [
  ['*.x.com', 'x.com', false],
  ['*.x.com', 'a.b.x.com', false],
  ['*.x.com', 'a.x.com.evil.net', false],
  ['*.x.com', 'evilx.com', false],
  ['api.x.com', 'x.com', false],
  ['*.x.com', 'a.x.com', true],
  ['api.x.com', 'api.x.com', true],
];
for (const [pattern, host, expected] of COVERS) {
  test(`sanCovers(${pattern}, ${host}) is ${expected}`, (t) => t.is(sanCovers(pattern, host), expected));
}

test('the CA: P-256, CA:TRUE pathlen 0, keyCertSign+cRLSign, serverAuth, no IP addresses, short id in the name', async (t) => {
  const ca = await createCa(NOW);
  const cert = new X509Certificate(ca.certPem);
  t.true(cert.ca);
  t.is(cert.subject, `CN=pai CA ${ca.id}\nO=pai-secrets`);
  t.is(cert.issuer, cert.subject);
  t.is(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.true(cert.verify(cert.publicKey));
  t.is(new Date(cert.validFrom).getTime(), NOW - 5 * 60_000);
  t.true(new Date(cert.validTo).getTime() > NOW + 4 * 365 * 24 * HOUR);
  t.regex(cert.serialNumber, /^[4-7][0-9A-F]{31}$/);
  const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: ca.certPem }).toString();
  t.regex(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
  t.regex(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  t.regex(text, /Extended Key Usage:\s+TLS Web Server Authentication/);
  t.regex(text, /Name Constraints: critical\s+Excluded:\s+IP:0\.0\.0\.0\/0\.0\.0\.0\s+IP:0:0:0:0:0:0:0:0\/0:0:0:0:0:0:0:0/);
  t.notRegex(text, /PRIVATE KEY/);
});

test('two CAs never share a serial or an id; the key never prints', async (t) => {
  const [a, b] = await Promise.all([createCa(NOW), createCa(NOW)]);
  t.not(a.id, b.id);
  t.not(new X509Certificate(a.certPem).serialNumber, new X509Certificate(b.certPem).serialNumber);
  const pem = a.key.reveal();
  t.true(pem.startsWith('-----BEGIN PRIVATE KEY-----'));
  for (const shown of [String(a.key), JSON.stringify(a), inspect(a), `${a.key.toString()}`])
    t.false(shown.includes(pem.slice(30, 60)));
});

test('openSigningCa refuses a key that belongs to another CA, without quoting it', async (t) => {
  const [a, b] = await Promise.all([createCa(NOW), createCa(NOW)]);
  const err = await t.throwsAsync(openSigningCa(a.certPem, b.key));
  t.true(isPaiError(err, 'integrity'));
  const garbage = new SecretPem('-----BEGIN PRIVATE KEY-----\nTk9UIEEgS0VZ\n-----END PRIVATE KEY-----\n');
  const err2 = await t.throwsAsync(openSigningCa(a.certPem, garbage));
  t.true(isPaiError(err2, 'integrity'));
  t.false(inspect(err2, { depth: 5 }).includes('Tk9UIEEgS0VZ'));
});

test('issueLeaf refuses an agent with nothing certifiable, a zero lifetime and an expired CA', async (t) => {
  const made = await createCa(NOW, { validityMs: 2 * HOUR });
  const signer = await openSigningCa(made.certPem, made.key);
  t.true(isPaiError(await t.throwsAsync(issueLeaf(signer, AGENT, ['10.0.0.1', '*'], NOW)), 'invalid'));
  t.true(isPaiError(await t.throwsAsync(issueLeaf(signer, AGENT, ['a.com'], NOW, { lifetimeMs: 0 })), 'invalid'));
  t.true(isPaiError(await t.throwsAsync(issueLeaf(signer, AGENT, ['a.com'], NOW + 3 * HOUR)), 'internal'));
  const capped = await issueLeaf(signer, AGENT, ['a.com'], NOW + HOUR);
  t.is(capped.notAfter.getTime(), signer.notAfter.getTime(), 'a leaf never outlives its CA');
});

test('a leaf: exactly the certifiable hosts, serverAuth, not a CA, 24 h, signed by the CA, chain leaf+CA', async (t) => {
  const made = await createCa(NOW);
  const signer = await openSigningCa(made.certPem, made.key);
  const hosts = ['api.github.com', 'uploads.github.com', '*.googleapis.com', '10.1.2.3', 'api.github.com'];
  const leaf = await issueLeaf(signer, AGENT, hosts, NOW);
  const cert = new X509Certificate(leaf.certPem);
  t.false(cert.ca);
  t.is(cert.subjectAltName, 'DNS:*.googleapis.com, DNS:api.github.com, DNS:uploads.github.com');
  t.deepEqual(leaf.skipped, [
    { host: '10.1.2.3', reason: 'an IP address or numeric name: not certified (no SNI for IP literals)' },
  ]);
  t.true(cert.verify(createPublicKey(made.certPem)));
  t.true(cert.checkIssued(new X509Certificate(made.certPem)));
  t.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  t.is(new Date(cert.validFrom).getTime(), NOW - 5 * 60_000);
  t.is(new Date(cert.validTo).getTime(), NOW + 24 * HOUR);
  t.is(cert.checkHost('api.github.com'), 'api.github.com');
  t.is(cert.checkHost('storage.googleapis.com'), '*.googleapis.com');
  t.is(cert.checkHost('a.b.googleapis.com'), undefined);
  t.is(cert.checkHost('googleapis.com'), undefined);
  t.is(cert.checkIP('10.1.2.3'), undefined);
  t.is(leaf.chainPem, leaf.certPem + made.certPem);
  t.is(leaf.serial.toUpperCase(), cert.serialNumber);
  const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: leaf.certPem }).toString();
  t.regex(text, /Basic Constraints: critical\s+CA:FALSE/);
  t.regex(text, /Key Usage: critical\s+Digital Signature\n/);
  t.regex(text, /Authority Key Identifier/);
  t.is(createPublicKey(leaf.key.reveal()).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const other = await issueLeaf(signer, AGENT, hosts, NOW);
  t.not(other.serial, leaf.serial);
  t.not(other.key.reveal(), leaf.key.reveal(), 'every leaf has a fresh key');
});

test('rotation: prepare adds a trusted next CA, rotate promotes it, the old one stays trusted for the overlap only', async (t) => {
  const start = await initialCa(NOW);
  const firstPem = activeEntry(start).certPem;
  const prepared = await prepareCa(start, NOW);
  t.is(await prepareCa(prepared, NOW), prepared, 'preparing twice changes nothing');
  const nextPem = prepared.entries.find((e) => e.state === 'next')?.certPem ?? '';
  t.deepEqual(trustedCaPems(prepared, NOW), [firstPem, nextPem]);
  const rotated = await rotateCa(prepared, NOW + HOUR, { overlapMs: 2 * HOUR });
  t.is(activeEntry(rotated).certPem, nextPem);
  const retired = rotated.entries.find((e) => e.state === 'retired');
  t.is(retired?.key, undefined, 'the old key is dropped');
  t.deepEqual(trustedCaPems(rotated, NOW + 2 * HOUR), [nextPem, firstPem]);
  t.deepEqual(trustedCaPems(rotated, NOW + 3 * HOUR), [nextPem], 'past the overlap');
  const again = await rotateCa(rotated, NOW + 4 * HOUR, { overlapMs: 0 });
  t.is(again.entries.length, 1, 'overlap 0 after a compromise: nothing else trusted');
  t.not(activeEntry(again).certPem, nextPem);
});

test('the stored state round-trips; malformed records are refused without quoting them', async (t) => {
  const stored = await rotateCa(await initialCa(NOW), NOW, {});
  const decoded = decodeStoredCa(encodeStoredCa(stored));
  t.deepEqual(
    decoded.entries.map((e) => [e.state, e.certPem, e.key?.reveal(), e.trustedUntil]),
    stored.entries.map((e) => [e.state, e.certPem, e.key?.reveal(), e.trustedUntil]),
  );
  const key = activeEntry(stored).key.reveal();
  const bad = (mutate: (o: { format: string; entries: Record<string, unknown>[] }) => void): Buffer => {
    const o = JSON.parse(encodeStoredCa(stored).toString()) as { format: string; entries: Record<string, unknown>[] };
    mutate(o);
    return Buffer.from(JSON.stringify(o));
  };
  const cases: [string, Buffer][] = [
    ['not JSON', Buffer.from(`{${key}`)],
    ['format', bad((o) => (o.format = 'x'))],
    ['state', bad((o) => (o.entries[0] = { ...o.entries[0], state: 'boss' }))],
    ['no single active', bad((o) => (o.entries = o.entries.filter((e) => e['state'] !== 'active')))],
    ['still has a key', bad((o) => (o.entries[1] = { ...o.entries[1], key }))],
    ['no key', bad((o) => (o.entries[0] = { ...o.entries[0], key: 'x' }))],
  ];
  for (const [what, bytes] of cases) {
    const err = t.throws(() => decodeStoredCa(bytes));
    t.true(isPaiError(err, 'integrity'), what);
    t.false(inspect(err).includes(key.slice(40, 80)), `${what}: key not quoted`);
  }
});

test('caBundle: system roots then the pai CAs, PEM only, no duplicates', (t) => {
  const roots = [
    '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
    '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n',
  ];
  const pai = '-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----\n';
  const bundle = caBundle(roots, [pai, roots[0] ?? '']);
  t.is(bundle, `${roots[0]}\n${roots[1]?.trim()}\n${pai}`);
});

test('CaAuthority: created once on first use, persisted; a concurrent creator adopts the stored CA', async (t) => {
  const store = new MemoryCaMaterialStore();
  const a = new CaAuthority({ store });
  const b = new CaAuthority({ store });
  const [sa, sb] = await Promise.all([a.signing(), b.signing()]);
  t.is(sa.id, sb.id, 'one CA, whoever wins the create');
  t.is(store.saves, 1);
  t.is((await a.signing()).id, sa.id);
  const bundle = await a.bundle(['-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----']);
  t.true(bundle.startsWith('-----BEGIN CERTIFICATE-----\nROOT'));
  t.true(bundle.endsWith(sa.certPem));
  t.false(bundle.includes('PRIVATE KEY'));
});

test('CaAuthority: rotate notifies subscribers, refresh sees a rotation made elsewhere, a lost race is a conflict', async (t) => {
  const store = new MemoryCaMaterialStore();
  const here = new CaAuthority({ store, overlapMs: HOUR });
  const there = new CaAuthority({ store });
  const first = await here.signing();
  await there.signing();
  const seen: string[] = [];
  here.subscribe((ca) => seen.push(ca.id));
  const { previousId, activeId } = await here.rotate();
  t.is(previousId, first.id);
  t.deepEqual(seen, [activeId]);
  t.deepEqual((await here.trusted()).length, 2);
  const shown = await here.describe();
  t.deepEqual(
    shown.map((c) => [c.id, c.state]),
    [
      [activeId, 'active'],
      [first.id, 'retired'],
    ],
  );
  t.truthy(shown[1]?.trustedUntil);
  t.false(JSON.stringify(shown).includes('PRIVATE KEY'));
  t.true(isPaiError(await t.throwsAsync(there.rotate()), 'conflict'), 'there still holds the old version');
  const heard: string[] = [];
  there.subscribe((ca) => heard.push(ca.id));
  t.true(await there.refresh());
  t.deepEqual(heard, [activeId]);
  t.false(await there.refresh(), 'nothing changed since');
});

test('CaAuthority: a store that is down fails the call, and the next call tries again', async (t) => {
  const real = new MemoryCaMaterialStore();
  let down = true;
  const store = {
    load: () => (down ? Promise.reject(new Error('down')) : real.load()),
    save: (next: StoredCa, v: number | undefined) => real.save(next, v),
  };
  const authority = new CaAuthority({ store });
  await t.throwsAsync(authority.signing());
  down = false;
  t.regex((await authority.signing()).id, /^[0-9a-f]{8}$/);
});
