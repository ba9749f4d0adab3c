/**
 * Micro-benchmark of the pure injection core: the per-request decision path of the injector.
 * Run: npx tsx bench/inject-core.ts [iterations]
 * Prints ns/op for canonicalisation, matching, the header strategy, the whole decision, and
 * µs/op for SigV4 (small and 1 MiB bodies).
 */
import { canonicalAuthority, requestHost } from '../src/inject/host.js';
import { compileMatcher } from '../src/inject/match.js';
import type { InjectRequest } from '../src/inject/mutation.js';
import { sigv4Mutation } from '../src/inject/sigv4.js';
import { mutationFor } from '../src/inject/strategies.js';
import type { InjectionTarget } from '../src/resources/types.js';

const N = Number(process.argv[2] ?? 1_000_000);

function target(name: string, hosts: string[], auth: InjectionTarget['auth'] = bearerAuth): InjectionTarget {
  return {
    kind: 'Provider',
    name,
    type: 'http-token',
    hosts,
    secret: `${name}-secret`,
    requiredKeys: [],
    optionalKeys: [],
    auth,
  };
}
const bearerAuth = { strategy: 'header', header: 'Authorization', prefix: 'Bearer ', key: 'token' } as const;

// A realistic agent: a few model providers and providers, some wildcards.
const targets: InjectionTarget[] = [
  target('openai', ['api.openai.com']),
  target('anthropic', ['api.anthropic.com'], { strategy: 'header', header: 'x-api-key', prefix: '', key: 'token' }),
  target('gemini', ['generativelanguage.googleapis.com']),
  target('github', ['api.github.com', 'uploads.github.com']),
  target('internal', ['*.svc.cluster.local', '*.internal.example.com']),
  target('aws', ['*.amazonaws.com'], { strategy: 'sigv4' }),
  ...Array.from({ length: 14 }, (_, i) => target(`extra${i}`, [`api${i}.example.org`, `*.zone${i}.example.net`])),
];
const matcher = compileMatcher(targets);
const values = new Map([['token', Buffer.from('ghp_0123456789abcdefghijklmnopqrstuvwxyz')]]);
const headers: [string, string][] = [
  [':method', 'POST'],
  [':scheme', 'http'],
  [':authority', 'api.github.com'],
  [':path', '/repos/o/r/issues'],
  ['user-agent', 'agent/1.0'],
  ['content-type', 'application/json'],
  ['authorization', 'Bearer agent-own'],
  ['accept', '*/*'],
];
const request: InjectRequest = { method: 'POST', path: '/repos/o/r/issues', headers, host: 'api.github.com' };
const github = matcher('api.github.com');
if (github === undefined) throw new Error('bench setup: no match');

let sink = 0;
function bench(name: string, fn: () => unknown, n = N): void {
  for (let i = 0; i < Math.min(n, 100_000); i++) fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (fn() !== undefined) sink++;
  const ns = Number(process.hrtime.bigint() - start) / n;
  console.log(`${name.padEnd(52)} ${ns < 1000 ? `${ns.toFixed(0)} ns/op` : `${(ns / 1000).toFixed(1)} µs/op`}`);
}

async function benchAsync(name: string, fn: () => Promise<unknown>, n: number): Promise<void> {
  for (let i = 0; i < Math.min(n, 50); i++) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if ((await fn()) !== undefined) sink++;
  const us = Number(process.hrtime.bigint() - start) / n / 1000;
  console.log(`${name.padEnd(52)} ${us.toFixed(1)} µs/op`);
}

console.log(`inject-core bench, ${N} iterations, node ${process.version}`);
bench('canonicalAuthority (lower-case, no port)', () => canonicalAuthority('api.github.com', 'https'));
bench('canonicalAuthority (upper-case, default port)', () => canonicalAuthority('API.GitHub.com:443', 'https'));
bench('requestHost (8 headers)', () => requestHost(headers, 'http'));
bench('match: exact hit (20 targets)', () => matcher('api.github.com'));
bench('match: wildcard hit (4 labels)', () => matcher('a.b.svc.cluster.local'));
bench('match: miss (4 labels)', () => matcher('www.static.example.com'));
bench('header strategy (Bearer)', () => mutationFor(github, values, request));
bench('decision: requestHost + match + header strategy', () => {
  const host = requestHost(headers, 'http');
  const t = matcher(host.host);
  return t === undefined ? undefined : mutationFor(t, values, request);
});
bench('query strategy (path rewrite)', () =>
  mutationFor(target('q', ['x'], { strategy: 'query', param: 'key', key: 'token' }), values, {
    ...request,
    path: '/v1?a=1&key=2',
  }),
);

const aws = matcher('bedrock-runtime.us-east-1.amazonaws.com');
if (aws === undefined) throw new Error('bench setup: no aws match');
const awsValues = new Map([
  ['access_key_id', Buffer.from('AKIDEXAMPLE')],
  ['secret_access_key', Buffer.from('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')],
]);
const awsRequest: InjectRequest = {
  method: 'POST',
  path: '/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke',
  host: 'bedrock-runtime.us-east-1.amazonaws.com',
  headers: [['content-type', 'application/json']],
};
const now = new Date('2024-01-01T00:00:00Z');
const small = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'hello' }] }));
const large = Buffer.alloc(1024 * 1024, 0x61);
await benchAsync('sigv4 (bedrock, 60-byte body)', () => sigv4Mutation(aws, awsValues, awsRequest, small, now), 5_000);
await benchAsync('sigv4 (bedrock, 1 MiB body)', () => sigv4Mutation(aws, awsValues, awsRequest, large, now), 20);
console.log(`(sink ${sink})`);
