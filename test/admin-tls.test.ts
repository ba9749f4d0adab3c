/**
 * The admin API over TLS and its Host check (issue 16, item 3), end to end: the real `pai serve`
 * with PAI_ADMIN_TLS_CERT/_KEY (and PAI_ADMIN_TLS_CLIENT_CA), the real CLI speaking https:// with
 * PAI_CA_FILE (and PAI_CLIENT_CERT/_KEY), the config file `pai serve` writes; a non-loopback plain
 * HTTP listen refused at start; and DNS rebinding: a Host header that names another server is 421,
 * while the listen host, IP literals, localhost (on loopback) and PAI_ADMIN_ALLOWED_HOSTS pass.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import YAML from 'yaml';
import { hostCheck } from '../src/admin/host-check.js';
import { isPaiError } from '../src/errors.js';
import { type ServeHandle, adminToken, runPai, startServe, tempDir } from './helpers/process.js';
import { type TestPki, makeTestPki } from './helpers/tls-certs.js';

interface Ctx {
  root: string;
  pki: TestPki;
  servers: ServeHandle[];
}
const test = anyTest as TestFn<Ctx>;

test.before((t) => {
  const root = tempDir('pai-admin-tls-');
  const pkiDir = path.join(root, 'pki');
  fs.mkdirSync(pkiDir);
  t.context = { root, pki: makeTestPki(pkiDir), servers: [] };
});
test.after.always(async (t) => {
  await Promise.all((t.context.servers ?? []).map((s) => s.stop()));
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

async function serve(t: ExecutionContext<Ctx>, env: Record<string, string>): Promise<ServeHandle> {
  const server = await startServe({ dataDir: path.join(tempDir('pai-admin-tls-data-'), 'data'), env });
  t.context.servers.push(server);
  return server;
}

const tlsEnv = (pki: TestPki, clientCa = false): Record<string, string> => ({
  PAI_ADMIN_TLS_CERT: pki.serverCert,
  PAI_ADMIN_TLS_KEY: pki.serverKey,
  ...(clientCa ? { PAI_ADMIN_TLS_CLIENT_CA: pki.caCert } : {}),
});

/** One raw request with a chosen Host header (fetch does not let a caller set Host). */
function rawGet(
  url: string,
  pathname: string,
  headers: http.OutgoingHttpHeaders,
  tls?: https.RequestOptions,
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const options = { host: u.hostname, port: u.port, path: pathname, headers };
    const done = (res: http.IncomingMessage): void => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req = u.protocol === 'https:' ? https.request({ ...options, ...tls }, done) : http.request(options, done);
    req.on('error', reject);
    req.end();
  });
}

// ---- refused at start ----------------------------------------------------------------------

test('pai serve refuses plain HTTP on 0.0.0.0 and says what to set', async (t) => {
  const err = await t.throwsAsync(serve(t, { PAI_ADMIN_LISTEN: '0.0.0.0:0' }));
  t.regex(err?.message ?? '', /exited with 1 before ready/);
  t.regex(err?.message ?? '', /error: PAI_ADMIN_LISTEN: 0\.0\.0\.0:0 is not a loopback address.*PAI_ADMIN_TLS_CERT/);
});

test('pai serve refuses a TLS key that does not match its certificate, naming the variable', async (t) => {
  const { pki } = t.context;
  const err = await t.throwsAsync(serve(t, { PAI_ADMIN_TLS_CERT: pki.serverCert, PAI_ADMIN_TLS_KEY: pki.clientKey }));
  t.regex(err?.message ?? '', /error: PAI_ADMIN_TLS_KEY: the key and certificate are not a matching PEM pair/);
});

// ---- TLS -----------------------------------------------------------------------------------

test('TLS: https:// in the banner and config.yaml; the CLI trusts the server with PAI_CA_FILE', async (t) => {
  const { pki } = t.context;
  const server = await serve(t, tlsEnv(pki));
  t.regex(server.adminUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
  const written = YAML.parse(fs.readFileSync(path.join(server.dataDir, 'config.yaml'), 'utf8')) as { server: string };
  t.is(written.server, server.adminUrl);
  const ok = await runPai(['add', 'secret', 'over-tls', '--from-literal', 'k=v'], { ...server.env, PAI_CA_FILE: pki.caCert });
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, 'secret/over-tls created\n');
  const untrusted = await runPai(['get', 'secrets'], server.env);
  t.is(untrusted.code, 1);
  t.regex(
    untrusted.stderr,
    /cannot reach the pai admin API at https:.*the server certificate is not trusted \(set PAI_CA_FILE to its CA\)/,
  );
  const wrongCa = await runPai(['get', 'secrets'], { ...server.env, PAI_CA_FILE: pki.otherCaCert });
  t.is(wrongCa.code, 1);
  t.regex(wrongCa.stderr, /not trusted/);
  // Plain HTTP to the TLS port gets no API answer.
  const plain = await rawGet(server.adminUrl.replace('https:', 'http:'), '/healthz', {}).catch((e: Error) => e);
  t.false(!(plain instanceof Error) && plain.status === 200, 'no plain-HTTP answer from a TLS listener');
});

