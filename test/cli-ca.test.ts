/**
 * The pai CA from the CLI (issue 14) against a real `pai serve`: `pai get ca` prints the public
 * certificate and never a key, `pai render ca-bundle` is the system roots plus the pai CA(s),
 * `pai render hosts AGENT -n NS` maps the agent's hosts to 127.0.0.1, and `pai rotate ca` keeps the
 * previous CA trusted beside the new one. A viewer may read the CA; only an admin may rotate it.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import anyTest, { type TestFn } from 'ava';
import { api } from './helpers/api.js';
import { type CliTarget, file, pai } from './helpers/cli-target.js';
import { adminToken, startServe, tempDir } from './helpers/process.js';

const test = anyTest as TestFn<{ root: string; target: CliTarget }>;

test.before(async (t) => {
  const root = tempDir('pai-cli-ca-');
  const server = await startServe({ dataDir: path.join(root, 'data') });
  const files = path.join(root, 'files');
  fs.mkdirSync(files);
  t.context = { root, target: { root, server, token: adminToken(server.dataDir), files, expected: new Map() } };
});

test.after.always(async (t) => {
  await t.context.target?.server.stop();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

const pems = (text: string): string[] => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

test.serial('get ca, render ca-bundle, render hosts, rotate ca', async (t) => {
  const { target } = t.context;
  const got = await pai(target, ['get', 'ca']);
  t.is(got.code, 0, got.stderr);
  t.notRegex(got.stdout, /PRIVATE KEY/);
  t.regex(got.stdout, /^# pai CA \S+: active, valid \S+ to \S+\n-----BEGIN CERTIFICATE-----/);
  const [caPem] = pems(got.stdout);
  const ca = new X509Certificate(caPem ?? '');
  t.true(ca.ca, 'a CA certificate');

  const bundle = await pai(target, ['render', 'ca-bundle']);
  t.is(bundle.code, 0, bundle.stderr);
  const inBundle = pems(bundle.stdout);
  t.true(inBundle.includes(caPem ?? ''), 'the pai CA is in the bundle');
  t.true(inBundle.length >= tls.rootCertificates.length, 'and the system roots (SSL_CERT_FILE replaces them)');
  t.notRegex(bundle.stdout, /PRIVATE KEY/);

  const manifest = `apiVersion: pai.io/v1
kind: Provider
metadata: {name: github, namespace: team-a}
spec: {type: github, auth: {type: pat, secretRef: gh}}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: bot, namespace: team-a}
spec: {providers: [github]}
`;
  t.is((await pai(target, ['add', 'secret', 'gh', '-n', 'team-a', '--from-literal', 'token'], 'ghp_x\n')).code, 0);
  t.is((await pai(target, ['apply', '-f', file(target, 'bot.yaml', manifest)])).code, 0);
  const hosts = await pai(target, ['render', 'hosts', 'bot', '-n', 'team-a']);
  t.is(hosts.code, 0, hosts.stderr);
  t.deepEqual(
    hosts.stdout.split('\n').filter((l) => l.startsWith('127.0.0.1')),
    ['127.0.0.1 api.github.com', '127.0.0.1 github.com', '127.0.0.1 uploads.github.com'].sort(),
  );
  const unknown = await pai(target, ['render', 'hosts', 'bot']);
  t.is(unknown.code, 1, 'no agent bot in default');
  t.regex(unknown.stderr, /agent "bot" not found/);

  // A viewer reads the CA but may not rotate it.
  const viewer = await api(target.server.adminUrl, target.token, 'POST', '/v1/tokens', { role: 'viewer' });
  const viewerToken = (viewer.json as { token: string }).token;
  t.is((await pai(target, ['get', 'ca'], undefined, { PAI_TOKEN: viewerToken })).code, 0);
  const refused = await pai(target, ['rotate', 'ca'], undefined, { PAI_TOKEN: viewerToken });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /role viewer may not POST \/v1\/ca\/rotate/);

  const rotated = await pai(target, ['rotate', 'ca', '--overlap', '2d']);
  t.is(rotated.code, 0, rotated.stderr);
  t.regex(rotated.stdout, /^pai CA rotated: \S+ -> \S+/);
  const after = await pai(target, ['get', 'ca']);
  const both = pems(after.stdout);
  t.is(both.length, 2, 'the new CA and the previous one, trusted for the overlap');
  t.true(both.includes(caPem ?? ''));
  t.regex(after.stdout, /: active, /);
  t.regex(after.stdout, /trusted until /);
  const bundleAfter = pems((await pai(target, ['render', 'ca-bundle'])).stdout);
  t.true(
    both.every((p) => bundleAfter.includes(p)),
    'the bundle trusts both during the overlap',
  );
});
