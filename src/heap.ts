/**
 * One full garbage collection 10 s after `pai serve` started, when node exposes `gc`
 * (bin/pai.js's PAI_NODE_PROFILE=pod passes --expose-gc). Start-up (module loading, the store, the
 * first leaves) grows V8's young generation to its 16 MiB ceiling, and without the memory reducer
 * (bin/pai.js turns it off: it costs throughput) nothing shrinks it again; one full collection
 * brings it back to ~2 MiB, ~8 MiB less RSS per idle injector (docs/PERFORMANCE.md). V8 shrinks the
 * young generation only in a collection that sees a low allocation rate: at 3 s start-up still
 * counted and nothing shrank, at 10 s it does (measured). Under load it
 * grows again, within the profile's bounds. A one-shot collection costs ~10 ms of one core once.
 */
export function collectOnceAfterStart(delayMs = 10_000, gc = (globalThis as { gc?: () => void }).gc): () => void {
  if (typeof gc !== 'function') return () => undefined;
  const timer = setTimeout(() => gc(), delayMs);
  timer.unref();
  return () => clearTimeout(timer);
}
