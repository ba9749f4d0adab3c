/**
 * Property, end to end: through the admin API, the store, the injector's agent directory and
 * resolution, and a real Check over the injector's socket, generated Providers (http, exact and
 * wildcard hosts over a small alphabet, so that hosts overlap and nearly match), an optional
 * openai-compatible ModelProvider, and agents bound to generated subsets of them:
 *
 * - no request for a host outside a provider's hosts ever gets that provider's credential;
 * - no agent ever gets the credential of a provider it is not bound to;
 * - a host the agent's bindings cover always gets exactly the credential the rules choose (exact
 *   beats wildcard, the longest wildcard suffix wins, a pattern bound twice stays with the earlier
 *   binding, model providers before providers), never a bare pass;
 * - everything else passes bare, or is denied egress_denied for an agent with egress: deny.
 *
 * The oracle below is written from DESIGN §6 and the comments of src/inject/match.ts and
 * src/resources/resolve.ts, independently of their code. Every credential is a canary and every
 * answer is searched for all of them. (The pure matcher's own properties are in inject-match.test.ts.)
 */
import anyTest, { type TestFn } from 'ava';
import fc from 'fast-check';
import { findCanary, makeCanary } from './helpers/canary.js';
import { scale } from './helpers/fuzz.js';
import { type Stack, denialBody, resource, startStack } from './helpers/injector.js';

const test = anyTest as TestFn<{ stack: Stack }>;

test.before(async (t) => {
  t.context = { stack: await startStack({ logLevel: 'silent' }) };
});

test.after.always(async (t) => {
  await t.context.stack?.close();
});

const label = fc.constantFrom('a', 'b', 'api', 'x-1');
const tld = fc.constantFrom('test', 'example');
const exactHost = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), tld).map(([ls, t]) => [...ls, t].join('.'));
const wildcard = fc.tuple(fc.array(label, { minLength: 1, maxLength: 2 }), tld).map(([ls, t]) => `*.${[...ls, t].join('.')}`);
const providerHosts = fc.uniqueArray(fc.oneof(exactHost, wildcard), { minLength: 1, maxLength: 3 });

interface World {
  readonly providers: string[][];
  /** The host of the optional openai-compatible ModelProvider. */
  readonly modelHost: string | undefined;
  readonly agents: { providers: number[]; model: boolean; egress: 'allow' | 'deny' }[];
  readonly extraProbes: string[];
  readonly decorations: number[];
}

const world: fc.Arbitrary<World> = fc
  .record({
    providers: fc.array(providerHosts, { minLength: 1, maxLength: 4 }),
    modelHost: fc.option(exactHost, { nil: undefined }),
    extraProbes: fc.array(exactHost, { maxLength: 4 }),
    decorations: fc.array(fc.nat(7), { minLength: 1, maxLength: 8 }),
  })
  .chain((w) =>
    fc
      .array(
        fc.record({
          providers: fc.shuffledSubarray(
            w.providers.map((_, i) => i),
            { minLength: 0 },
          ),
          model: fc.boolean(),
          egress: fc.constantFrom('allow' as const, 'deny' as const),
        }),
        { minLength: 1, maxLength: 3 },
      )
      .map((agents) => ({ ...w, agents })),
  );

interface Target {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly token: string;
}

/** The target the rules choose for canonical `host` among `targets` (in binding order), or undefined. */
function expected(targets: readonly Target[], host: string): Target | undefined {
  // A pattern bound twice stays with the earlier binding.
  const owner = new Map<string, Target>();
  for (const target of targets) for (const h of target.hosts) if (!owner.has(h)) owner.set(h, target);
  const exact = owner.get(host);
  if (exact) return exact;
  let best: Target | undefined;
  let bestLength = -1;
  for (const [pattern, target] of owner) {
    if (!pattern.startsWith('*.')) continue;
    const suffix = pattern.slice(2);
    if (host.endsWith(`.${suffix}`) && suffix.length > bestLength) {
      best = target;
      bestLength = suffix.length;
    }
  }
  return best;
}

/** Probe hosts derived from the patterns: the names themselves, subdomains, and near misses. */
function probes(w: World): string[] {
  const out = new Set<string>(w.extraProbes);
  const patterns = [...w.providers.flat(), ...(w.modelHost ? [w.modelHost] : [])];
  for (const p of patterns) {
    const base = p.startsWith('*.') ? p.slice(2) : p;
    for (const h of [base, `z.${base}`, `a.z.${base}`, `${base}.evil`, `x${base}`, base.replace(/^[^.]+\./, '')]) out.add(h);
  }
  return [...out].filter((h) => h.includes('.'));
}

