/**
 * src/heap.ts: the idle collector. `shouldCollect` as a table; the timer shell with a fake window
 * source and collector (never the real gc); nothing scheduled when gc is not exposed.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import {
  type HeapState,
  type HeapWindow,
  IdleCollector,
  collectionTook,
  QUIET_MS,
  REGROWTH_BYTES,
  collectWhenIdle,
  shouldCollect,
} from '../src/heap.js';
import { PAI_NODE_FLAGS, PAI_POD_NODE_FLAGS, startServe, tempDir } from './helpers/process.js';

const MiB = 1024 * 1024;

const rows: [string, HeapState, number | undefined, boolean][] = [
  ['quiet long enough, never collected: collect', { quietMs: QUIET_MS, heapTotal: 30 * MiB }, undefined, true],
  ['quiet, but not long enough: wait', { quietMs: QUIET_MS - 1, heapTotal: 30 * MiB }, undefined, false],
  ['busy (quiet 0): wait', { quietMs: 0, heapTotal: 300 * MiB }, undefined, false],
  [
    'quiet, regrown by 8 MiB since the last: collect',
    { quietMs: QUIET_MS, heapTotal: 10 * MiB + REGROWTH_BYTES },
    10 * MiB,
    true,
  ],
  ['quiet, regrown by less: wait', { quietMs: 60_000, heapTotal: 10 * MiB + REGROWTH_BYTES - 1 }, 10 * MiB, false],
  ['quiet, smaller than after the last: wait', { quietMs: QUIET_MS, heapTotal: 8 * MiB }, 10 * MiB, false],
  ['busy and regrown: wait (never under load)', { quietMs: 0, heapTotal: 80 * MiB }, 10 * MiB, false],
  ['a NaN quiet time is not quiet', { quietMs: Number.NaN, heapTotal: 80 * MiB }, undefined, false],
];
for (const [name, state, baseline, expected] of rows) {
  test(`shouldCollect: ${name}`, (t) => {
    t.is(shouldCollect(state, baseline), expected);
  });
}

test('the collector: collects after 10 s of quiet windows, restarts the count on a busy one, then waits for regrowth', (t) => {
  const quiet = (heap: number): HeapWindow => ({ utilization: 0.001, heapTotal: heap * MiB });
  const busy = (heap: number): HeapWindow => ({ utilization: 0.3, heapTotal: heap * MiB });
  // Windows of 2.5 s: 4 quiet ones make the 10 s.
  const windows: HeapWindow[] = [
    busy(40), // 1 start-up
    quiet(40), // 2
    quiet(40), // 3
    busy(40), // 4 a request burst: the count restarts
    quiet(40), // 5
    quiet(40), // 6
    quiet(40), // 7
    quiet(40), // 8: 10 s quiet → collect (heap → 12 MiB)
    quiet(13), // 9
    quiet(13), // 10
    quiet(13), // 11
    quiet(13), // 12: quiet 10 s again, but not regrown → no collection
    busy(200), // 13 load
    quiet(200), // 14
    quiet(200), // 15
    quiet(200), // 16
    quiet(200), // 17: collect
  ];
  const collected: number[] = [];
  // Each collection takes (the heap is 12 MiB after it, far below every `before`).
  const collector = new IdleCollector(
    2500,
    () => collected.push(collected.length),
    () => 12 * MiB,
  );
  const fired = windows.flatMap((w, k) => (collector.tick(w) ? [k + 1] : []));
  t.deepEqual(fired, [8, 17], 'collected after the 8th and the 17th window');
  t.is(collected.length, 2);
});

test('the collector: a collection that frees less than 1 MiB is tried again in the next quiet windows, at most 4 times', (t) => {
  const quiet: HeapWindow = { utilization: 0, heapTotal: 30 * MiB };
  const afters = [29.5, 30, 29.8, 29.9, 29.9, 29.9, 29.9, 29.9].map((m) => m * MiB); // never frees 1 MiB
  let k = 0;
  const collector = new IdleCollector(
    2500,
    () => undefined,
    () => afters[k++] ?? 0,
  );
  const fired = Array.from({ length: 12 }, (_, i) => (collector.tick(quiet) ? i + 1 : 0)).filter((i) => i > 0);
  // 4 windows to reach 10 s of quiet, then one try per window, 4 in all; then it waits for regrowth.
  t.deepEqual(fired, [4, 5, 6, 7]);

  let m = 0;
  const second = new IdleCollector(
    2500,
    () => undefined,
    () => ([29.9, 12][m++] ?? 0) * MiB,
  );
  const fired2 = Array.from({ length: 8 }, (_, i) => (second.tick(quiet) ? i + 1 : 0)).filter((i) => i > 0);
  t.deepEqual(fired2, [4, 5], 'the second try freed enough: settled');
});

test('collectionTook: freed 1 MiB or more', (t) => {
  t.true(collectionTook(30 * MiB, 29 * MiB));
  t.true(collectionTook(30 * MiB, 12 * MiB));
  t.false(collectionTook(30 * MiB, 29 * MiB + 1));
  t.false(collectionTook(30 * MiB, 31 * MiB), 'a collection that grew the heap did not take');
});

test('the timer: one sample per window; no collection before QUIET_MS of quiet windows', async (t) => {
  let samples = 0;
  let calls = 0;
  const stop = collectWhenIdle({
    windowMs: 5,
    gc: () => calls++,
    sample: () => (samples++, { utilization: 0, heapTotal: 1e12 }),
  });
  t.teardown(stop);
  await sleep(100);
  t.true(samples >= 5, `${samples} samples`);
  t.is(calls, 0, `${samples} quiet windows of 5 ms are not ${QUIET_MS} ms`);
});

test('stopped (pai serve closed): no further collection', async (t) => {
  let calls = 0;
  const stop = collectWhenIdle({ windowMs: 5, gc: () => calls++, sample: () => ({ utilization: 0, heapTotal: 1e12 }) });
  stop();
  await sleep(100);
  t.is(calls, 0);
});

test('without gc exposed: nothing is scheduled and stopping is harmless', (t) => {
  const stop = collectWhenIdle({ gc: undefined, sample: () => t.fail('sampled') });
  t.notThrows(stop);
});

test('pai serve under the pod profile: an idle injector is collected once quiet, and its heap shrinks', async (t) => {
  const dir = tempDir('pai-heap-');
  const server = await startServe({
    dataDir: path.join(dir, 'data'),
    args: ['--role', 'injector'],
    nodeFlags: [...PAI_NODE_FLAGS, ...PAI_POD_NODE_FLAGS],
    env: { PAI_INJECTOR_LISTEN: `unix:${path.join(dir, 'inj.sock')}`, PAI_LOG_LEVEL: 'debug' },
  });
  t.teardown(() => server.stop());
  // The debug line of each collection: the committed heap before and after, MiB.
  const freed = (): number[] =>
    [...server.stderr().matchAll(/"heapMiB":([\d.]+),"afterMiB":([\d.]+)/g)].map((m) => Number(m[1]) - Number(m[2]));
  // 10 s of quiet, then up to 4 tries 2.5 s apart: one that freed 1 MiB or more well within 40 s.
  const deadline = Date.now() + 40_000;
  while (!freed().some((f) => f >= 1) && Date.now() < deadline) await sleep(500);
  t.true(
    freed().some((f) => f >= 1),
    `collections (MiB freed): ${JSON.stringify(freed())}; log tail: ${server.stderr().slice(-600)}`,
  );
  t.true(freed().length <= 4, 'at most 4 tries before one took');
});
