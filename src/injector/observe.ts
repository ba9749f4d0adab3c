/**
 * Records each injector decision: pai_injector_requests_total{api,outcome,type}, the duration
 * histogram, and a debug log line (agent, host, target, outcome): names only, never a value.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { CounterChild, HistogramChild } from '../metrics-fast.js';
import type { Decision, InjectorApi } from './decide.js';

export interface DecisionObserver {
  observe(api: InjectorApi, decision: Decision, startedNs: bigint): void;
}

/** The outcome label: inject, pass, sign, or the denial's error code. */
export function outcomeOf(d: Decision): string {
  return d.kind === 'deny' ? d.error.code : d.kind;
}

/** An observer writing metrics and debug logs. */
export function decisionObserver(metrics: Metrics, logger: Logger): DecisionObserver {
  const debug = (): boolean => logger.isLevelEnabled('debug');
  // Label sets are resolved once per (api, outcome, type), not per request.
  const counters = new Map<string, CounterChild>();
  const durations = new Map<string, HistogramChild>();
  const counter = (api: string, outcome: string, type: string): CounterChild => {
    const key = `${api}\u0000${outcome}\u0000${type}`;
    let child = counters.get(key);
    if (!child) {
      child = metrics.injectorRequests.child({ api, outcome, type });
      counters.set(key, child);
    }
    return child;
  };
  const duration = (api: string): HistogramChild => {
    let child = durations.get(api);
    if (!child) {
      child = metrics.injectorDuration.child({ api });
      durations.set(api, child);
    }
    return child;
  };
  return {
    observe(api, d, startedNs) {
      const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
      const target = d.kind === 'pass' ? undefined : d.target;
      const outcome = outcomeOf(d);
      counter(api, outcome, target?.type ?? 'none').inc();
      duration(api).observe(seconds);
      if (d.kind === 'deny' && (d.error.code === 'internal' || d.error.code === 'integrity')) {
        logger.error({ api, agent: d.agent, host: d.host, outcome }, 'injector denied a request after an internal failure');
      } else if (debug()) {
        logger.debug(
          {
            api,
            agent: d.kind === 'deny' ? d.agent : d.agent,
            host: d.host,
            target: target ? `${target.kind}/${target.name}` : undefined,
            outcome,
            reason: d.kind === 'deny' ? d.error.message : undefined,
            us: Math.round(seconds * 1e6),
          },
          'injector decision',
        );
      }
    },
  };
}
