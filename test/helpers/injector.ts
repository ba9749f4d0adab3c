/**
 * Shared set-up for the injector suites: an in-process `pai serve` (admin + injector on a unix
 * socket in a temp dir) with its logs captured, a grpc-js Authorization client loaded from Envoy's
 * own protos, CheckRequests built the way Envoy's ext_authz filter builds them, and resource
 * helpers that go through the admin API.
 */
import path from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { ChangeFeed } from '../../src/changes.js';
import { type LogLevel, loadConfig } from '../../src/config.js';
import { PaiError } from '../../src/errors.js';
import { type Logger, createLogger, silentLogger } from '../../src/log.js';
import { type RunningServer, type ServeRole, startServer } from '../../src/main.js';
import { type Metrics, createMetrics } from '../../src/metrics.js';
import { InjectorServer } from '../../src/injector/server.js';
import { loadEnvoyServices } from '../../src/injector/protos.js';
import type { SecretStore } from '../../src/store/types.js';
import type { AuthorizationClient } from '../../src/generated/envoy/service/auth/v3/Authorization.js';
import type { CheckRequest } from '../../src/generated/envoy/service/auth/v3/CheckRequest.js';
import type { CheckResponse__Output } from '../../src/generated/envoy/service/auth/v3/CheckResponse.js';
import { type ApiResult, api } from './api.js';
import { tempDir } from './process.js';

/** The context extension the sidecar config sets per route (src/injector/ext-authz.ts). */
export const AGENT_EXTENSION = 'pai.agent';

/** A grpc-js Authorization client for `target` (`unix:/path` or `host:port`), plain (unix socket or benchmark TCP). */
export function authClient(target: string): AuthorizationClient {
  const { auth } = loadEnvoyServices();
  return new auth.envoy.service.auth.v3.Authorization(target, grpc.credentials.createInsecure());
}

/** One Check call; rejects with the grpc ServiceError. */
export function check(client: AuthorizationClient, request: CheckRequest, deadlineMs = 5000): Promise<CheckResponse__Output> {
  return new Promise((resolve, reject) => {
    client.Check(request, { deadline: Date.now() + deadlineMs }, (err, res) =>
      err || !res ? reject(err ?? new Error('empty response')) : resolve(res),
    );
  });
}

/** What an agent sent, as the sidecar saw it. */
export interface EnvoyRequest {
  readonly method?: string;
  /** Path and query, as in `:path`. */
  readonly path?: string;
  /** The `:authority` (HTTP/1.1 Host) the agent sent. */
  readonly authority: string;
  readonly scheme?: 'http' | 'https';
  /** Regular request headers (any case, duplicates allowed): Envoy lower-cases names and joins duplicates with ",". */
  readonly headers?: readonly (readonly [string, string])[];
  /** The route's context extensions; default `{pai.agent: agent}` when `agent` is given. */
  readonly agent?: string;
  readonly contextExtensions?: Readonly<Record<string, string>>;
  /** Send the headers as `header_map` (ext_authz `encode_raw_headers: true`) instead of the `headers` map. */
  readonly rawHeaders?: readonly (readonly [string, string])[];
}

/**
 * The CheckRequest Envoy's ext_authz filter sends for `r` (source/extensions/filters/common/ext_authz/
 * check_request_utils.cc): attributes.request.http {id, method, path, host, scheme, protocol,
 * headers: lower-case map including the pseudo-headers, duplicates joined with ","} and the route's
 * context_extensions. The body is not sent (with_request_body is not set in envoy/).
 */
