/**
 * Records each injector decision: pai_injector_requests_total{api,outcome,type}, the duration
 * histogram, and a debug log line (agent, host, target, outcome): names only, never a value.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { CounterChild, HistogramChild } from '../metrics-fast.js';
import { agentIdOf } from './agents.js';
import type { Decision, InjectorApi } from './decide.js';
import type { InjectionTarget } from '../resources/types.js';
import { usageKey } from '../usage/usage-doc.js';
import { type RequestLog, recordHead, recordLine } from './request-log.js';
import type { UsageRecorder } from './usage.js';

/** What the observer is told of the request itself: its method and `:path`. */
export interface ObservedRequest {
  readonly method: string;
  readonly path: string;
}

export interface DecisionObserver {
  observe(api: InjectorApi, decision: Decision, startedNs: bigint, request?: ObservedRequest): void;
}

/** Where records and counts go besides metrics and logs. */
export interface ObserverSinks {
  readonly requestLog?: RequestLog;
  readonly usage?: UsageRecorder;
  readonly now?: () => number;
}

/** The decision word of a request record: the policy's verdict, else allow (inject) or deny. */
function decisionWord(d: Decision): 'allow' | 'deny' | 'audit-deny' {
  if (d.kind === 'deny') return 'deny';
  return d.kind === 'inject' || d.kind === 'sign' ? (d.verdict?.decision ?? 'allow') : 'allow';
}

/** The outcome label: inject, pass, sign, or the denial's error code. */
export function outcomeOf(d: Decision): string {
  return d.kind === 'deny' ? d.error.code : d.kind;
}

/** What is the same for every request of one agent through one target: kept per (target, agent). */
interface TargetRecord {
  readonly namespace: string;
  readonly usageKey: string;
  /** recordHead of the request log's records. */
  readonly head: string;
}

function targetRecord(target: InjectionTarget, agent: string): TargetRecord {
  const id = agentIdOf(agent);
  return {
    namespace: id.namespace,
    usageKey: usageKey({ agent: id.name, kind: target.kind, name: target.name }),
    head: recordHead({ agent: id.name, namespace: id.namespace, kind: target.kind, provider: target.name, type: target.type }),
  };
}

/**
 * Records a decision about a request through a Provider or ModelProvider: the request log
 * (unless the Provider's audit.logRequests is false), pai_policy_decisions_total for Providers with a
 * policy, and a usage count when a credential went out. Once per request: the parts that depend
 * only on the agent and the target are built once (`records`), the time text once per millisecond.
 */
function recordTarget(
  d: Decision,
  request: ObservedRequest | undefined,
  sinks: ObserverSinks,
  policyCounter: (p: string, d: string) => CounterChild,
  records: WeakMap<InjectionTarget, Map<string, TargetRecord>>,
  time: () => string,
): void {
  if (d.kind === 'pass' || d.kind === 'body' || d.target === undefined || d.agent === undefined) return;
  const target = d.target;
  let byAgent = records.get(target);
  if (byAgent === undefined) records.set(target, (byAgent = new Map<string, TargetRecord>()));
  let known = byAgent.get(d.agent);
  if (known === undefined) byAgent.set(d.agent, (known = targetRecord(target, d.agent)));
  const verdict = d.verdict;
  const decision = decisionWord(d);
  if (verdict !== undefined) policyCounter(target.name, decision).inc();
  if (d.kind === 'inject') sinks.usage?.countKey(known.namespace, known.usageKey);
  const log = sinks.requestLog;
  if (target.logRequests === false || log === undefined || !log.enabled) return;
  const path = request?.path ?? '';
  const q = path.indexOf('?');
  log.writeLine(
    recordLine(time(), known.head, {
      method: request?.method ?? '',
      host: d.host ?? '',
      path: q < 0 ? path : path.slice(0, q),
      action: verdict?.action,
      resource: verdict?.resource,
      decision,
      reason: d.kind === 'deny' ? (verdict?.reason ?? d.error.code) : (verdict?.reason ?? 'allowed'),
    }),
  );
}

/** An observer writing metrics, debug logs, request records and usage counts. */
export function decisionObserver(metrics: Metrics, logger: Logger, sinks: ObserverSinks = {}): DecisionObserver {
  const debug = (): boolean => logger.isLevelEnabled('debug');
  // Label sets are resolved once per (api, outcome, type), not per request: nested maps, so that no
  // key string is built per request (the labels are strings the decision already holds).
  const counters = new Map<string, Map<string, Map<string, CounterChild>>>();
  const durations = new Map<string, HistogramChild>();
  const counter = (api: string, outcome: string, type: string): CounterChild => {
    let byOutcome = counters.get(api);
    if (!byOutcome) counters.set(api, (byOutcome = new Map<string, Map<string, CounterChild>>()));
    let byType = byOutcome.get(outcome);
    if (!byType) byOutcome.set(outcome, (byType = new Map<string, CounterChild>()));
    let child = byType.get(type);
    if (!child) byType.set(type, (child = metrics.injectorRequests.child({ api, outcome, type })));
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
  const records = new WeakMap<InjectionTarget, Map<string, TargetRecord>>();
  const now = sinks.now ?? Date.now;
  let lastMs = NaN;
  let lastTime = '';
  const time = (): string => {
    const ms = now();
    if (ms !== lastMs) {
      lastMs = ms;
      lastTime = new Date(ms).toISOString();
    }
    return lastTime;
  };
  const policies = new Map<string, CounterChild>();
  const policyCounter = (provider: string, decision: string): CounterChild => {
    const key = `${provider}\u0000${decision}`;
    let child = policies.get(key);
    if (!child) {
      child = metrics.policyDecisions.child({ provider, decision });
      policies.set(key, child);
    }
    return child;
  };
  return {
    observe(api, d, startedNs, request) {
      const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
      recordTarget(d, request, sinks, policyCounter, records, time);
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
