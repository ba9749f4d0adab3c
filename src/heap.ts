/**
 * Full garbage collections while `pai serve` is idle, when node exposes `gc` (bin/pai.js's
 * PAI_NODE_PROFILE=pod passes --expose-gc; without it nothing is scheduled).
 *
 * Why: start-up (module loading, the store, the first leaves) and every burst of load grow V8's
 * young generation to its ceiling (16 MiB under the pod profile) and the old generation towards its
 * limit; without the memory reducer (bin/pai.js turns it off: it costs throughput) nothing shrinks
 * them again. One full collection in a quiet moment returns the young generation to ~2 MiB and the
 * old one to what is live: ~8 MiB less RSS per idle injector after start, more after load
 * (docs/PERFORMANCE.md). V8 shrinks the young generation only in a collection that sees a low
 * allocation rate, which is why the collection waits for an idle window (measured: at 3 s after
 * start nothing shrank, at 10 s it does).
 *
 * The decision is `shouldCollect`, a pure function of one window (event-loop utilization, V8's
 * committed heap) and the heap size after the last collection: a window busier than 2% never
 * collects, and after the first collection another needs the heap to have grown by 8 MiB, so a
 * process whose heap does not shrink is not collected again and again. A collection of the pod's
 * ~15 MiB heap costs ~10 ms of one core.
 */
import { performance } from 'node:perf_hooks';

/** What the collector sees of one window. */
export interface HeapWindow {
  /** Event-loop utilization over the window, 0..1. */
  readonly utilization: number;
  /** V8's committed heap at the end of the window, bytes (process.memoryUsage().heapTotal). */
  readonly heapTotal: number;
}

/** A window at or above this event-loop utilization is busy: no collection. */
export const IDLE_UTILIZATION = 0.02;
/** After a collection, the next one waits for the committed heap to grow by this much. */
export const REGROWTH_BYTES = 8 * 1024 * 1024;

/** Whether to collect after `window`; `baseline` is the committed heap after the last collection (none yet: undefined). */
export function shouldCollect(window: HeapWindow, baseline: number | undefined): boolean {
  if (!(window.utilization < IDLE_UTILIZATION)) return false;
  return baseline === undefined || window.heapTotal >= baseline + REGROWTH_BYTES;
}

export interface IdleCollectorOptions {
  /** Window length, ms (default 10 s). */
  readonly windowMs?: number;
  /** The collector (default: globalThis.gc, present under --expose-gc). */
  readonly gc?: (() => void) | undefined;
  /** Reads a window's figures (default: event-loop utilization since the last call, heapTotal). */
  readonly sample?: () => HeapWindow;
  /** The committed heap right after a collection (default: process.memoryUsage().heapTotal). */
  readonly heapAfter?: () => number;
  /** Told of each collection (heap before and after, bytes). */
  readonly onCollect?: (before: number, after: number) => void;
}

function eventLoopSampler(): () => HeapWindow {
  let previous = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, previous).utilization;
    previous = now;
    return { utilization, heapTotal: process.memoryUsage().heapTotal };
  };
}

/** Starts the idle collector; returns its stop function (a no-op when gc is not exposed). */
export function collectWhenIdle(options: IdleCollectorOptions = {}): () => void {
  const gc = 'gc' in options ? options.gc : (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return () => undefined;
  const sample = options.sample ?? eventLoopSampler();
  let baseline: number | undefined;
  const timer = setInterval(() => {
    const window = sample();
    if (!shouldCollect(window, baseline)) return;
    gc();
    baseline = options.heapAfter?.() ?? process.memoryUsage().heapTotal;
    options.onCollect?.(window.heapTotal, baseline);
  }, options.windowMs ?? 10_000);
  timer.unref();
  return () => clearInterval(timer);
}
