import test from 'ava';
import fc from 'fast-check';
import { isPaiError } from '../src/errors.js';
import { canonicalAuthority, formatAuthority, requestHost } from '../src/inject/host.js';

const refused: [authority: string, scheme: 'http' | 'https', reason: RegExp][] = [
  ['', 'https', /empty authority/],
  ['user@api.github.com', 'https', /userinfo/],
  ['user:pass@api.github.com', 'https', /userinfo/],
  ['api.github.com@evil.net', 'https', /userinfo/],
  ['api.github.com:', 'https', /empty port/],
  ['api.github.com:0', 'https', /port out of range/],
  ['api.github.com:65536', 'https', /port out of range/],
  ['api.github.com:0443', 'https', /leading zero/],
  ['api.github.com:+443', 'https', /bad port/],
  ['api.github.com:443:443', 'https', /more than one ":"/],
  ['api.github.com:https', 'https', /bad port/],
  ['api.github.com:123456', 'https', /bad port/],
  [':443', 'https', /empty host name/],
  ['.', 'https', /empty label/],
  ['..', 'https', /empty label/],
  ['.api.github.com', 'https', /empty label/],
  ['api..github.com', 'https', /empty label/],
  ['api.github.com..', 'https', /empty label/],
  ['api github.com', 'https', /whitespace/],
  [' api.github.com', 'https', /whitespace/],
  ['api.github.com\t', 'https', /whitespace/],
  ['api.github.com\r\nx: y', 'https', /control character/],
  ['api.github.com\0', 'https', /control character/],
  ['api%2egithub.com', 'https', /percent-encoding/],
  ['%61pi.github.com', 'https', /percent-encoding/],
  ['bücher.example', 'https', /non-ASCII/],
  ['api.github.com/evil', 'https', /"\/"/],
  ['api.github.com\\evil', 'https', /"\\"/],
  ['api.github.com?x', 'https', /"\?"/],
  ['api.github.com#x', 'https', /"#"/],
  ['*.github.com', 'https', /"\*"/],
  [`${'a'.repeat(64)}.com`, 'https', /label longer than 63/],
  [`${'a.'.repeat(127)}com`, 'https', /longer than 253/],
  ['127.1', 'http', /dotted-quad/],
  ['2130706433', 'http', /dotted-quad/],
  ['0x7f.0.0.1', 'http', /canonical decimal/],
  ['127.0.0.0x1', 'http', /canonical decimal/],
  ['010.0.0.1', 'http', /canonical decimal/],
  ['1.2.3.256', 'http', /out of range/],
  ['1.2.3.4.5', 'http', /dotted-quad/],
  ['evil.com.0x10', 'http', /dotted-quad/],
  ['example.0x', 'http', /dotted-quad/], // WHATWG: a last label "0x" is the number 0
  ['[::1', 'http', /unterminated/],
  ['[]', 'http', /bad IPv6/],
  ['[fe80::1%25eth0]', 'http', /zone identifiers/],
  ['[v1.fe80::a+en1]', 'http', /IPvFuture/],
  ['[::1]x', 'http', /after "\]"/],
  ['[::1]:', 'http', /empty port/],
  ['[1:2:3:4:5:6:7:8:9]', 'http', /bad IPv6/],
  ['[::1]]', 'http', /after "\]"/],
  ['a]b', 'http', /misplaced/],
];

for (const [authority, scheme, reason] of refused) {
  test(`canonicalAuthority refuses ${JSON.stringify(authority)}`, (t) => {
    const err = t.throws(() => canonicalAuthority(authority, scheme));
    t.true(isPaiError(err, 'bad_host'), String(err));
    t.regex(err.message, reason);
  });
}

const accepted: [authority: string, scheme: 'http' | 'https', host: string, port: number | undefined, kind: string][] = [
  ['api.github.com', 'https', 'api.github.com', undefined, 'dns'],
  ['API.GitHub.COM', 'https', 'api.github.com', undefined, 'dns'],
  ['api.github.com.', 'https', 'api.github.com', undefined, 'dns'],
  ['api.github.com.:443', 'https', 'api.github.com', undefined, 'dns'],
  ['api.github.com:443', 'https', 'api.github.com', undefined, 'dns'],
  ['api.github.com:80', 'http', 'api.github.com', undefined, 'dns'],
  ['api.github.com:80', 'https', 'api.github.com', 80, 'dns'],
  ['api.github.com:443', 'http', 'api.github.com', 443, 'dns'],
  ['api.github.com:8443', 'https', 'api.github.com', 8443, 'dns'],
  ['api.github.com:65535', 'https', 'api.github.com', 65535, 'dns'],
  ['localhost', 'http', 'localhost', undefined, 'dns'],
  ['xn--bcher-kva.example', 'https', 'xn--bcher-kva.example', undefined, 'dns'],
  ['XN--BCHER-KVA.example', 'https', 'xn--bcher-kva.example', undefined, 'dns'],
  ['_dmarc.example.com', 'https', '_dmarc.example.com', undefined, 'dns'],
  ['123.example.com', 'https', '123.example.com', undefined, 'dns'],
  ['1.2.3.4', 'http', '1.2.3.4', undefined, 'ipv4'],
  ['1.2.3.4.', 'http', '1.2.3.4', undefined, 'ipv4'],
  ['10.0.0.1:8080', 'http', '10.0.0.1', 8080, 'ipv4'],
  ['0.0.0.0', 'http', '0.0.0.0', undefined, 'ipv4'],
  ['[::1]', 'http', '[::1]', undefined, 'ipv6'],
  ['[::1]:80', 'http', '[::1]', undefined, 'ipv6'],
  ['[0:0:0:0:0:0:0:1]:8080', 'http', '[::1]', 8080, 'ipv6'],
  ['[2001:DB8:0:0:1:0:0:1]', 'https', '[2001:db8::1:0:0:1]', undefined, 'ipv6'],
  ['[::ffff:192.0.2.1]', 'https', '[::ffff:c000:201]', undefined, 'ipv6'],
];