export function checkRequest(r: EnvoyRequest): CheckRequest {
  const method = r.method ?? 'GET';
  const path = r.path ?? '/';
  const scheme = r.scheme ?? 'https';
  const headers: Record<string, string> = { ':authority': r.authority, ':method': method, ':path': path, ':scheme': scheme };
  for (const [name, value] of r.headers ?? []) {
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]},${value}`;
  }
  const extensions = r.contextExtensions ?? (r.agent === undefined ? {} : { [AGENT_EXTENSION]: r.agent });
  const http = {
    id: '1234567890',
    method,
    path,
    host: r.authority,
    scheme,
    protocol: 'HTTP/1.1',
    ...(r.rawHeaders
      ? { header_map: { headers: r.rawHeaders.map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })) } }
      : { headers }),
  };
  return { attributes: { request: { http }, context_extensions: extensions } };
}

/** A resource document for the admin API. */
export function resource(
  kind: 'Agent' | 'Provider' | 'ModelProvider',
  name: string,
  spec: Record<string, unknown>,
): Record<string, unknown> {
  return { apiVersion: 'pai/v1', kind, metadata: { name }, spec };
}

/** A resource document in Pai's form (pai.io/v1), in namespace `namespace` (default: default) as the server stores it. */
export function paiResource(
  kind: 'Agent' | 'Provider' | 'ModelProvider',
  name: string,
  spec: Record<string, unknown>,
  namespace = 'default',
): Record<string, unknown> {
  return { apiVersion: 'pai.io/v1', kind, metadata: { name, namespace }, spec };
}

/** `doc` as the server returns it: its metadata with the namespace it was applied to. */
export function stored(doc: Record<string, unknown>, namespace = 'default'): Record<string, unknown> {
  const metadata = doc['metadata'] as Record<string, unknown>;
  return { ...doc, metadata: { ...metadata, namespace: metadata['namespace'] ?? namespace } };
}

const PLURAL = { Agent: 'agents', Provider: 'providers', ModelProvider: 'modelproviders' } as const;

/** An admin API client bound to one server and token. */
export class Admin {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  /** One request with the admin token; never throws on a status. */
  call(method: string, path: string, body?: unknown): Promise<ApiResult> {
    return api(this.baseUrl, this.token, method, path, body);
  }

  /** Creates a secret; Buffer values go through binaryData. Throws unless 201. */
  async createSecret(name: string, data: Readonly<Record<string, string | Buffer>>): Promise<void> {
    await this.expect(201, 'POST', '/v1/secrets', { name, ...secretBody(data) });
  }

  /** Replaces a secret's keys (rotation). Throws unless 200. */
  async replaceSecret(name: string, data: Readonly<Record<string, string | Buffer>>): Promise<void> {
    await this.expect(200, 'PUT', `/v1/secrets/${name}`, secretBody(data));
  }

  /** Applies resources in order (secrets they reference must exist). Throws unless 200/201. */
  async apply(...docs: Record<string, unknown>[]): Promise<void> {
    for (const doc of docs) {
      const kind = doc['kind'] as keyof typeof PLURAL;
      const name = (doc['metadata'] as { name: string }).name;
      const res = await this.call('PUT', `/v1/${PLURAL[kind]}/${name}`, doc);
      if (res.status !== 200 && res.status !== 201) throw new Error(`apply ${kind}/${name} answered ${res.status}: ${res.text}`);
    }
  }

  /** One request that must answer `status`; throws with the body otherwise. */
  async expect(status: number, method: string, path: string, body?: unknown): Promise<ApiResult> {
    const res = await this.call(method, path, body);
    if (res.status !== status) throw new Error(`${method} ${path} answered ${res.status}, expected ${status}: ${res.text}`);
    return res;
  }
}

function secretBody(data: Readonly<Record<string, string | Buffer>>): {
  data: Record<string, string>;
  binaryData: Record<string, string>;
} {
  const text: Record<string, string> = {};
  const binary: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    if (typeof v === 'string') text[k] = v;
    else binary[k] = v.toString('base64');
  }
  return { data: text, binaryData: binary };
}

/** A JSON-lines logger at `level` writing into memory; `text()` is everything written so far. */
export function memoryLogger(level: LogLevel): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger(level, sink), text: () => chunks.join('') };
}

/** A running in-process server with everything a suite needs. */
export interface Stack {
  readonly dataDir: string;
  readonly running: RunningServer;
  readonly admin: Admin;
  /** `unix:/…/injector.sock` (or host:port with the benchmark switch). */
  readonly injector: string;
  readonly client: AuthorizationClient;
  /** Every log line the server wrote so far. */
  logs(): string;
  check(r: EnvoyRequest): Promise<CheckResponse__Output>;
  close(): Promise<void>;
}

/** Starts `pai serve --role all` in this process on a fresh data dir, logs captured at `logLevel`. */
export async function startStack(
  options: { env?: Record<string, string>; logLevel?: LogLevel; role?: ServeRole } = {},
): Promise<Stack> {
  const dataDir = tempDir('pai-injector-');
  const config = loadConfig({ HOME: dataDir, PAI_DATA_DIR: dataDir, PAI_ADMIN_LISTEN: '127.0.0.1:0', ...options.env });
  const { logger, text } = memoryLogger(options.logLevel ?? 'debug');
  const running = await startServer(config, { role: options.role ?? 'all', logger });
  const token = running.bootstrapToken;
  if (running.adminAddress === undefined || running.injectorAddress === undefined || token === undefined) {
    await running.close();
    throw new Error('startStack needs the admin API, the injector and a fresh admin token');
  }
  const client = authClient(running.injectorAddress);
  return {
    dataDir,
    running,
    admin: new Admin(`http://${running.adminAddress}`, token),
    injector: running.injectorAddress,
    client,
    logs: text,
    check: (r) => check(client, checkRequest(r)),
    async close() {
      client.close();
      await running.close();
    },
  };
}

