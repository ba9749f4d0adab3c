/** parseResource on rejected Provider and Agent documents, one rule per case (document shape and ModelProvider: resources-validate). */
import test from 'ava';
import { type Doc, provider, agent, http, github, rejects } from './helpers/resource-validation.js';

// --- Provider -------------------------------------------------------------------------------------

test(
  'provider type near miss',
  rejects,
  provider({ type: 'https', auth: { secretRef: 's' } }),
  'spec.type',
  /did you mean "http"/,
);
test('http without hosts', rejects, provider({ type: 'http', auth: { secretRef: 's' } }), 'spec.hosts', /^required$/);
test('empty hosts', rejects, github({}, { hosts: [] }), 'spec.hosts', /must not be empty/);
test('hosts a string', rejects, github({}, { hosts: 'api.github.com' }), 'spec.hosts', /must be a list \(got a string\)/);
test('host a number', rejects, github({}, { hosts: [1] }), 'spec.hosts[0]', /must be a string/);
const badHosts: [string, RegExp][] = [
  ['', /must not be empty/],
  ['*', /bare "\*"/],
  ['*.com', /at least two labels/],
  ['*.*.example.com', /suffix after/],
  ['a.*.example.com', /whole first label/],
  ['*example.com', /whole first label/],
  ['API.Example.com', /lower-case/],
  ['api.example.com:443', /port/],
  ['api.example.com/v1', /path/],
  ['https://api.example.com', /not a URL/],
  ['user@api.example.com', /user info/],
  ['[::1]', /IPv6/],
  ['*.1.2.3', /IP addresses/],
  ['*.10.0.0.1', /IP addresses/],
  ['1.2.3', /IPv4/],
  ['999.1.1.1', /IPv4/],
  ['010.0.0.1', /IPv4/],
  ['-a.example.com', /DNS name/],
  ['a..example.com', /DNS name/],
  ['api.example.com.', /must not end/],
  ['a_b.example.com', /DNS name/],
  ['bücher.example', /lower-case|DNS name/],
  [`${'a'.repeat(64)}.com`, /DNS name/],
  [`${'a.'.repeat(127)}com`, /253/],
];
for (const [host, message] of badHosts)
  test(`host ${JSON.stringify(host)}`, rejects, github({}, { hosts: [host] }), 'spec.hosts[0]', message);
test(
  'duplicate host',
  rejects,
  github({}, { hosts: ['a.com', '*.a.com', 'a.com'] }),
  'spec.hosts[2]',
  /duplicate of spec\.hosts\[0\]/,
);
test('no auth', rejects, provider({ type: 'github' }), 'spec.auth', /^required$/);
test('no secretRef', rejects, provider({ type: 'github', auth: {} }), 'spec.auth.secretRef', /^required$/);
test('misspelt secretRef', rejects, github({ secretRf: 'x' }), 'spec.auth.secretRf', /did you mean "secretRef"/);
test(
  'secretRef a map',
  rejects,
  provider({ type: 'github', auth: { secretRef: { name: 's' } } }),
  'spec.auth.secretRef',
  /string/,
);
test('bad secretKey', rejects, github({ secretKey: 'a b' }), 'spec.auth.secretKey', /letters/);
test('header for github', rejects, github({ header: 'x-token' }), 'spec.auth.header', /only for type http$/);
test(
  'prefix for aws',
  rejects,
  provider({ type: 'aws', auth: { secretRef: 's', prefix: 'x' } }),
  'spec.auth.prefix',
  /only for type http/,
);
test(
  'param for telegram',
  rejects,
  provider({ type: 'telegram', auth: { secretRef: 's', param: 'x' } }),
  'spec.auth.param',
  /http/,
);
test('scheme for gcp', rejects, provider({ type: 'gcp', auth: { secretRef: 's', scheme: 'basic' } }), 'spec.auth.scheme', /http/);
test('scope for http', rejects, http({ scope: 'x' }), 'spec.auth.scope', /only for types azure, gcp/);
test('tokenUrl for github', rejects, github({ tokenUrl: 'https://x.com/token' }), 'spec.auth.tokenUrl', /azure, gcp/);
test(
  'secretKey for aws',
  rejects,
  provider({ type: 'aws', auth: { secretRef: 's', secretKey: 'k' } }),
  'spec.auth.secretKey',
  /access_key_id/,
);
test(
  'secretKey for azure',
  rejects,
  provider({ type: 'azure', auth: { secretRef: 's', secretKey: 'k' } }),
  'spec.auth.secretKey',
  /client_id/,
);
const badHeaders: [string, RegExp][] = [
  ['', /empty/],
  ['Host', /hop-by-hop or framing/],
  ['content-length', /hop-by-hop or framing/],
  ['Transfer-Encoding', /hop-by-hop or framing/],
  ['connection', /hop-by-hop or framing/],
  ['upgrade', /hop-by-hop or framing/],
  ['te', /hop-by-hop or framing/],
  ['proxy-authorization', /hop-by-hop or framing/],
  [':authority', /pseudo-header/],
  [':path', /pseudo-header/],
  ['x-envoy-original-path', /Envoy-internal/],
  ['x token', /header name/],
  ['x:token', /header name/],
  ['x-tökén', /header name/],
  ['x'.repeat(129), /at most 128/],
];
for (const [header, message] of badHeaders)
  test(`header ${JSON.stringify(header)}`, rejects, http({ header }), 'spec.auth.header', message);
