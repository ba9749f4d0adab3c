/**
 * Set-up for the SDS suites: a grpc-js server on a unix socket in a temp dir with only the SDS
 * service (a real CA authority over an in-memory CA store, a leaf book, fake agent hosts, an
 * optional fake clock), a client built from Envoy's own protos, DiscoveryRequests as Envoy sends
 * them, and a stream wrapper that hands out responses in order and the final status.
 */
import path from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest } from '../../src/generated/envoy/service/discovery/v3/DiscoveryRequest.js';
import type { DiscoveryResponse__Output } from '../../src/generated/envoy/service/discovery/v3/DiscoveryResponse.js';
import type { SecretDiscoveryServiceClient } from '../../src/generated/envoy/service/secret/v3/SecretDiscoveryService.js';
import { SdsService } from '../../src/injector/sds.js';
import { LeafBook, type LeafBookOptions } from '../../src/injector/sds-leaves.js';
import { SECRET_TYPE_URL } from '../../src/injector/sds-codec.js';
import { decodeSecret, loadSdsService } from '../../src/injector/sds-protos.js';
import { type Logger, createLogger } from '../../src/log.js';
import { CaAuthority, type CaMaterialStore } from '../../src/tls/authority.js';
import { MemoryCaMaterialStore } from '../../src/tls/memory-ca-store.js';
import { type AgentId, type Clock, type LeafHostsSource, agentKey } from '../../src/tls/types.js';
import { tempDir } from './process.js';

/** Agents and their hosts, changed by the test; subscribers hear every change. */
export class FakeHosts implements LeafHostsSource {
  private readonly hosts = new Map<string, readonly string[]>();
  private readonly listeners = new Set<(agent?: AgentId) => void>();
  private readers: ((agent: AgentId) => void)[] = [];

  hostsOf(agent: AgentId): Promise<readonly string[] | undefined> {
    const readers = this.readers;
    this.readers = [];
    for (const r of readers) r(agent);
    return Promise.resolve(this.hosts.get(agentKey(agent)));
  }

  /** Resolves when hostsOf is next called (after a change: the leaf book has read the new hosts). */
  nextRead(): Promise<AgentId> {
    return new Promise((resolve) => this.readers.push(resolve));
  }

  subscribe(onChange: (agent?: AgentId) => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  /** Binds `hosts` to `agent` (namespace `default` unless given) and tells the subscribers. */
  set(name: string, hosts: readonly string[], namespace = 'default'): void {
    this.hosts.set(`${namespace}/${name}`, hosts);
    for (const l of this.listeners) l({ namespace, name });
  }

  delete(name: string, namespace = 'default'): void {
    this.hosts.delete(`${namespace}/${name}`);
    for (const l of this.listeners) l({ namespace, name });
  }
}

/** A JSON-lines logger into memory that can also wait for a line (no polling: each write checks the waiters). */
export class LogCapture {
  private readonly lines: string[] = [];
  private waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  readonly logger: Logger;