test('TLS with PAI_ADMIN_TLS_CLIENT_CA: no client certificate, no connection; with one, the token is still needed', async (t) => {
  const { pki } = t.context;
  const server = await serve(t, tlsEnv(pki, true));
  const env = { ...server.env, PAI_CA_FILE: pki.caCert };
  const without = await runPai(['get', 'secrets'], env);
  t.is(without.code, 1);
  t.regex(without.stderr, /cannot reach the pai admin API at https:/);
  const withCert = await runPai(['get', 'secrets'], { ...env, PAI_CLIENT_CERT: pki.clientCert, PAI_CLIENT_KEY: pki.clientKey });
  t.is(withCert.code, 0, withCert.stderr);
  const tls = {
    ca: fs.readFileSync(pki.caCert),
    cert: fs.readFileSync(pki.clientCert),
    key: fs.readFileSync(pki.clientKey),
  };
  const noToken = await rawGet(server.adminUrl, '/v1/secrets', {}, tls);
  t.is(noToken.status, 401);
  const withToken = await rawGet(server.adminUrl, '/v1/secrets', { authorization: `Bearer ${adminToken(server.dataDir)}` }, tls);
  t.is(withToken.status, 200);
});

test('TLS on 0.0.0.0 is allowed; the Host check applies there too', async (t) => {
  const { pki } = t.context;
  const server = await serve(t, { ...tlsEnv(pki), PAI_ADMIN_LISTEN: '0.0.0.0:0', PAI_ADMIN_ALLOWED_HOSTS: 'pai-admin.test' });
  const url = server.adminUrl.replace('0.0.0.0', '127.0.0.1');
  const tls = { ca: fs.readFileSync(pki.caCert), servername: 'localhost' };
  const auth = { authorization: `Bearer ${adminToken(server.dataDir)}` };
  t.is((await rawGet(url, '/v1/secrets', { ...auth, host: 'pai-admin.test:7070' }, tls)).status, 200);
  t.is((await rawGet(url, '/v1/secrets', { ...auth, host: '10.9.8.7' }, tls)).status, 200);
  t.is((await rawGet(url, '/v1/secrets', { ...auth, host: 'localhost' }, tls)).status, 200);
  const evil = await rawGet(url, '/v1/secrets', { ...auth, host: 'evil.example' }, tls);
  t.is(evil.status, 421);
});

// ---- the Host check (DNS rebinding) --------------------------------------------------------

const HOSTS: readonly { host: string | undefined; status: number }[] = [
  { host: 'evil.example', status: 421 },
  { host: 'evil.example:7070', status: 421 },
  { host: 'localhost.evil.example', status: 421 },
  { host: '127.0.0.1.nip.io', status: 421 },
  { host: 'pai-admin.test.evil.example', status: 421 },
  { host: 'user@evil.example', status: 400 },
  { host: 'localhost', status: 200 },
  { host: 'LOCALHOST:7070', status: 200 },
  { host: 'localhost.', status: 200 },
  { host: '127.0.0.1', status: 200 },
  { host: '[::1]:7070', status: 200 },
  { host: 'pai-admin.test', status: 200 },
];

test('Host check on a loopback listen: other names 421 with a JSON reason, this server’s names pass', async (t) => {
  const server = await serve(t, { PAI_ADMIN_ALLOWED_HOSTS: 'pai-admin.test' });
  const token = adminToken(server.dataDir);
  for (const row of HOSTS) {
    const res = await rawGet(server.adminUrl, '/v1/secrets', { host: row.host, authorization: `Bearer ${token}` });
    t.is(res.status, row.status, `Host: ${row.host}: ${res.body}`);
    if (row.status === 421) {
      const body = JSON.parse(res.body) as { error: { code: string; message: string } };
      t.is(body.error.code, 'misdirected_request');
      t.regex(body.error.message, /does not answer to the host name ".*" \(DNS rebinding protection\).*PAI_ADMIN_ALLOWED_HOSTS/);
    }
  }
  // Health checks are behind the same check (probes use IP literals, which pass).
  t.is((await rawGet(server.adminUrl, '/healthz', { host: 'evil.example' })).status, 421);
  t.is((await rawGet(server.adminUrl, '/healthz', { host: '10.0.0.1:7070' })).status, 200);
});

test('hostCheck: none on a unix socket; a wildcard listen accepts localhost; a named listen its name', (t) => {
  t.is(hostCheck({ kind: 'unix', path: '/run/pai.sock' }, []), undefined);
  const wildcard = hostCheck({ kind: 'tcp', host: '0.0.0.0', port: 7070 }, []);
  t.notThrows(() => wildcard?.('localhost:7070'));
  const named = hostCheck({ kind: 'tcp', host: 'pai-admin.internal', port: 7070 }, []);
  t.notThrows(() => named?.('PAI-ADMIN.internal:7070'));
  const err = t.throws(() => named?.('localhost'));
  t.true(isPaiError(err, 'misdirected_request'), 'a named non-loopback listen does not answer to localhost');
  t.true(
    isPaiError(
      t.throws(() => named?.(undefined)),
      'bad_request',
    ),
  );
});
