/**
 * src/heap.ts: the idle collector. `shouldCollect` as a table; the timer shell with a fake window
 * source and collector (never the real gc); nothing scheduled when gc is not exposed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { type HeapWindow, IDLE_UTILIZATION, REGROWTH_BYTES, collectWhenIdle, shouldCollect } from '../src/heap.js';

const MiB = 1024 * 1024;

const rows: [string, HeapWindow, number | undefined, boolean][] = [
  ['idle, never collected: collect', { utilization: 0.001, heapTotal: 30 * MiB }, undefined, true],
  ['busy, never collected: wait', { utilization: 0.5, heapTotal: 30 * MiB }, undefined, false],
  ['at the threshold is busy', { utilization: IDLE_UTILIZATION, heapTotal: 30 * MiB }, undefined, false],
  ['just below the threshold is idle', { utilization: IDLE_UTILIZATION - 0.0001, heapTotal: 30 * MiB }, undefined, true],
  [
    'idle, grown by the regrowth since the last: collect',
    { utilization: 0, heapTotal: 10 * MiB + REGROWTH_BYTES },
    10 * MiB,
    true,
  ],
  ['idle, grown by less: wait', { utilization: 0, heapTotal: 10 * MiB + REGROWTH_BYTES - 1 }, 10 * MiB, false],
  ['idle, smaller than after the last: wait', { utilization: 0, heapTotal: 8 * MiB }, 10 * MiB, false],
  ['busy and grown: wait (never under load)', { utilization: 0.9, heapTotal: 80 * MiB }, 10 * MiB, false],
  ['a NaN utilization is not idle', { utilization: Number.NaN, heapTotal: 80 * MiB }, undefined, false],
];
for (const [name, window, baseline, expected] of rows) {
  test(`shouldCollect: ${name}`, (t) => {
    t.is(shouldCollect(window, baseline), expected);
  });
}

test('the shell: collects in the first idle window, then not again until the heap regrows', async (t) => {
  const windows: HeapWindow[] = [
    { utilization: 0.4, heapTotal: 40 * MiB }, // start-up: busy
    { utilization: 0.001, heapTotal: 40 * MiB }, // idle: collect
    { utilization: 0.001, heapTotal: 13 * MiB }, // idle, 1 MiB above the 12 after the collection: not regrown
    { utilization: 0.7, heapTotal: 200 * MiB }, // load
    { utilization: 0.001, heapTotal: 200 * MiB }, // idle after load: collect
  ];
  // Each tick reads the next window; a collection brings the heap to 12 MiB.
  const collectedAt: number[] = [];
  let tick = 0;
  const stop = collectWhenIdle({
    windowMs: 5,
    gc: () => collectedAt.push(tick),
    sample: () => windows[tick++] ?? { utilization: 1, heapTotal: 0 },
    heapAfter: () => 12 * MiB,
  });
  await sleep(200);
  stop();
  t.deepEqual(collectedAt, [2, 5], 'collected after the 2nd and the 5th window');
});

test('stopped (pai serve closed): no further collection', async (t) => {
  let calls = 0;
  const stop = collectWhenIdle({ windowMs: 20, gc: () => calls++, sample: () => ({ utilization: 0, heapTotal: 1e12 }) });
  stop();
  await sleep(100);
  t.is(calls, 0);
});

test('without gc exposed: nothing is scheduled and stopping is harmless', (t) => {
  const stop = collectWhenIdle({ gc: undefined, sample: () => t.fail('sampled') });
  t.notThrows(stop);
});
