/**
 * A throwaway PKI for TLS tests, made with the openssl command line: a CA, a server certificate
 * for 127.0.0.1 / localhost / pai-admin.test, a client certificate signed by the same CA, and a
 * second, unrelated CA (for "not trusted" cases). EC P-256 keys, valid for two days.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly otherCaCert: string;
}

/** Runs openssl with `args`, a space-separated command line (no argument holds a space). */
function openssl(dir: string, args: string): void {
  execFileSync('openssl', args.split(' '), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';

function newCa(dir: string, name: string): void {
  openssl(
    dir,
    `req -x509 ${EC_KEY} -keyout ${name}.key -out ${name}.pem -days 2 -subj /CN=${name} ` +
      '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign',
  );
}

function issue(dir: string, name: string, ca: string, extensions: string): void {
  openssl(dir, `req ${EC_KEY} -keyout ${name}.key -out ${name}.csr -subj /CN=${name}`);
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(
    dir,
    `x509 -req -in ${name}.csr -CA ${ca}.pem -CAkey ${ca}.key -CAcreateserial -out ${name}.pem -days 2 -extfile ${name}.ext`,
  );
}

/** Creates the PKI in `dir` (which must exist). */
export function makeTestPki(dir: string): TestPki {
  newCa(dir, 'ca');
  newCa(dir, 'other-ca');
  issue(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:pai-admin.test\nextendedKeyUsage=serverAuth\n');
  issue(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string): string => path.join(dir, f);
  return {
    dir,
    caCert: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    otherCaCert: p('other-ca.pem'),
  };
}

/**
 * A client certificate `NAME.pem` / `NAME.key` in `pki.dir`, signed by `ca` ('ca' or 'other-ca'),
 * carrying `uris` as URI SANs (none: no SAN at all), e.g. SPIFFE IDs `spiffe://pai/agent/bot`.
 */
export function issueClientCert(
  pki: TestPki,
  name: string,
  uris: readonly string[],
  ca: 'ca' | 'other-ca' = 'ca',
): { cert: string; key: string } {
  const san = uris.length === 0 ? '' : `subjectAltName=${uris.map((u) => `URI:${u}`).join(',')}\n`;
  issue(pki.dir, name, ca, `${san}extendedKeyUsage=clientAuth\n`);
  return { cert: path.join(pki.dir, `${name}.pem`), key: path.join(pki.dir, `${name}.key`) };
}
