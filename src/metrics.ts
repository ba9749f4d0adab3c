/**
 * The metrics of DESIGN §9, on a registry passed in (never prom-client's global default) by the
 * processes that serve /metrics (the admin API), in memory only in the others. Label
 * values are closed sets (api, outcome, type, backend, op, result, method, route, status): never a
 * secret name, a key or a value.
 */
import type { Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './metrics-fast.js';

export interface Metrics {
  /** The registry /metrics is served from; undefined in a process that serves no /metrics. */
  readonly registry: Registry | undefined;
  /** Per-request metrics of the injector: the fast kind (no label hashing per call). */
  readonly injectorRequests: FastCounter;
  readonly injectorDuration: FastHistogram;
  readonly cacheRequests: FastCounter;
  readonly storeRequests: FastCounter;
  readonly storeDuration: FastHistogram;
  readonly adminRequests: FastCounter;
  readonly adminDuration: FastHistogram;
  readonly gatewayRequests: FastCounter;
  readonly tokenRequests: FastCounter;
  readonly policyDecisions: FastCounter;
  readonly requestLogDropped: FastCounter;
}

/** prom-client's default histogram buckets (seconds), which the admin latency has always used. */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Creates every metric, registered on `registry` when one is given (a process serving /metrics:
 * see scrapeRegistry); without one they count in memory only and prom-client is not loaded.
 */
export function createMetrics(registry?: Registry): Metrics {
  return {
    registry,
    injectorRequests: new FastCounter(
      'pai_injector_requests_total',
      'Injector decisions by API (check, process), outcome (inject, pass, sign, or the deny reason) and provider type',
      ['api', 'outcome', 'type'],
      registry,
    ),
    injectorDuration: new FastHistogram(
      'pai_injector_duration_seconds',
      'Time to decide one request in the injector',
      ['api'],
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registry,
    ),
    cacheRequests: new FastCounter(
      'pai_secret_cache_requests_total',
      'Secret cache lookups by result (hit, miss, stale)',
      ['result'],
      registry,
    ),
    storeRequests: new FastCounter(
      'pai_store_requests_total',
      'Store calls by backend, operation and result (ok or error code)',
      ['backend', 'op', 'result'],
      registry,
    ),
    storeDuration: new FastHistogram(
      'pai_store_duration_seconds',
      'Store call latency',
      ['backend', 'op'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registry,
    ),
    adminRequests: new FastCounter(
      'pai_admin_requests_total',
      'Admin API requests by method, route pattern and status',
      ['method', 'route', 'status'],
      registry,
    ),
    adminDuration: new FastHistogram(
      'pai_admin_duration_seconds',
      'Admin API request latency by route pattern',
      ['route'],
      DEFAULT_BUCKETS,
      registry,
    ),
    gatewayRequests: new FastCounter(
      'pai_gateway_requests_total',
      'Gateway-mode decisions by model provider and outcome',
      ['modelprovider', 'outcome'],
      registry,
    ),
    tokenRequests: new FastCounter(
      'pai_oauth_token_requests_total',
      'OAuth token endpoint calls by endpoint kind (azure, gcp) and result',
      ['endpoint', 'result'],
      registry,
    ),
    policyDecisions: new FastCounter(
      'pai_policy_decisions_total',
      'Decisions of Provider policies by Provider name and decision (allow, deny, audit-deny)',
      ['provider', 'decision'],
      registry,
    ),
    requestLogDropped: new FastCounter(
      'pai_request_log_dropped_total',
      'Request records dropped because the request log could not keep up (or its disk failed)',
      [],
      registry,
    ),
  };
}

/**
 * A prom-client Registry for a process that serves /metrics, with prom-client's default process
 * metrics (prefixed pai_) when `withDefaults`. prom-client is imported here only.
 */
export async function scrapeRegistry(withDefaults = true): Promise<Registry> {
  const { Registry: PromRegistry, collectDefaultMetrics } = await import('prom-client');
  const registry = new PromRegistry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'pai_' });
  return registry;
}
