/** resolveAgent: broken bindings and host conflicts first, then ordering and pass-through. */
import test from 'ava';
import { resolveAgent } from '../src/resources/resolve.js';
import type { Agent, ModelProvider, Provider } from '../src/resources/types.js';
import { agent as typedAgent, mp, provider } from './helpers/typed-resources.js';

const agent = (spec: Agent['spec']): Agent => typedAgent('bot', spec);
const byName = <T extends ModelProvider | Provider>(...items: T[]) => new Map(items.map((r) => [r.metadata.name, r]));

const gemini = mp('gemini', { provider: 'gemini', apiKeySecretRef: { name: 'gemini-key', key: 'api-key' } });
const openai = mp('openai', { provider: 'openai', apiKeySecretRef: { name: 'openai-key', key: 'api-key' } });
const github = provider('github', { type: 'github', auth: { secretRef: 'github-pat' } });
const gcp = provider('gcp', { type: 'gcp', auth: { secretRef: 'sa' } });
const shadow = provider('shadow', {
  type: 'http-token',
  hosts: ['api.openai.com', 'other.example.com'],
  auth: { secretRef: 's' },
});
const onlyGithub = provider('only-github', { type: 'http-token', hosts: ['api.github.com'], auth: { secretRef: 's' } });
const stale = provider('stale', { type: 'http-token', auth: { secretRef: 's' } }); // no hosts: an old stored document

test('a binding to a missing or unusable resource is skipped and reported', (t) => {
  const { agent: resolved, broken } = resolveAgent(
    agent({ modelProviders: ['nope', 'gemini'], providers: ['gone', 'stale', 'github'] }),
    byName(github, stale),
    byName(gemini),
  );
  t.deepEqual(
    resolved.targets.map((x) => x.name),
    ['gemini', 'github'],
  );
  t.deepEqual(
    broken.map((b) => [b.kind, b.name, b.field]),
    [
      ['Agent', 'bot', 'spec.modelProviders[0]'],
      ['Agent', 'bot', 'spec.providers[0]'],
      ['Agent', 'bot', 'spec.providers[1]'],
    ],
  );
  t.regex(broken[0]?.message ?? '', /^ModelProvider "nope" does not exist$/);
  t.regex(broken[1]?.message ?? '', /^Provider "gone" does not exist$/);
  t.regex(broken[2]?.message ?? '', /^Provider "stale" cannot be used: .*spec\.host is required for type http-token/);
});

test('a host bound twice stays with the earlier binding; the later loses only that host', (t) => {
  const {
    agent: resolved,
    conflicts,
    broken,
  } = resolveAgent(agent({ modelProviders: ['openai'], providers: ['shadow'] }), byName(shadow), byName(openai));
  t.deepEqual(broken, []);
  t.deepEqual(
    resolved.targets.map((x) => [x.name, x.hosts]),
    [
      ['openai', ['api.openai.com']],
      ['shadow', ['other.example.com']],
    ],
  );
  t.deepEqual(conflicts, [
    {
      host: 'api.openai.com',
      kept: { kind: 'ModelProvider', name: 'openai' },
      dropped: { kind: 'Provider', name: 'shadow', field: 'spec.providers[0]' },
    },
  ]);
});

test('a target left without hosts is dropped', (t) => {
  const { agent: resolved, conflicts } = resolveAgent(
    agent({ providers: ['github', 'only-github'] }),
    byName(github, onlyGithub),
    new Map(),
  );
  t.deepEqual(
    resolved.targets.map((x) => x.name),
    ['github'],
  );
  t.is(conflicts.length, 1);
  t.is(conflicts[0]?.dropped.name, 'only-github');
});

test('a wildcard and an exact host are not a conflict (exact beats wildcard when matching)', (t) => {
  const { agent: resolved, conflicts } = resolveAgent(
    agent({ modelProviders: ['gemini'], providers: ['gcp'] }),
    byName(gcp),
    byName(gemini),
  );
  t.deepEqual(conflicts, []);
  t.deepEqual(
    resolved.targets.flatMap((x) => x.hosts),
    ['generativelanguage.googleapis.com', '*.googleapis.com'],
  );
});

test('targets are ordered as bound: modelProviders, then providers, each in spec order', (t) => {
  const { agent: resolved } = resolveAgent(
    agent({ providers: ['gcp', 'github'], modelProviders: ['openai', 'gemini'] }),
    byName(github, gcp),
    byName(gemini, openai),
  );
  t.deepEqual(
    resolved.targets.map((x) => `${x.kind}/${x.name}`),
    ['ModelProvider/openai', 'ModelProvider/gemini', 'Provider/gcp', 'Provider/github'],
  );
});

test('egress defaults to allow; env passes through', (t) => {
  const env = [{ name: 'A', secretRef: { name: 's', key: 'k' } }];
  const open = resolveAgent(agent({ env }), new Map(), new Map());
  t.deepEqual(open.agent, { namespace: 'default', name: 'bot', egress: 'allow', targets: [], env });
  t.deepEqual(open.broken, []);
  t.is(resolveAgent(agent({ egress: 'deny' }), new Map(), new Map()).agent.egress, 'deny');
});