for (const [authority, scheme, host, port, kind] of accepted) {
  test(`canonicalAuthority(${JSON.stringify(authority)}, ${scheme}) = ${host}${port === undefined ? '' : `:${port}`}`, (t) => {
    t.deepEqual(canonicalAuthority(authority, scheme), { host, port, kind });
  });
}

const badHeaderSets: [name: string, headers: [string, string][], reason: RegExp][] = [
  ['no authority at all', [['x-other', 'a']], /no :authority or host/],
  [
    'duplicate :authority',
    [
      [':authority', 'a.com'],
      [':authority', 'a.com'],
    ],
    /duplicate :authority/,
  ],
  [
    'duplicate host',
    [
      ['host', 'a.com'],
      ['Host', 'b.com'],
    ],
    /duplicate host/,
  ],
  [
    ':authority and host disagree',
    [
      [':authority', 'api.github.com'],
      ['host', 'evil.net'],
    ],
    /disagree/,
  ],
  [
    'ports disagree',
    [
      [':authority', 'api.github.com'],
      ['host', 'api.github.com:8443'],
    ],
    /disagree/,
  ],
  [
    'bad host header beside good authority',
    [
      [':authority', 'api.github.com'],
      ['host', 'u@api.github.com'],
    ],
    /userinfo/,
  ],
];

for (const [name, headers, reason] of badHeaderSets) {
  test(`requestHost refuses: ${name}`, (t) => {
    const err = t.throws(() => requestHost(headers, 'https'));
    t.true(isPaiError(err, 'bad_host'));
    t.regex(err.message, reason);
  });
}

test('requestHost takes :authority, or host, and accepts equal spellings of both', (t) => {
  t.is(requestHost([[':authority', 'API.github.com']], 'https').host, 'api.github.com');
  t.is(requestHost([['Host', 'api.github.com.']], 'https').host, 'api.github.com');
  const both = requestHost(
    [
      [':authority', 'api.github.com:443'],
      ['host', 'API.GITHUB.COM'],
    ],
    'https',
  );
  t.deepEqual(both, { host: 'api.github.com', port: undefined, kind: 'dns' });
});

// Generators for authorities: DNS names (mixed case, optional trailing dot), IPv4 and IPv6
// literals, with and without ports.
const label = fc.stringMatching(/^[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,10}[a-zA-Z0-9_])?$/);
const dnsName = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 4 }), fc.stringMatching(/^[a-zA-Z]{2,6}$/), fc.boolean())
  .map(([labels, tld, dot]) => `${[...labels, tld].join('.')}${dot ? '.' : ''}`);
const authority = fc
  .tuple(
    fc.oneof(
      dnsName,
      fc.ipV4(),
      fc.ipV6().map((a) => `[${a}]`),
    ),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  )
  .map(([host, port]) => (port === undefined ? host : `${host}:${port}`));

test('property: canonicalisation is idempotent on everything it accepts', (t) => {
  fc.assert(
    fc.property(authority, fc.constantFrom('http' as const, 'https' as const), (a, scheme) => {
      const once = canonicalAuthority(a, scheme);
      const twice = canonicalAuthority(formatAuthority(once), scheme);
      return (
        once.host === twice.host && once.port === twice.port && once.kind === twice.kind && once.host === once.host.toLowerCase()
      );
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: arbitrary strings either canonicalise idempotently or throw bad_host, nothing else', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (a) => {
      try {
        const once = canonicalAuthority(a, 'https');
        const twice = canonicalAuthority(formatAuthority(once), 'https');
        return once.host === twice.host && once.port === twice.port;
      } catch (err) {
        return isPaiError(err, 'bad_host');
      }
    }),
    { numRuns: 3000 },
  );
  t.pass();
});