/** The JSON body of a denial (parsed), or undefined when there is none. */
export function denialBody(
  res: CheckResponse__Output,
): { error: { code: string; message: string } & Record<string, unknown> } | undefined {
  const body = res.denied_response?.body;
  return body ? (JSON.parse(body) as { error: { code: string; message: string } & Record<string, unknown> }) : undefined;
}

/**
 * How a faulty store method misbehaves: rejects with store_unavailable, never answers, rejects
 * with the given error, or runs a wrapper given the real method (to count, delay or corrupt).
 */
export type Fault =
  'throw' | 'hang' | Error | ((real: (...args: unknown[]) => Promise<unknown>, ...args: unknown[]) => Promise<unknown>);

/** `base` with some methods replaced by faults; everything else is delegated. */
export function faultyStore(base: SecretStore, faults: Partial<Record<keyof SecretStore, Fault>>): SecretStore {
  return new Proxy(base, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      const real = typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : undefined;
      const fault = faults[prop as keyof SecretStore];
      if (fault === undefined) return real ?? value;
      return (...args: unknown[]) => {
        if (fault === 'hang') return new Promise<never>(() => undefined);
        if (fault === 'throw') return Promise.reject(new PaiError('store_unavailable', 'the test store is down'));
        if (fault instanceof Error) return Promise.reject(fault);
        return fault((...a: unknown[]) => Promise.resolve(real?.(...a)), ...args);
      };
    },
  });
}

export interface FaultyInjector {
  readonly client: AuthorizationClient;
  check(r: EnvoyRequest): Promise<CheckResponse__Output>;
  close(): Promise<void>;
}

let faultySockets = 0;

/**
 * An InjectorServer started directly (cold caches) on a socket in the stack's data dir, reading
 * the stack's store through faultyStore(faults). `storeTimeoutMs` bounds each store read; logs and
 * metrics go where the options say (silent and a private registry by default).
 */
export async function faultyInjector(
  stack: Stack,
  faults: Partial<Record<keyof SecretStore, Fault>>,
  options: { storeTimeoutMs?: number; logger?: Logger; metrics?: Metrics } = {},
): Promise<FaultyInjector> {
  const socket = path.join(stack.dataDir, `faulty-${++faultySockets}.sock`);
  // Usage counts only at close: a timed flush would be a store call the fault tests did not ask for.
  const config = loadConfig({
    HOME: stack.dataDir,
    PAI_DATA_DIR: stack.dataDir,
    PAI_INJECTOR_LISTEN: `unix:${socket}`,
    PAI_USAGE_FLUSH: '0',
  });
  const server = new InjectorServer({
    config,
    store: faultyStore(stack.running.store, faults),
    changes: new ChangeFeed(),
    metrics: options.metrics ?? createMetrics(),
    logger: options.logger ?? silentLogger(),
    ...(options.storeTimeoutMs === undefined ? {} : { storeTimeoutMs: options.storeTimeoutMs }),
  });
  const client = authClient(await server.listen());
  return {
    client,
    check: (r) => check(client, checkRequest(r)),
    async close() {
      client.close();
      await server.close();
    },
  };
}
