/** Property tests (fast-check): canonicalJson stability, the name/key/host validators, YAML round trips. */
import test from 'ava';
import fc from 'fast-check';
import { hostPatternProblem } from '../src/resources/hosts.js';
import { parseManifestResources, renderResourceJson, renderResourceYaml } from '../src/resources/manifest.js';
import { envNameProblem, keyProblem, nameProblem } from '../src/resources/names.js';
import type { Agent, Provider } from '../src/resources/types.js';
import { canonicalJson } from '../src/resources/validate.js';

/** `value` with the keys of every object in reverse insertion order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reverseKeys(v)]),
  );
}

/** A string of `valid` with one character from `bad` inserted at some position. */
function withBadChar(valid: fc.Arbitrary<string>, bad: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(valid, bad, fc.nat()).map(([s, c, at]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + c + s.slice(i);
  });
}

/** One character outside `allowed`, from all of Unicode's BMP. */
const charOutside = (allowed: RegExp) =>
  fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }).filter((c) => !allowed.test(c));

const DNS_LABEL = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
const SECRET_KEY = fc.stringMatching(/^[-._a-zA-Z0-9]{1,253}$/).filter((k) => k !== '.' && k !== '..');
const ENV_NAME = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,40}$/);
/** DNS names whose last label has a letter (a numeric last label means an IP address). */
const HOST = fc
  .tuple(fc.array(DNS_LABEL, { minLength: 1, maxLength: 4 }), fc.stringMatching(/^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$/))
  .map(([labels, tld]) => [...labels, tld].join('.'));

test('canonicalJson: independent of key order, stable through JSON, same data as JSON.stringify', (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        return (
          canonicalJson(reverseKeys(value)) === text &&
          canonicalJson(JSON.parse(text)) === text &&
          canonicalJson(JSON.parse(JSON.stringify(value))) === text
        );
      }),
      { numRuns: 500 },
    ),
  );
});

test('nameProblem: every DNS label passes; a character outside [a-z0-9-] always fails', (t) => {
  t.notThrows(() => fc.assert(fc.property(DNS_LABEL, (name) => nameProblem(name) === undefined)));
  t.notThrows(() =>
    fc.assert(fc.property(withBadChar(DNS_LABEL, charOutside(/^[a-z0-9-]$/)), (name) => nameProblem(name) !== undefined)),
  );
  t.notThrows(() => fc.assert(fc.property(fc.stringMatching(/^[a-z0-9]{64,80}$/), (name) => nameProblem(name) !== undefined)));
});

test('keyProblem: every Kubernetes secret key passes; a character outside [-._a-zA-Z0-9] always fails', (t) => {
  t.notThrows(() => fc.assert(fc.property(SECRET_KEY, (key) => keyProblem(key) === undefined)));
  t.notThrows(() =>
    fc.assert(fc.property(withBadChar(SECRET_KEY, charOutside(/^[-._a-zA-Z0-9]$/)), (key) => keyProblem(key) !== undefined)),
  );
});

test('envNameProblem: every ^[A-Z_][A-Z0-9_]*$ name passes; anything else fails', (t) => {
  t.notThrows(() => fc.assert(fc.property(ENV_NAME, (name) => envNameProblem(name) === undefined)));
  t.notThrows(() =>
    fc.assert(fc.property(withBadChar(ENV_NAME, charOutside(/^[A-Z0-9_]$/)), (name) => envNameProblem(name) !== undefined)),
  );
});

test('hostPatternProblem: DNS names and "*." wildcards of two or more labels pass; foreign characters fail', (t) => {
  t.notThrows(() => fc.assert(fc.property(HOST, (host) => hostPatternProblem(host) === undefined)));
  t.notThrows(() =>
    fc.assert(
      fc.property(
        HOST.filter((h) => h.includes('.')),
        (host) => hostPatternProblem(`*.${host}`) === undefined,
      ),
    ),
  );
  t.notThrows(() =>
    fc.assert(fc.property(withBadChar(HOST, charOutside(/^[a-z0-9.-]$/)), (host) => hostPatternProblem(host) !== undefined)),
  );
});

const PROVIDER: fc.Arbitrary<Provider> = fc
  .record({
    name: DNS_LABEL,
    hosts: fc.uniqueArray(HOST, { minLength: 1, maxLength: 3 }),
    secretRef: DNS_LABEL,
    secretKey: SECRET_KEY,
    prefix: fc.stringMatching(/^([!-~][ -~]{0,19})?$/),
    note: fc.string({ unit: 'grapheme', maxLength: 40 }),
    namespace: fc.option(DNS_LABEL, { nil: undefined }),
  })
  .map(({ name, hosts, secretRef, secretKey, prefix, note, namespace }) => ({
    apiVersion: 'pai.io/v1' as const,
    kind: 'Provider' as const,
    metadata: { name, ...(namespace === undefined ? {} : { namespace }), annotations: { note } },
    spec: {
      type: 'http-token' as const,
      ...(hosts.length === 1 ? { host: hosts[0] ?? '' } : { hosts }),
      auth: { type: 'api-key' as const, secretRef, secretKey, header: 'X-Token', prefix },
    },
  }));

const AGENT: fc.Arbitrary<Agent> = fc
  .record({
    name: DNS_LABEL,
    models: fc.uniqueArray(fc.tuple(DNS_LABEL, fc.stringMatching(/^[a-z0-9][a-z0-9./-]{0,30}$/)), {
      maxLength: 3,
      selector: (m) => m.join('/'),
    }),
    value: fc.string({ unit: 'grapheme', maxLength: 40 }).filter((v) => !v.includes('\0')),
    image: fc.string({ maxLength: 40 }),
  })
  .map(({ name, models, value, image }) => ({
    apiVersion: 'pai.io/v1' as const,
    kind: 'Agent' as const,
    metadata: { name },
    spec: {
      models: models.map(([mp, id]) => `${mp}/${id}`),
      env: [{ name: 'LITERAL', value }],
      kept: { image, replicas: 1, guards: [{ binding: 'g', scan: { prompts: true } }] },
    },
  }));

test('agents round-trip with their literal env values and the fields other Pai components own', (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.array(AGENT, { maxLength: 3 }), (resources) => {
        const fromYaml = parseManifestResources(renderResourceYaml(resources), 'gen.yaml');
        const fromJson = parseManifestResources(renderResourceJson(resources), 'gen.json');
        return canonicalJson(fromYaml) === canonicalJson(resources) && canonicalJson(fromJson) === canonicalJson(resources);
      }),
      { numRuns: 200 },
    ),
  );
});

test('renderResourceYaml and renderResourceJson round-trip generated resources', (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.array(PROVIDER, { maxLength: 3 }), (resources) => {
        const fromYaml = parseManifestResources(renderResourceYaml(resources), 'gen.yaml');
        const fromJson = parseManifestResources(renderResourceJson(resources), 'gen.json');
        return canonicalJson(fromYaml) === canonicalJson(resources) && canonicalJson(fromJson) === canonicalJson(resources);
      }),
      { numRuns: 200 },
    ),
  );
});