/** An authority that canonicalises to `host`: case, a trailing dot and ports vary with `d`. */
function decorate(host: string, d: number): { authority: string; scheme: 'http' | 'https' } {
  let a = d & 1 ? host.toUpperCase() : host;
  if (d & 2) a = `${a}.`;
  const scheme = d & 4 ? 'https' : 'http';
  if (d % 3 === 0) a = `${a}:${scheme === 'https' ? 443 : 80}`;
  else if (d % 5 === 0) a = `${a}:8443`;
  return { authority: a, scheme };
}

let runs = 0;

test('generated providers, agents and hosts: a credential only for a covered host of a bound provider', async (t) => {
  const { stack } = t.context;
  const everyToken: string[] = [];
  let checks = 0;
  let injected = 0;
  await fc.assert(
    fc.asyncProperty(world, async (w) => {
      const run = ++runs;
      const targets: Target[] = w.providers.map((hosts, i) => ({
        name: `p${run}-${i}`,
        hosts,
        token: makeCanary(`p${run}-${i}`),
      }));
      const model: Target | undefined = w.modelHost
        ? { name: `m${run}`, hosts: [w.modelHost], token: makeCanary(`m${run}`) }
        : undefined;
      everyToken.push(...targets.map((x) => x.token), ...(model ? [model.token] : []));
      for (const target of targets) {
        await stack.admin.createSecret(`s-${target.name}`, { token: target.token });
        await stack.admin.apply(
          resource('Provider', target.name, { type: 'http', hosts: [...target.hosts], auth: { secretRef: `s-${target.name}` } }),
        );
      }
      if (model) {
        await stack.admin.createSecret(`s-${model.name}`, { 'api-key': model.token });
        await stack.admin.apply(
          resource('ModelProvider', model.name, {
            type: 'openai-compatible',
            baseUrl: `https://${w.modelHost}/v1`,
            apiKeySecretRef: { name: `s-${model.name}`, key: 'api-key' },
          }),
        );
      }
      const hosts = probes(w);
      for (const [j, a] of w.agents.entries()) {
        const agent = `a${run}-${j}`;
        const bound = [
          ...(a.model && model ? [model] : []),
          ...a.providers.map((i) => targets[i]).filter((x): x is Target => x !== undefined),
        ];
        await stack.admin.apply(
          resource('Agent', agent, {
            ...(a.model && model ? { modelProviders: [model.name] } : {}),
            providers: a.providers.map((i) => `p${run}-${i}`),
            egress: a.egress,
          }),
        );
        await Promise.all(
          hosts.map(async (host, k) => {
            const { authority, scheme } = decorate(host, w.decorations[k % w.decorations.length] ?? 0);
            const res = await stack.check({ authority, scheme, agent, headers: [['authorization', 'Bearer agent-own']] });
            checks++;
            const text = JSON.stringify(res);
            const want = expected(bound, host);
            const leaked = everyToken.filter((tok) => tok !== want?.token && findCanary(text, tok).length > 0);
            if (leaked.length > 0) throw new Error(`${agent} → ${authority}: a credential it must not get (${leaked.length})`);
            const auth = res.ok_response?.headers?.filter((h) => h.header?.key === 'authorization').map((h) => h.header?.value);
            if (want) {
              if (res.status?.code !== 0 || auth?.length !== 1 || auth[0] !== `Bearer ${want.token}`) {
                throw new Error(`${agent} → ${authority}: expected ${want.name}'s credential, got ${text.slice(0, 300)}`);
              }
              injected++;
            } else if (a.egress === 'deny') {
              if (denialBody(res)?.error.code !== 'egress_denied')
                throw new Error(`${agent} → ${authority}: expected egress_denied, got ${text.slice(0, 300)}`);
            } else if (res.status?.code !== 0 || (auth?.length ?? 0) !== 0) {
              throw new Error(`${agent} → ${authority}: expected a bare pass, got ${text.slice(0, 300)}`);
            }
          }),
        );
      }
    }),
    { numRuns: scale(100, 1000) },
  );
  t.log(`${runs} generated worlds, ${checks} Checks (${injected} injections), ${everyToken.length} canary credentials`);
  t.true(checks > 0 && injected > 0);
});

test('an agent name that was never applied is denied unknown_agent for every host', async (t) => {
  const { stack } = t.context;
  await fc.assert(
    fc.asyncProperty(exactHost, fc.stringMatching(/^zz[a-z0-9]{1,8}$/), async (host, agent) => {
      const res = await stack.check({ authority: host, agent });
      return denialBody(res)?.error.code === 'unknown_agent' && res.ok_response === undefined;
    }),
    { numRuns: scale(50, 500) },
  );
  t.pass();
});
