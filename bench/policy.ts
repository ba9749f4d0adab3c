/**
 * Cost of the policy decision (evaluatePolicy) for a GitHub Provider with a 20-action allow list,
 * a deny list and a 2-repository scope, side by side with the same request without policy (what
 * the injector does today for it: nothing). Run: npx tsx bench/policy.ts [iterations]
 * The "without policy" column times the per-request work that stays either way (host match and
 * header strategy are outside this core), so the ratio shown is policy cost alone vs. a no-op
 * baseline; ns/op is the figure to add to a Check.
 */
import { compileProviderPolicy as compilePolicy } from '../src/providers/registry.js';
import { evaluatePolicy } from '../src/policy/evaluate.js';
import type { PolicyInput } from '../src/policy/request.js';
import { BENCH_GITHUB_ALLOW, BENCH_GITHUB_DENY } from './lib.js';

const N = Number(process.argv[2] ?? 1_000_000);

const compiled = compilePolicy('github', {
  policy: { allow: [...BENCH_GITHUB_ALLOW], deny: [...BENCH_GITHUB_DENY] },
  scope: { repositories: ['myorg/my-repo', 'myorg/docs'] },
});
if (compiled === undefined) throw new Error('bench setup: no policy');

const headers: [string, string][] = [
  [':method', 'POST'],
  [':scheme', 'https'],
  [':authority', 'api.github.com'],
  [':path', '/repos/myorg/my-repo/issues/12/comments'],
  ['user-agent', 'agent/1.0'],
  ['content-type', 'application/json'],
  ['authorization', 'Bearer agent-own'],
  ['accept', '*/*'],
];
const request: PolicyInput = { method: 'POST', path: '/repos/myorg/my-repo/issues/12/comments', host: 'api.github.com', headers };
const denied: PolicyInput = { ...request, method: 'DELETE', path: '/repos/myorg/my-repo' };

let sink = 0;
function bench(fn: () => unknown, n = N): number {
  for (let i = 0; i < Math.min(n, 100_000); i++) if (fn() !== undefined) sink++;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (fn() !== undefined) sink++;
  return Number(process.hrtime.bigint() - start) / n;
}

const check = evaluatePolicy(compiled, request);
if (check.decision !== 'allow' || evaluatePolicy(compiled, denied).decision !== 'deny')
  throw new Error('bench setup: wrong verdicts');

// Without policy: the injector's view of the same request, and no evaluation (compilePolicy → undefined).
const none = compilePolicy('github', {});
const baseline = bench(() => (none === undefined ? request.path : undefined));
const withPolicy = bench(() => evaluatePolicy(compiled, request));
const deny = bench(() => evaluatePolicy(compiled, denied));
const row = (name: string, ns: number): string =>
  `${name.padEnd(44)} ${ns.toFixed(0).padStart(6)} ns/op ${(1e9 / ns).toFixed(0).padStart(12)} ops/s`;
console.log(`policy bench, ${N} iterations, node ${process.version}`);
console.log(row('without policy (no evaluation)', baseline));
console.log(row('with policy: allow (20 allow, 3 deny, 2 repos)', withPolicy));
console.log(row('with policy: deny (repo:delete)', deny));
console.log(
  `policy cost per request: ${(withPolicy - baseline).toFixed(0)} ns; ops/s ratio with/without: ${(baseline / withPolicy).toFixed(4)}`,
);
console.log(`(sink ${sink})`);
