/** src/heap.ts: the one full collection after start runs once when gc is exposed, never otherwise. */
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { collectOnceAfterStart } from '../src/heap.js';

test('with gc exposed: exactly one collection after the delay', async (t) => {
  let calls = 0;
  collectOnceAfterStart(5, () => calls++);
  t.is(calls, 0, 'not at once');
  await sleep(200);
  t.is(calls, 1);
});

test('cancelled before the delay (pai serve closed): no collection', async (t) => {
  let calls = 0;
  const cancel = collectOnceAfterStart(50, () => calls++);
  cancel();
  await sleep(200);
  t.is(calls, 0);
});

test('without gc exposed: nothing is scheduled and cancelling is harmless', (t) => {
  const cancel = collectOnceAfterStart(5, undefined);
  t.notThrows(cancel);
});
