import test from 'ava';
import fc from 'fast-check';
import { isPaiError } from '../src/errors.js';
import { CREDENTIAL_HEADERS } from '../src/inject/mutation.js';
import type { InjectRequest } from '../src/inject/mutation.js';
import { queryMutation, telegramMutation, telegramPath, withQueryParam } from '../src/inject/path-strategies.js';
import type { AuthStrategy, InjectionTarget } from '../src/resources/types.js';

function target(auth: AuthStrategy, type: InjectionTarget['type']): InjectionTarget {
  return {
    kind: 'Provider',
    name: 'p',
    type,
    hosts: ['api.example.com'],
    secret: 'creds',
    requiredKeys: [],
    optionalKeys: [],
    auth,
  };
}
const req = (path: string): InjectRequest => ({
  method: 'GET',
  path,
  host: 'api.example.com',
  headers: [['authorization', 'Bearer agent-own']],
});
const values = (v: Record<string, string>): Map<string, Buffer> =>
  new Map(Object.entries(v).map(([k, x]) => [k, Buffer.from(x)]));

const query = target({ strategy: 'query', param: 'api_key', key: 'token' }, 'http-token');
const telegram = target({ strategy: 'telegram', key: 'token' }, 'telegram');
const TOKEN = '123456789:AAH-x_y9Zabc';

// ---- query parameter ----

const queryRefusals: [string, Record<string, string>, string, string, RegExp][] = [
  ['missing key', {}, '/x', 'key_missing', /secret "creds" has no key "token"/],
  ['newline in value', { token: 'abc\n' }, '/x', 'bad_header_value', /line break/],
  ['NUL in value', { token: 'a\0b' }, '/x', 'bad_header_value', /NUL/],
  ['fragment in path', { token: 'abc' }, '/x?a=1#frag', 'bad_request', /fragment/],
];
for (const [name, vals, path, code, message] of queryRefusals) {
  test(`query strategy refuses: ${name}`, (t) => {
    const err = t.throws(() => queryMutation(query, values(vals), req(path)));
    t.is((err as { code?: string }).code, code);
    t.regex(err.message, message);
  });
}

const queryCases: [string, string, string][] = [
  ['/v1/things', 'k3y', '/v1/things?api_key=k3y'],
  ['/v1/things?', 'k3y', '/v1/things?api_key=k3y'],
  ['/v1/things?a=1&b=2', 'k3y', '/v1/things?a=1&b=2&api_key=k3y'],
  ['/v1/things?api_key=agent&a=1', 'k3y', '/v1/things?a=1&api_key=k3y'],
  ['/v1/things?api_key=one&api_key=two&api_key', 'k3y', '/v1/things?api_key=k3y'],
  ['/v1/things?API_KEY=agent&Api_Key=x', 'k3y', '/v1/things?api_key=k3y'],
  ['/v1/things?api%5Fkey=agent&api%5fkey=x', 'k3y', '/v1/things?api_key=k3y'],
  ['/v1/things?api+key=keep&api_keys=keep', 'k3y', '/v1/things?api+key=keep&api_keys=keep&api_key=k3y'],
  ['/v1/things?x=%zz&api_key=a', 'k3y', '/v1/things?x=%zz&api_key=k3y'],
  ['/v1/things?a=1&&b=2&', 'k3y', '/v1/things?a=1&b=2&api_key=k3y'],
  ['/v1/things?q=a%26api_key%3Dx', 'k3y', '/v1/things?q=a%26api_key%3Dx&api_key=k3y'],
  ['/', 'a b&c=d/+?#', '/?api_key=a%20b%26c%3Dd%2F%2B%3F%23'],
];
for (const [path, value, expected] of queryCases) {
  test(`query: ${path} → ${expected}`, (t) => {
    const m = queryMutation(query, values({ token: value }), req(path));
    t.is(m.path, expected);
    t.deepEqual(m.set, []);
    t.deepEqual(m.remove, CREDENTIAL_HEADERS);
  });
}

