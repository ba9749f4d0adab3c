/**
 * Full garbage collections once `pai serve` has been quiet for a while, when node exposes `gc`
 * (bin/pai.js's PAI_NODE_PROFILE=pod passes --expose-gc; without it nothing is scheduled).
 *
 * Why: start-up (module loading, the store, the first leaves) and every burst of load grow V8's
 * young generation to its ceiling (16 MiB under the pod profile) and the old generation towards its
 * limit; without the memory reducer (bin/pai.js turns it off: it costs throughput) nothing shrinks
 * them again. One full collection in a quiet moment returns the young generation to ~2 MiB and the
 * old one to what is live (docs/PERFORMANCE.md). V8 shrinks the young generation only in a
 * collection that sees a low allocation rate, and whether a given collection shrinks it is not certain: measured on an idle
 * injector, one 3 or 5 s after start shrank nothing (the heap even grew), one 10 s after start
 * shrank it 16 → 1 MiB in 2 runs of 3; after 10 s of quiet the first collection typically frees
 * nothing and the next one, 2.5 s later, frees ~15 MiB (4 runs of 4). So the process must have
 * been quiet for 10 s, and a collection that freed less than 1 MiB is tried again in the next quiet
 * window, up to 4 times.
 *
 * The decision is `shouldCollect`, a pure function of how long the event loop has been quiet
 * (windows of 2.5 s under 2% utilization, counted back from now), V8's committed heap, and the
 * committed heap after the last collection: after the first, another needs the heap to have grown
 * by 8 MiB, so a process whose heap does not shrink is not collected again and again. A collection
 * of the pod's ~15 MiB heap costs ~10 ms of one core.
 */
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';

/** What the collector knows at the end of a window. */
export interface HeapState {
  /** How long the event loop has been quiet (consecutive quiet windows × their length), ms. */
  readonly quietMs: number;
  /** V8's committed heap now, bytes. */
  readonly heapTotal: number;
}

/** A window at or above this event-loop utilization is busy. */
export const IDLE_UTILIZATION = 0.02;
/** How long the process must have been quiet before a collection. */
export const QUIET_MS = 10_000;
/** After a collection, the next one waits for the committed heap to grow by this much. */
export const REGROWTH_BYTES = 8 * 1024 * 1024;
/** A collection that freed less than this is tried again (V8 may not have shrunk the young generation). */
export const TOOK_BYTES = 1024 * 1024;
/** Collections tried in a row before the collector settles for what it got. */
export const MAX_ATTEMPTS = 4;

/** Whether a collection freed enough to stop trying (`before` and `after`: committed heap, bytes). */
export function collectionTook(before: number, after: number): boolean {
  return after <= before - TOOK_BYTES;
}

/** Whether to collect now; `baseline` is the committed heap after the last collection (none yet: undefined). */
export function shouldCollect(state: HeapState, baseline: number | undefined): boolean {
  if (!(state.quietMs >= QUIET_MS)) return false;
  return baseline === undefined || state.heapTotal >= baseline + REGROWTH_BYTES;
}

/** One window's figures. */
export interface HeapWindow {
  /** Event-loop utilization over the window, 0..1. */
  readonly utilization: number;
  /** V8's committed heap at its end, bytes. */
  readonly heapTotal: number;
}

export interface IdleCollectorOptions {
  /** Window length, ms (default 2.5 s). */
  readonly windowMs?: number;
  /** The collector (default: globalThis.gc, present under --expose-gc). */
  readonly gc?: (() => void) | undefined;
  /** Reads a window's figures (default: event-loop utilization since the last call, V8's committed heap). */
  readonly sample?: () => HeapWindow;
  /** The committed heap right after a collection (default: V8's). */
  readonly heapAfter?: () => number;
  /** Told of each collection (heap before and after, bytes). */
  readonly onCollect?: (before: number, after: number) => void;
}

const committedHeap = (): number => v8.getHeapStatistics().total_heap_size;

function eventLoopSampler(): () => HeapWindow {
  let previous = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, previous).utilization;
    previous = now;
    return { utilization, heapTotal: committedHeap() };
  };
}

/** The collector's state between windows: how long it has been quiet, the heap after the last collection. */
export class IdleCollector {
  private baseline: number | undefined;
  private quietMs = 0;
  private attempts = 0;

  constructor(
    private readonly windowMs: number,
    private readonly gc: () => void,
    private readonly heapAfter: () => number = committedHeap,
    private readonly onCollect?: (before: number, after: number) => void,
  ) {}

  /** One window has passed; collects when `shouldCollect` says so, and tells whether it did. */
  tick(window: HeapWindow): boolean {
    this.quietMs = window.utilization < IDLE_UTILIZATION ? this.quietMs + this.windowMs : 0;
    if (!shouldCollect({ quietMs: this.quietMs, heapTotal: window.heapTotal }, this.baseline)) return false;
    this.gc();
    const after = this.heapAfter();
    this.onCollect?.(window.heapTotal, after);
    this.attempts++;
    if (collectionTook(window.heapTotal, after) || this.attempts >= MAX_ATTEMPTS) {
      // Settled: the next collection waits for a new quiet spell and regrowth.
      this.baseline = after;
      this.attempts = 0;
      this.quietMs = 0;
    }
    return true;
  }
}

/** Starts the idle collector; returns its stop function (a no-op when gc is not exposed). */
export function collectWhenIdle(options: IdleCollectorOptions = {}): () => void {
  const gc = 'gc' in options ? options.gc : (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return () => undefined;
  const windowMs = options.windowMs ?? 2500;
  const sample = options.sample ?? eventLoopSampler();
  const full =
    process.env['PAI_GC_FLAVOR'] === 'last'
      ? () => (gc as (o: object) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' })
      : gc;
  const collector = new IdleCollector(windowMs, full, options.heapAfter, options.onCollect);
  const timer = setInterval(() => collector.tick(sample()), windowMs);
  timer.unref();
  return () => clearInterval(timer);
}