test('prefix with a newline', rejects, http({ prefix: 'Bearer\n' }), 'spec.auth.prefix', /printable ASCII/);
test('prefix with NUL', rejects, http({ prefix: 'a\u0000' }), 'spec.auth.prefix', /printable ASCII/);
test('prefix over 256', rejects, http({ prefix: 'x'.repeat(257) }), 'spec.auth.prefix', /256/);
test(
  'prefix starting with whitespace',
  rejects,
  http({ prefix: ' Bearer ' }),
  'spec.auth.prefix',
  /must not start with whitespace/,
);
test('unknown scheme', rejects, http({ scheme: 'bearer' }), 'spec.auth.scheme', /must be one of header, basic, query/);
test('query without param', rejects, http({ scheme: 'query' }), 'spec.auth.param', /required with scheme query/);
test(
  'query with header',
  rejects,
  http({ scheme: 'query', param: 'key', header: 'x-a' }),
  'spec.auth.header',
  /not used with scheme query/,
);
test('basic with secretKey', rejects, http({ scheme: 'basic', secretKey: 'k' }), 'spec.auth.secretKey', /username and password/);
test('basic with prefix', rejects, http({ scheme: 'basic', prefix: 'x' }), 'spec.auth.prefix', /not used with scheme basic/);
test('header scheme with param', rejects, http({ param: 'key' }), 'spec.auth.param', /only with scheme query/);
test('param with a space', rejects, http({ scheme: 'query', param: 'a b' }), 'spec.auth.param', /letters/);
test('param with "&"', rejects, http({ scheme: 'query', param: 'a&b' }), 'spec.auth.param', /letters/);
const azure = (auth: Doc) => provider({ type: 'azure', auth: { secretRef: 's', ...auth } });
test('tokenUrl over http', rejects, azure({ tokenUrl: 'http://login.example.com/token' }), 'spec.auth.tokenUrl', /https/);
test('tokenUrl with user info', rejects, azure({ tokenUrl: 'https://a:b@login.example.com' }), 'spec.auth.tokenUrl', /user info/);
test('empty scope', rejects, azure({ scope: '' }), 'spec.auth.scope', /empty/);
test('scope with a newline', rejects, azure({ scope: 'a\nb' }), 'spec.auth.scope', /printable/);

// --- Agent ----------------------------------------------------------------------------------------

test('providers a string', rejects, agent({ providers: 'github' }), 'spec.providers', /must be a list/);
test(
  'provider twice',
  rejects,
  agent({ providers: ['github', 'x', 'github'] }),
  'spec.providers[2]',
  /duplicate of spec\.providers\[0\]/,
);
test('model provider twice', rejects, agent({ modelProviders: ['g', 'g'] }), 'spec.modelProviders[1]', /duplicate/);
test('provider name invalid', rejects, agent({ providers: ['GitHub'] }), 'spec.providers[0]', /lower-case/);
test('model provider a number', rejects, agent({ modelProviders: [1] }), 'spec.modelProviders[0]', /string/);
const env = (entry: unknown) => agent({ env: [entry] });
const ref = { name: 's', key: 'k' };
test('env a mapping', rejects, agent({ env: { A: 'x' } }), 'spec.env', /must be a list/);
test('env entry a string', rejects, env('A=x'), 'spec.env[0]', /must be a mapping/);
test('env name lower-case', rejects, env({ name: 'slack', secretRef: ref }), 'spec.env[0].name', /\^\[A-Z_\]/);
test('env name starting with a digit', rejects, env({ name: '1A', secretRef: ref }), 'spec.env[0].name', /\^\[A-Z_\]/);
test('env name with "-"', rejects, env({ name: 'A-B', secretRef: ref }), 'spec.env[0].name', /\^\[A-Z_\]/);
test('env without name', rejects, env({ secretRef: ref }), 'spec.env[0].name', /^required$/);
test('env without secretRef', rejects, env({ name: 'A' }), 'spec.env[0].secretRef', /^required$/);
test('env with value', rejects, env({ name: 'A', value: 'x', secretRef: ref }), 'spec.env[0].value', /unknown field/);
test('env ref without key', rejects, env({ name: 'A', secretRef: { name: 's' } }), 'spec.env[0].secretRef.key', /^required$/);
test(
  'env ref bad secret',
  rejects,
  env({ name: 'A', secretRef: { name: 'S', key: 'k' } }),
  'spec.env[0].secretRef.name',
  /lower/,
);
test('env ref bad key', rejects, env({ name: 'A', secretRef: { name: 's', key: '.' } }), 'spec.env[0].secretRef.key', /"\."/);
test(
  'env name twice',
  rejects,
  agent({
    env: [
      { name: 'A', secretRef: ref },
      { name: 'B', secretRef: ref },
      { name: 'A', secretRef: ref },
    ],
  }),
  'spec.env[2].name',
  /duplicate of spec\.env\[0\]\.name/,
);
test('egress unknown', rejects, agent({ egress: 'block' }), 'spec.egress', /must be one of allow, deny/);
test('egress a boolean', rejects, agent({ egress: false }), 'spec.egress', /string \(got a boolean\)/);