test('property: after the rewrite the parameter occurs exactly once, with our value, under any spelling', (t) => {
  const piece = fc.oneof(
    fc.constantFrom('api_key=agent', 'API_KEY=x', 'api%5Fkey=y', 'api_key', 'api_key='),
    fc.stringMatching(/^[a-z0-9_%]{1,6}=[a-z0-9%]{0,6}$/),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 6 }), fc.stringMatching(/^[\x21-\x7e]{1,20}$/), (pieces, secret) => {
      const out = withQueryParam(`/p?${pieces.join('&')}`, 'api_key', secret);
      const params = new URLSearchParams(out.slice(out.indexOf('?') + 1));
      const ours = [...params.keys()].filter((k) => k.toLowerCase() === 'api_key');
      return ours.length === 1 && params.get('api_key') === secret;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

// ---- telegram ----

const telegramRefusals: [string, string, Record<string, string>, string, RegExp][] = [
  ['agent picks its own token', `/bot${TOKEN}/getMe`, { token: TOKEN }, 'bad_request', /token is added by the injector/],
  ['agent token in file path', `/file/bot${TOKEN}/doc.pdf`, { token: TOKEN }, 'bad_request', /token is added by the injector/],
  ['/botX without slash', '/botgetMe', { token: TOKEN }, 'bad_request', /token is added by the injector/],
  ['other path', '/getMe', { token: TOKEN }, 'bad_request', /must use \/bot\/<method>/],
  ['root', '/', { token: TOKEN }, 'bad_request', /must use/],
  ['case variant', '/Bot/getMe', { token: TOKEN }, 'bad_request', /must use/],
  ['empty method', '/bot/', { token: TOKEN }, 'bad_request', /missing method/],
  ['empty method with query', '/bot/?a=1', { token: TOKEN }, 'bad_request', /missing method/],
  ['dot-dot', '/bot/../bot999:zzz/getMe', { token: TOKEN }, 'bad_request', /"\.\."/],
  ['dot', '/bot/./getMe', { token: TOKEN }, 'bad_request', /"\."/],
  ['double slash', '/bot//getMe', { token: TOKEN }, 'bad_request', /empty/],
  ['encoded dot', '/bot/%2e%2e/getMe', { token: TOKEN }, 'bad_request', /encoded/],
  ['encoded slash', '/file/bot/a%2Fb', { token: TOKEN }, 'bad_request', /encoded/],
  ['backslash', '/bot/..\\getMe', { token: TOKEN }, 'bad_request', /backslashes/],
  ['fragment', '/bot/getMe#x', { token: TOKEN }, 'bad_request', /fragments/],
  ['missing token key', '/bot/getMe', {}, 'key_missing', /no key "token"/],
  ['token with newline', '/bot/getMe', { token: `${TOKEN}\n` }, 'bad_header_value', /line break/],
  ['token not a bot token', '/bot/getMe', { token: 'abc/../x' }, 'bad_header_value', /not a Telegram bot token/],
  ['token without digits', '/bot/getMe', { token: ':abc' }, 'bad_header_value', /not a Telegram bot token/],
  ['token with ?', '/bot/getMe', { token: '1:a?b' }, 'bad_header_value', /not a Telegram bot token/],
];
for (const [name, path, vals, code, message] of telegramRefusals) {
  test(`telegram refuses: ${name}`, (t) => {
    const err = t.throws(() => telegramMutation(telegram, values(vals), req(path)));
    t.true(isPaiError(err), String(err));
    t.is((err as { code?: string }).code, code);
    t.regex(err.message, message);
    t.false(err.message.includes(TOKEN), 'the token never appears in an error');
  });
}

const telegramCases: [string, string][] = [
  ['/bot/getMe', `/bot${TOKEN}/getMe`],
  ['/bot/sendMessage?chat_id=1&text=hi', `/bot${TOKEN}/sendMessage?chat_id=1&text=hi`],
  ['/bot/getUpdates?offset=../x', `/bot${TOKEN}/getUpdates?offset=../x`],
  ['/file/bot/documents/file_1.pdf', `/file/bot${TOKEN}/documents/file_1.pdf`],
  ['/file/bot/photos/a.b.jpg', `/file/bot${TOKEN}/photos/a.b.jpg`],
];
for (const [path, expected] of telegramCases) {
  test(`telegram: ${path}`, (t) => {
    const m = telegramMutation(telegram, values({ token: TOKEN }), req(path));
    t.is(m.path, expected);
    t.deepEqual(m.set, []);
    t.deepEqual(m.remove, CREDENTIAL_HEADERS);
    t.is(telegramPath(path, TOKEN), expected);
  });
}
