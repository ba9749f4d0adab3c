/**
 * Pieces of the fault suites: an InjectorServer on a store whose behaviour a test switches at run
 * time (up, down, hanging, slow, flapping), and a load loop that sends requests through the sidecar
 * simulator (ext_authz filter configured as envoy/sidecar-ext-authz.yaml: failure_mode_allow false,
 * status_on_error 503) and classifies what the agent and the upstream saw.
 */
import path from 'node:path';
import { ChangeFeed } from '../../src/changes.js';
import { loadConfig } from '../../src/config.js';
import { PaiError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { InjectorServer } from '../../src/injector/server.js';
import type { SecretStore } from '../../src/store/types.js';
import type { AuthorizationClient } from '../../src/generated/envoy/service/auth/v3/Authorization.js';
import { authClient } from './injector.js';
import { findCanary } from './canary.js';
import { type AgentResponse, agentRequest, headerValues, type UpstreamRecorder } from './sidecar-sim.js';

/** How the store behaves right now. */
export type StoreMode =
  | { readonly kind: 'up' }
  | { readonly kind: 'down' }
  | { readonly kind: 'hang' }
  | { readonly kind: 'slow'; readonly ms: number }
  /** Reads the real value first, then answers `ms` later (a slow network after the store's snapshot). */
  | { readonly kind: 'late'; readonly ms: number }
  /** Each call fails with probability `p`, hangs with probability `hang`, else works. */
  | { readonly kind: 'flap'; readonly p: number; readonly hang: number };

/** A store wrapper whose reads follow `control.mode`; counts the faults it injected. */
export interface StoreControl {
  mode: StoreMode;
  /** When set, only this method is faulted (e.g. readSecret); the others work. */
  only?: string;
  faults: number;
  calls: number;
}

const READS = new Set(['readSecret', 'getDoc', 'listDocs', 'getSecretMeta', 'listSecrets', 'ping']);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `base` with every read going through `control` (writes are not faulted: the injector never writes). */
export function controlledStore(base: SecretStore, control: StoreControl): SecretStore {
  return new Proxy(base, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || !READS.has(String(prop))) return value;
      const real = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
      return async (...args: unknown[]): Promise<unknown> => {
        control.calls++;
        const mode = control.only === undefined || control.only === prop ? control.mode : ({ kind: 'up' } as const);
        const fail = (): Promise<never> => {
          control.faults++;
          return Promise.reject(new PaiError('store_unavailable', 'the test store is down'));
        };
        switch (mode.kind) {
          case 'up':
            return real(...args);
          case 'down':
            return fail();
          case 'hang':
            control.faults++;
            return new Promise<never>(() => undefined);
          case 'slow':
            control.faults++;
            await sleep(mode.ms);
            return real(...args);
          case 'late': {
            control.faults++;
            const result = await real(...args);
            await sleep(mode.ms);
            return result;
          }
          case 'flap': {
            const x = Math.random();
            if (x < mode.p) return fail();
            if (x < mode.p + mode.hang) {
              control.faults++;
              return new Promise<never>(() => undefined);
            }
            return real(...args);
          }
        }
      };
    },
  });
}

export interface ControlledInjector {
  readonly control: StoreControl;
  readonly client: AuthorizationClient;
  close(): Promise<void>;
}

let sockets = 0;

/**
 * An InjectorServer (cold caches, its own change feed: it hears of no admin write, like an injector
 * in another process) on `store` wrapped by controlledStore, listening in `dir`.
 */
export async function controlledInjector(
  dir: string,
  store: SecretStore,
  options: { ttl?: string; storeTimeoutMs?: number } = {},
): Promise<ControlledInjector> {
  const control: StoreControl = { mode: { kind: 'up' }, faults: 0, calls: 0 };
  const socket = path.join(dir, `controlled-${process.pid}-${++sockets}.sock`);
  const config = loadConfig({
    HOME: dir,
    PAI_DATA_DIR: dir,
    PAI_INJECTOR_LISTEN: `unix:${socket}`,
    ...(options.ttl ? { PAI_CACHE_TTL: options.ttl } : {}),
  });
  const server = new InjectorServer({
    config,
    store: controlledStore(store, control),
    changes: new ChangeFeed(),
    metrics: createMetrics(),
    logger: silentLogger(),
    ...(options.storeTimeoutMs === undefined ? {} : { storeTimeoutMs: options.storeTimeoutMs }),
  });
  const client = authClient(await server.listen());
  return {
    control,
    client,
    async close() {
      client.close();
      await server.close(500);
    },
  };
}

/** What one request of a load loop came to. */
export interface LoadTally {
  sent: number;
  /** Forwarded to the upstream, with the credential. */
  injected: number;
  /** Denied by the injector or by Envoy's failure mode (status → count). */
  readonly denied: Record<number, number>;
  /** Requests that reached the upstream for the matched host without the expected credential. */
  readonly bare: string[];
  /** Agent-side transport errors (the sidecar itself failed). */
  errors: number;
  /** Latencies of the denials, ms. */
  readonly denyMs: number[];
  /** Denials whose answer held one of the secret values given to sendAndClassify. */
  leaks: number;
}

export function newTally(): LoadTally {
  return { sent: 0, injected: 0, denied: {}, bare: [], errors: 0, denyMs: [], leaks: 0 };
}

/**
 * Sends one request for `host` through the sidecar and checks, by a unique tag, what the upstream
 * got: `accept(value)` says whether the credential header is a current one. A denial is searched
 * for every form of `secrets` (helpers/canary.ts) and counted in `leaks`.
 */
export async function sendAndClassify(
  sidecarPort: number,
  upstream: UpstreamRecorder,
  host: string,
  tag: string,
  accept: (authorization: readonly string[]) => boolean,
  tally: LoadTally,
  secrets: readonly string[] = [],
): Promise<void> {
  tally.sent++;
  const started = performance.now();
  let answer: AgentResponse;
  try {
    answer = await agentRequest(sidecarPort, { host, path: '/load', headers: [['x-load-tag', tag]] });
  } catch {
    tally.errors++;
    return;
  }
  const status = answer.status;
  const seen = upstream.requests.find((q) => headerValues(q.headers, 'x-load-tag')[0] === tag);
  if (seen) {
    const auth = headerValues(seen.headers, 'authorization');
    if (accept(auth)) tally.injected++;
    else tally.bare.push(`${tag}: ${status}, authorization ${JSON.stringify(auth.map((a) => a.slice(0, 16)))}`);
  } else {
    tally.denied[status] = (tally.denied[status] ?? 0) + 1;
    tally.denyMs.push(performance.now() - started);
    const text = `${JSON.stringify(answer.headers)}\n${answer.body.toString('latin1')}`;
    if (secrets.some((v) => findCanary(text, v).length > 0)) tally.leaks++;
  }
}

/** The q-quantile of `xs` (0 when empty). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}
