/**
 * The metrics of DESIGN §9 on a registry passed in (never prom-client's global default). Label
 * values are closed sets (api, outcome, type, backend, op, result, method, route, status): never a
 * secret name, a key or a value.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram } from './metrics-fast.js';

export interface Metrics {
  readonly registry: Registry;
  /** Per-request metrics of the injector: the fast kind (no label hashing per call). */
  readonly injectorRequests: FastCounter;
  readonly injectorDuration: FastHistogram;
  readonly cacheRequests: FastCounter;
  readonly storeRequests: Counter<'backend' | 'op' | 'result'>;
  readonly storeDuration: Histogram<'backend' | 'op'>;
  readonly adminRequests: Counter<'method' | 'route' | 'status'>;
  readonly adminDuration: Histogram<'route'>;
  readonly gatewayRequests: FastCounter;
  readonly tokenRequests: Counter<'endpoint' | 'result'>;
  readonly policyDecisions: FastCounter;
  readonly requestLogDropped: Counter;
}

/** Creates every metric on a fresh registry (or the one given). */
export function createMetrics(registry: Registry = new Registry(), withDefaults = true): Metrics {
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'pai_' });
  const registers = [registry];
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
    storeRequests: new Counter({
      name: 'pai_store_requests_total',
      help: 'Store calls by backend, operation and result (ok or error code)',
      labelNames: ['backend', 'op', 'result'] as const,
      registers,
    }),
    storeDuration: new Histogram({
      name: 'pai_store_duration_seconds',
      help: 'Store call latency',
      labelNames: ['backend', 'op'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    adminRequests: new Counter({
      name: 'pai_admin_requests_total',
      help: 'Admin API requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    adminDuration: new Histogram({
      name: 'pai_admin_duration_seconds',
      help: 'Admin API request latency by route pattern',
      labelNames: ['route'] as const,
      registers,
    }),
    gatewayRequests: new FastCounter(
      'pai_gateway_requests_total',
      'Gateway-mode decisions by model provider and outcome',
      ['modelprovider', 'outcome'],
      registry,
    ),
    tokenRequests: new Counter({
      name: 'pai_oauth_token_requests_total',
      help: 'OAuth token endpoint calls by endpoint kind (azure, gcp) and result',
      labelNames: ['endpoint', 'result'] as const,
      registers,
    }),
    policyDecisions: new FastCounter(
      'pai_policy_decisions_total',
      'Decisions of Provider policies by Provider name and decision (allow, deny, audit-deny)',
      ['provider', 'decision'],
      registry,
    ),
    requestLogDropped: new Counter({
      name: 'pai_request_log_dropped_total',
      help: 'Request records dropped because the request log could not keep up (or its disk failed)',
      registers,
    }),
  };
}
