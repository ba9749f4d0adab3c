/**
 * pai's metrics. prom-client's Counter.inc and Histogram.observe hash their label object on every
 * call (sorting keys), which costs a few microseconds per Check, a large share of the injector's
 * per-request budget. These record into plain arrays indexed by pre-resolved label sets and
 * produce prom-client's metric objects at scrape time: they register on a prom-client Registry
 * through its public `registerMetric`, which needs only `name` and `get()`. Without a registry (a
 * process that serves no /metrics: the injector, the webhook) they only count, and prom-client is
 * never loaded (~1.3 MiB of heap per injector; docs/PERFORMANCE.md).
 */
import type { Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

/** The map key of a label set: its values in label-name order. */
const labelKey = (labelNames: readonly string[], labels: Labels): string => labelNames.map((n) => labels[n] ?? '').join('\u0000');

interface ValuePair {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: ValuePair[];
  aggregator: 'sum';
}

/** A handle for one label set: increment it without hashing labels. */
export interface CounterChild {
  inc(n?: number): void;
}

/** A counter whose label sets are resolved once (`child(labels)`) and counted in place. */
export class FastCounter {
  private readonly children = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry?: Registry,
  ) {
    registry?.registerMetric(this as never);
    // A counter without labels is exported from the start (0), as prom-client exports one.
    if (labelNames.length === 0) this.child({});
  }

  /** The child for a label set (created on first use; keep it, do not call per request). */
  child(labels: Labels): CounterChild {
    const key = labelKey(this.labelNames, labels);
    let entry = this.children.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, value: 0 };
      this.children.set(key, entry);
    }
    const e = entry;
    return {
      inc: (n = 1) => {
        e.value += n;
      },
    };
  }

  /** Increments by labels (hashes them: for paths that are not hot). */
  inc(labels: Labels, n = 1): void {
    this.child(labels).inc(n);
  }

  /** The prom-client metric object (called by Registry.metrics()). */
  get(): Promise<MetricData> {
    const values = [...this.children.values()].map((c) => ({ labels: { ...c.labels }, value: c.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' });
  }

  /** The current value of a label set (tests). */
  value(labels: Labels): number {
    return this.children.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }
}

/** A handle for one label set of a histogram. */
export interface HistogramChild {
  observe(value: number): void;
}

/** A histogram with pre-resolved label sets and fixed buckets, exported like prom-client's. */
export class FastHistogram {
  private readonly children = new Map<string, { labels: Labels; counts: Float64Array; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly buckets: readonly number[],
    registry?: Registry,
  ) {
    registry?.registerMetric(this as never);
  }

  /** Observes by labels (hashes them: for paths that are not hot). */
  observe(labels: Labels, value: number): void {
    this.child(labels).observe(value);
  }

  /** Starts a timer for `labels`; the function returned observes the seconds since. */
  startTimer(labels: Labels): () => void {
    const started = process.hrtime.bigint();
    return () => this.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** The child for a label set (keep it; do not call per request). */
  child(labels: Labels): HistogramChild {
    const key = labelKey(this.labelNames, labels);
    let entry = this.children.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      this.children.set(key, entry);
    }
    const e = entry;
    const bounds = this.buckets;
    return {
      observe: (value: number) => {
        e.sum += value;
        e.count += 1;
        for (let i = 0; i < bounds.length; i++) {
          if (value <= (bounds[i] ?? Infinity)) {
            e.counts[i] = (e.counts[i] ?? 0) + 1;
            return;
          }
        }
      },
    };
  }

  /** The prom-client metric object: cumulative `_bucket` series, `+Inf`, `_sum`, `_count`. */
  get(): Promise<MetricData> {
    const values: ValuePair[] = [];
    for (const c of this.children.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += c.counts[i] ?? 0;
        values.push({ labels: { ...c.labels, le }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...c.labels, le: '+Inf' }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...c.labels }, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...c.labels }, value: c.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' });
  }
}
