import test from 'ava';
import fc from 'fast-check';
import { isPaiError } from '../src/errors.js';
import { compileMatcher, matchTarget } from '../src/inject/match.js';
import type { InjectionTarget } from '../src/resources/types.js';

function target(name: string, hosts: string[]): InjectionTarget {
  return {
    kind: 'Provider',
    name,
    type: 'http-token',
    hosts,
    secret: `${name}-secret`,
    requiredKeys: ['token'],
    optionalKeys: [],
    auth: { strategy: 'header', header: 'Authorization', prefix: 'Bearer ', key: 'token' },
  };
}

const github = target('github', ['api.github.com']);
const githubWild = target('github-wild', ['*.github.com']);
const deepWild = target('deep-wild', ['*.eu.x.com']);
const xWild = target('x-wild', ['*.x.com']);
const internal = target('internal', ['10.0.0.1']);
const agent = [githubWild, github, xWild, deepWild, internal];

// [host, expected target name or undefined]; failures (no match) first.
const cases: [string, string | undefined][] = [
  ['github.com', undefined], // *.github.com never matches github.com
  ['x.com', undefined],
  ['api.github.com.evil.net', undefined],
  ['evilapi.github.com.evil.net', undefined],
  ['api-github.com', undefined],
  ['apigithub.com', undefined],
  ['evilgithub.com', undefined],
  ['github.com.evil.net', undefined],
  ['x.com.evil.net', undefined],
  ['evilx.com', undefined],
  ['eu.x.com.evil.net', undefined],
  ['api.github.co', undefined],
  ['api.github.com.', undefined], // not canonical: callers canonicalise first
  ['API.GITHUB.COM', undefined], // idem
  ['10.0.0.2', undefined],
  ['0.0.1', undefined],
  ['[::1]', undefined],
  ['', undefined],
  ['api.github.com', 'github'], // exact beats wildcard, whatever the order
  ['evilapi.github.com', 'github-wild'], // a different name under the wildcard
  ['uploads.github.com', 'github-wild'],
  ['a.b.github.com', 'github-wild'],
  ['a.x.com', 'x-wild'],
  ['a.b.x.com', 'x-wild'],
  ['eu.x.com', 'x-wild'], // *.eu.x.com does not match eu.x.com; *.x.com does
  ['a.eu.x.com', 'deep-wild'], // longest suffix wins
  ['a.b.eu.x.com', 'deep-wild'],
  ['10.0.0.1', 'internal'],
];

for (const [host, expected] of cases) {
  test(`match ${JSON.stringify(host)} → ${expected ?? 'none'}`, (t) => {
    t.is(compileMatcher(agent)(host)?.name, expected);
    t.is(matchTarget(agent, host)?.name, expected);
  });
}

test('wildcards never match IP literals', (t) => {
  const ipWild = [target('ip-wild', ['*.0.1', '*.1'])];
  for (const host of ['10.0.0.1', '1.0.0.1']) {
    t.is(compileMatcher(ipWild)(host), undefined);
    t.is(matchTarget(ipWild, host), undefined);
  }
});

test('ambiguity: the first target in the agent order wins, for exact and wildcard alike', (t) => {
  const first = target('first', ['api.example.com', '*.example.com']);
  const second = target('second', ['api.example.com', '*.example.com']);
  for (const order of [
    [first, second],
    [second, first],
  ]) {
    const m = compileMatcher(order);
    t.is(m('api.example.com'), order[0]);
    t.is(m('other.example.com'), order[0]);
    t.is(matchTarget(order, 'api.example.com'), order[0]);
    t.is(matchTarget(order, 'other.example.com'), order[0]);
  }
});

test('target host patterns are lower-cased and trailing dots dropped', (t) => {
  const m = compileMatcher([target('t', ['API.Example.COM.', '*.Wild.Example.'])]);
  t.is(m('api.example.com')?.name, 't');
  t.is(m('a.wild.example')?.name, 't');
});

const badPatterns = ['', '*', '*.', '**.x.com', 'a.*.com', '*x.com', '.x.com', 'x..com', '*..x.com'];
for (const pattern of badPatterns) {
  test(`compileMatcher refuses host pattern ${JSON.stringify(pattern)}`, (t) => {
    const err = t.throws(() => compileMatcher([target('bad', [pattern])]));
    t.true(isPaiError(err, 'invalid'));
    t.regex(err.message, /bad host pattern/);
  });
}

test('an agent with no targets matches nothing', (t) => {
  t.is(compileMatcher([])('api.github.com'), undefined);
  t.is(matchTarget([], 'api.github.com'), undefined);
});

// Small alphabets make collisions (and near misses) between hosts and patterns likely.
const lbl = fc.constantFrom('a', 'b', 'api', 'x', 'com', 'evil', 'github', 'a-b', '1');
const name = fc.array(lbl, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
const pattern = fc.tuple(fc.boolean(), name).map(([wild, n]) => (wild ? `*.${n}` : n));
const targets = fc
  .array(fc.array(pattern, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 })
  .map((hostLists) => hostLists.map((hosts, i) => target(`t${i}`, hosts)));

/** True when `host` is covered by one of `hosts` under the documented rules (IP literals: exact only). */
function covers(hosts: readonly string[], host: string): boolean {
  const ip = /(^|\.)\d+$/.test(host);
  return hosts.some((h) => (h.startsWith('*.') ? !ip && host.endsWith(h.slice(1)) && host.length > h.length - 1 : h === host));
}

test('property: a host is only ever matched to a target whose hosts cover it', (t) => {
  fc.assert(
    fc.property(targets, name, (ts, host) => {
      const hit = compileMatcher(ts)(host);
      if (hit === undefined) return ts.every((x) => !covers(x.hosts, host));
      if (!covers(hit.hosts, host)) return false;
      // The exact rule and the first-wins rule hold too.
      const exactOwner = ts.find((x) => x.hosts.includes(host));
      return exactOwner === undefined || exactOwner === hit;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: the compiled matcher and the reference matcher always agree', (t) => {
  fc.assert(
    fc.property(targets, name, (ts, host) => compileMatcher(ts)(host) === matchTarget(ts, host)),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: a wildcard never matches its own suffix, nor any host merely ending in its text', (t) => {
  fc.assert(
    fc.property(name, fc.constantFrom('', 'evil', 'x-', 'a.b-'), (suffix, glue) => {
      const m = compileMatcher([target('w', [`*.${suffix}`])]);
      return m(suffix) === undefined && m(`${glue}${suffix}`) === undefined && m(`${suffix}.evil.net`) === undefined;
    }),
  );
  t.pass();
});
