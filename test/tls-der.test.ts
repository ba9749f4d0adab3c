/**
 * The DER encoder and reader under the pai CA (src/tls/der.ts, src/tls/certificate.ts), checked
 * against independent readers: node:crypto (OpenSSL) parses and verifies what we build, `openssl
 * verify` checks a leaf's chain and purpose, `openssl asn1parse` decodes our encodings, and the
 * reader refuses malformed input instead of guessing.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { createCa, openSigningCa } from '../src/tls/ca.js';
import {
  OID,
  certificateParts,
  dnsSubjectAltName,
  distinguishedName,
  newP256KeyPair,
  signCertificate,
  uriSubjectAltNames,
} from '../src/tls/certificate.js';
import {
  DerError,
  children,
  namedBits,
  oid,
  oidText,
  readTlv,
  sequence,
  smallInteger,
  time,
  tlv,
  unsignedInteger,
} from '../src/tls/der.js';
import { issueLeaf } from '../src/tls/leaf.js';
import { SecretPem, toPem } from '../src/tls/secret-pem.js';

const hex = (b: Buffer): string => b.toString('hex');

const ENCODINGS: ReadonlyArray<readonly [string, () => Buffer, string]> = [
  ['INTEGER 0', () => smallInteger(0), '020100'],
  ['INTEGER 127', () => smallInteger(127), '02017f'],
  ['INTEGER 128 gets a sign octet', () => smallInteger(128), '02020080'],
  ['INTEGER 256', () => smallInteger(256), '02020100'],
  ['INTEGER leading zeros dropped', () => unsignedInteger(Buffer.from([0, 0, 1])), '020101'],
  ['OID serverAuth', () => oid('1.3.6.1.5.5.7.3.1'), '06082b06010505070301'],
  ['OID ecdsa-with-SHA256', () => oid('1.2.840.10045.4.3.2'), '06082a8648ce3d040302'],
  ['OID subjectAltName', () => oid('2.5.29.17'), '0603551d11'],
  ['keyUsage digitalSignature', () => namedBits([0]), '03020780'],
  ['keyUsage keyCertSign+cRLSign', () => namedBits([5, 6]), '03020106'],
  ['keyUsage bit 8 (decipherOnly) needs a second octet', () => namedBits([0, 8]), '0303078080'],
  ['UTCTime through 2049', () => time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59, 999))), '170d3439313233313233353935395a'],
  ['GeneralizedTime from 2050', () => time(new Date(Date.UTC(2050, 0, 1))), '180f32303530303130313030303030305a'],
  ['long form length (200 octets)', () => tlv(0x04, Buffer.alloc(200)).subarray(0, 3), '0481c8'],
  ['long form length (300 octets)', () => tlv(0x04, Buffer.alloc(300)).subarray(0, 4), '0482012c'],
  ['empty SEQUENCE', () => sequence(), '3000'],
];
for (const [name, make, expected] of ENCODINGS) {
  test(`DER: ${name}`, (t) => t.is(hex(make()), expected));
}

test('DER: OIDs round-trip through the reader, including arcs above 127 and first arc 2', (t) => {
  for (const dotted of ['1.2.840.10045.4.3.2', '2.5.29.37', '1.3.6.1.4.1.311.60.2.1.3', '2.999.3'])
    t.is(oidText(readTlv(oid(dotted)).content), dotted);
});

const MALFORMED: ReadonlyArray<readonly [string, string]> = [
  ['empty input', ''],
  ['a tag without a length', '30'],
  ['content shorter than its length', '3005020100'],
  ['indefinite length', '3080020100'],
  ['non-minimal long length', '30810100'],
  ['a length of five octets', '30850000000001'],
  ['a high tag number form', '1f0100'],
];
for (const [name, bytes] of MALFORMED) {
  test(`DER reader refuses ${name}`, (t) => {
    t.throws(() => readTlv(Buffer.from(bytes, 'hex')), { instanceOf: DerError });
  });
}

test('DER reader: children of a constructed value, in order; a trailing fragment is refused', (t) => {
  const seq = readTlv(sequence(smallInteger(1), oid('2.5.29.17')));
  t.deepEqual(
    children(seq.content).map((c) => c.tag),
    [0x02, 0x06],
  );
  t.throws(() => children(Buffer.concat([seq.content, Buffer.from([0x02])])), { instanceOf: DerError });
});

test('certificateParts refuses what is not one whole certificate', async (t) => {
  const ca = await createCa(Date.now());
  const der = new X509Certificate(ca.certPem).raw;
  t.notThrows(() => certificateParts(der));
  t.throws(() => certificateParts(Buffer.concat([der, Buffer.from([0])])), { instanceOf: DerError });
  t.throws(() => certificateParts(der.subarray(0, der.length - 1)), { instanceOf: DerError });
  t.throws(() => certificateParts(smallInteger(5)), { instanceOf: DerError });
});

test('openssl asn1parse reads a built certificate field by field', async (t) => {
  const made = await createCa(Date.UTC(2030, 0, 1));
  const text = execFileSync('openssl', ['asn1parse', '-i'], { input: made.certPem }).toString();
  t.regex(text, /cont \[ 0 \]\s*\n.*INTEGER\s+:02/);
  t.regex(text, /OBJECT\s+:ecdsa-with-SHA256/);
  t.regex(text, /UTF8STRING\s+:pai CA [0-9a-f]{8}/);
  t.regex(text, /UTCTIME\s+:291231235500Z/);
  t.regex(text, /OBJECT\s+:X509v3 Subject Key Identifier/);
  t.notRegex(text, /error/i);
});

test('a leaf verifies with openssl verify -purpose sslserver against its CA, and not against another', async (t) => {
  const now = Date.now();
  const made = await createCa(now);
  const other = await createCa(now);
  const leaf = await issueLeaf(
    await openSigningCa(made.certPem, made.key),
    { namespace: 'default', name: 'a' },
    ['api.github.com'],
    now,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-der-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const ca = write('ca.pem', made.certPem);
  const wrong = write('other.pem', other.certPem);
  const cert = write('leaf.pem', leaf.certPem);
  const ok = execFileSync('openssl', [
    'verify',
    '-x509_strict',
    '-purpose',
    'sslserver',
    '-verify_hostname',
    'api.github.com',
    '-CAfile',
    ca,
    cert,
  ]);
  t.regex(ok.toString(), /leaf\.pem: OK/);
  t.throws(() => execFileSync('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', wrong, cert], { stdio: 'pipe' }));
  t.throws(() =>
    execFileSync('openssl', ['verify', '-purpose', 'sslserver', '-verify_hostname', 'evil.example.com', '-CAfile', ca, cert], {
      stdio: 'pipe',
    }),
  );
});

test('the leaf names its CA exactly: issuer bytes equal the CA subject, AKI equals the CA SKI', async (t) => {
  const made = await createCa(Date.now());
  const signer = await openSigningCa(made.certPem, made.key);
  const leaf = await issueLeaf(signer, { namespace: 'default', name: 'a' }, ['a.example.com'], Date.now());
  const caCert = new X509Certificate(made.certPem);
  const leafCert = new X509Certificate(leaf.certPem);
  t.is(leafCert.issuer, caCert.subject);
  t.true(leafCert.checkIssued(caCert));
  const ski = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectKeyIdentifier'], { input: made.certPem }).toString();
  const aki = execFileSync('openssl', ['x509', '-noout', '-ext', 'authorityKeyIdentifier'], { input: leaf.certPem }).toString();
  const id = /([0-9A-F]{2}(?::[0-9A-F]{2}){19})/.exec(ski)?.[1];
  t.truthy(id);
  t.true(aki.includes(id ?? 'missing'));
});

test('uriSubjectAltNames reads URI entries only, from a certificate built here with mixed SANs', async (t) => {
  const keys = await newP256KeyPair();
  const uri = (u: string): Buffer => tlv(0x86, Buffer.from(u, 'ascii'));
  const dns = dnsSubjectAltName(['x.example.com']);
  const mixed = {
    ...dns,
    value: sequence(...children(readTlv(dns.value).content).map((c) => c.encoded), uri('spiffe://pai/agent/a')),
  };
  const name = distinguishedName([[OID.commonName, 'test']]);
  const der = await signCertificate(
    {
      serialHex: '4a'.repeat(16),
      issuer: name,
      subject: name,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 3_600_000),
      subjectPublicKeyInfo: keys.publicKey.export({ type: 'spki', format: 'der' }),
      extensions: [mixed],
    },
    keys.privateKey,
  );
  const cert = new X509Certificate(toPem('CERTIFICATE', der));
  t.is(cert.subjectAltName, 'DNS:x.example.com, URI:spiffe://pai/agent/a');
  t.true(cert.verify(createPublicKey(keys.publicKey.export({ type: 'spki', format: 'pem' }))));
  t.deepEqual(uriSubjectAltNames(certificateParts(der)), ['spiffe://pai/agent/a']);
});

test('openSigningCa refuses a P-384 key with the integrity code, without quoting it', async (t) => {
  const made = await createCa(Date.now());
  const pem = execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']).toString();
  const err = await t.throwsAsync(openSigningCa(made.certPem, new SecretPem(pem)));
  t.is((err as { code?: string }).code, 'integrity');
  t.false(String(err?.message).includes(pem.slice(40, 80)));
});

test('a CA made elsewhere (openssl, as by an earlier pai) opens and signs leaves that chain to it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-der-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'ca.key');
  const certFile = path.join(dir, 'ca.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  execFileSync('openssl', [
    'req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-days', '30', '-subj', '/CN=older CA/O=pai-secrets',
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]); // prettier-ignore
  const signer = await openSigningCa(fs.readFileSync(certFile, 'utf8'), new SecretPem(fs.readFileSync(keyFile, 'utf8')));
  const leaf = await issueLeaf(signer, { namespace: 'default', name: 'a' }, ['api.openai.com'], Date.now());
  const out = execFileSync(
    'openssl',
    ['verify', '-purpose', 'sslserver', '-verify_hostname', 'api.openai.com', '-CAfile', certFile],
    {
      input: leaf.certPem,
    },
  );
  t.regex(out.toString(), /OK/);
  t.is(new X509Certificate(leaf.certPem).issuer, 'CN=older CA\nO=pai-secrets');
});
