/**
 * Shared timing helpers of the grpc-js benchmarks (gateway, policy-check): serial latency and
 * capacity at a fixed number of calls in flight for one async call, medians over rounds, and a
 * plain table. Every call passed in is expected to check its own answer and throw when it is wrong.
 */
import { GITHUB_ACTIONS } from '../src/providers/action-words.js';

/**
 * The policy benchmarks' 20-entry GitHub allow list: every documented action word, then every group
 * (deny wins for those the benchmarks also deny). A request's action is found among the words.
 */
export const BENCH_GITHUB_ALLOW: readonly string[] = [
  ...GITHUB_ACTIONS,
  ...new Set(GITHUB_ACTIONS.map((a) => `${a.slice(0, a.indexOf(':'))}:*`)),
];
export const BENCH_GITHUB_DENY: readonly string[] = ['admin:*', 'repo:delete', 'org:update'];
export interface Figures {
  serialUsPerReq: number;
  serialP50Us: number;
  serialP99Us: number;
  capacityRps: number;
}

export const FIGURE_KEYS: readonly (keyof Figures)[] = ['serialUsPerReq', 'serialP50Us', 'serialP99Us', 'capacityRps'];

/** The p-th percentile of an ascending list (nearest rank). */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** The median of a list of numbers. */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

/** `n` calls one at a time: µs per request, p50 and p99. */
export async function serial(call: () => Promise<void>, n: number): Promise<Omit<Figures, 'capacityRps'>> {
  const latencies: number[] = [];
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await call();
    latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  const totalUs = Number(process.hrtime.bigint() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { serialUsPerReq: totalUs / n, serialP50Us: percentile(latencies, 50), serialP99Us: percentile(latencies, 99) };
}

/** `n` calls with `inFlight` outstanding at all times; resolves with requests/s. */
export async function capacity(call: () => Promise<void>, n: number, inFlight: number): Promise<number> {
  let issued = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (issued < n) {
      issued++;
      await call();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** The median of each figure over the rounds of each mode. */
export function medians<M extends string>(perRound: Readonly<Record<M, readonly Figures[]>>): Record<M, Figures> {
  const out = {} as Record<M, Figures>;
  for (const mode of Object.keys(perRound) as M[]) {
    out[mode] = Object.fromEntries(FIGURE_KEYS.map((k) => [k, median(perRound[mode].map((f) => f[k]))])) as unknown as Figures;
  }
  return out;
}

/** Prints one row per mode (serial µs/req, p50, p99, capacity, ratio of capacity to `base`'s). */
export function printFigures<M extends string>(result: Readonly<Record<M, Figures>>, base: M, inFlight: number): void {
  const modes = Object.keys(result) as M[];
  const rows = [
    ['mode', 'serial µs/req', 'p50', 'p99', `req/s (${inFlight} in flight)`, `vs ${base}`],
    ...modes.map((m) => {
      const f = result[m];
      return [
        m,
        f.serialUsPerReq.toFixed(0),
        `${f.serialP50Us.toFixed(0)} µs`,
        `${f.serialP99Us.toFixed(0)} µs`,
        f.capacityRps.toFixed(0),
        `${(f.capacityRps / result[base].capacityRps).toFixed(2)}×`,
      ];
    }),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const row of rows) console.log(`  ${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`);
}