  constructor() {
    const sink = new Writable({
      write: (chunk: Buffer | string, _enc, done) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          this.lines.push(line);
          const ready = this.waiters.filter((w) => w.re.test(line));
          this.waiters = this.waiters.filter((w) => !ready.includes(w));
          for (const w of ready) w.resolve(line);
        }
        done();
      },
    });
    this.logger = createLogger('debug', sink);
  }

  text(): string {
    return this.lines.join('\n');
  }

  /** Resolves with the first line (already written or to come) matching `re`; rejects after `timeoutMs` (a failure, not a wait). */
  waitFor(re: RegExp, timeoutMs = 5000): Promise<string> {
    const seen = this.lines.find((line) => re.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line matching ${re} in time`)), timeoutMs);
      this.waiters.push({
        re,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }
}

/** A clock that moves only when told; due timers fire in order inside advance(). */
export class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;

  constructor(private current: number) {}

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const id = ++this.ids;
    this.timers.push({ at: this.current + ms, fn, id });
    return () => (this.timers = this.timers.filter((t) => t.id !== id));
  }

  /** Moves time forward by `ms`, firing every timer that falls due (in time order). */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = due.at;
      due.fn();
    }
    this.current = end;
  }

  /** When the next timer falls due (undefined when none is armed). */
  nextTimer(): number | undefined {
    return this.timers.map((t) => t.at).sort((a, b) => a - b)[0];
  }
}

export interface SdsFixture {
  readonly target: string;
  readonly client: SecretDiscoveryServiceClient;
  readonly hosts: FakeHosts;
  readonly authority: CaAuthority;
  readonly caStore: CaMaterialStore;
  readonly book: LeafBook;
  readonly logs: () => string;
  /** Resolves with the first log line matching `re` (written already or later). */
  readonly waitForLog: (re: RegExp) => Promise<string>;
  close(): Promise<void>;
}

/** Starts the SDS service alone on a fresh unix socket (mode as the injector's: the temp dir is 0700). */
export async function startSds(
  options: {
    clock?: Clock;
    book?: Partial<Omit<LeafBookOptions, 'signer' | 'hosts' | 'logger'>>;
    logger?: Logger;
    caStore?: CaMaterialStore;
  } = {},
): Promise<SdsFixture> {
  const captured = new LogCapture();
  const logger = options.logger ?? captured.logger;
  const hosts = new FakeHosts();
  const caStore = options.caStore ?? new MemoryCaMaterialStore();
  const authority = new CaAuthority({ store: caStore, ...(options.clock ? { clock: options.clock } : {}) });
  const book = new LeafBook({
    signer: authority,
    hosts,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...options.book,
  });
  const server = new grpc.Server();
  new SdsService({ book, logger }).addToServer(server);
  const target = `unix:${path.join(tempDir('pai-sds-'), 'sds.sock')}`;
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const { SecretDiscoveryService } = loadSdsService().envoy.service.secret.v3;
  const client = new SecretDiscoveryService(target, grpc.credentials.createInsecure());
  return {
    target,
    client,
    hosts,
    authority,
    caStore,
    book,
    logs: () => captured.text(),
    waitForLog: (re) => captured.waitFor(re),
    async close() {
      client.close();
      book.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

/** What Envoy sends: node metadata naming the agent (first request), names, ACK/NACK fields. */
export function sdsRequest(r: {
  agent?: string;
  namespace?: string;
  node?: boolean;
  names?: readonly string[];
  nonce?: string;
  version?: string;
  error?: { code: number; message: string };
  typeUrl?: string;
}): DiscoveryRequest {
  const fields: Record<string, { stringValue: string }> = {};
  if (r.agent !== undefined) fields['pai.agent'] = { stringValue: r.agent };
  if (r.namespace !== undefined) fields['pai.namespace'] = { stringValue: r.namespace };
  return {
    ...((r.node ?? r.agent !== undefined)
      ? { node: { id: 'sidecar~127.0.0.1~pod~ns', cluster: 'pai-sidecar', metadata: { fields } } }
      : {}),
    resource_names: [...(r.names ?? ['pai-leaf'])],
    type_url: r.typeUrl ?? SECRET_TYPE_URL,
    version_info: r.version ?? '',
    response_nonce: r.nonce ?? '',
    ...(r.error ? { error_detail: r.error } : {}),
  };
}

/** The tls_certificate secrets of a response, decoded. */
export function secretsOf(res: DiscoveryResponse__Output): { name: string; chainPem: string; keyPem: string }[] {
  return (res.resources ?? []).map((any) => {
    if (any.type_url !== SECRET_TYPE_URL) throw new Error(`unexpected resource type ${any.type_url}`);
    const secret = decodeSecret(any.value ?? Buffer.alloc(0));
    const tls = secret.tls_certificate;
    return {
      name: secret.name ?? '',
      chainPem: tls?.certificate_chain?.inline_bytes?.toString('utf8') ?? '',
      keyPem: tls?.private_key?.inline_bytes?.toString('utf8') ?? '',
    };
  });
}

/** A StreamSecrets call as a queue: next() resolves with the next response, status with the end. */
export class SdsStreamClient {
  private readonly responses: DiscoveryResponse__Output[] = [];
  private waiters: ((res: DiscoveryResponse__Output) => void)[] = [];
  readonly status: Promise<grpc.StatusObject>;
  private readonly call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>;

  constructor(client: SecretDiscoveryServiceClient) {
    this.call = client.StreamSecrets();
    this.call.on('data', (res: DiscoveryResponse__Output) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(res);
      else this.responses.push(res);
    });
    this.call.on('error', () => undefined); // the status promise carries it
    this.status = new Promise((resolve) => this.call.on('status', resolve));
  }

  send(req: DiscoveryRequest): void {
    this.call.write(req);
  }

  /** The next response (rejects after `timeoutMs`, so that a missing push fails the test rather than hangs). */
  next(timeoutMs = 5000): Promise<DiscoveryResponse__Output> {
    const ready = this.responses.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no SDS response in time')), timeoutMs);
      this.waiters.push((res) => {
        clearTimeout(timer);
        resolve(res);
      });
    });
  }

  /** Responses received and not yet taken. */
  pending(): number {
    return this.responses.length;
  }

  close(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** One FetchSecrets call; resolves with the response or the gRPC error. */
export function fetchSecrets(client: SecretDiscoveryServiceClient, req: DiscoveryRequest): Promise<DiscoveryResponse__Output> {
  return new Promise((resolve, reject) =>
    client.FetchSecrets(req, { deadline: Date.now() + 5000 }, (err, res) =>
      err || !res ? reject(err ?? new Error('empty')) : resolve(res),
    ),
  );
}
