/**
 * The injector's gRPC server: ext_authz Check, ext_proc Process and grpc.health.v1 on a unix
 * socket (mode 0600, the default), or on TCP with mTLS only. Plain TCP exists solely behind the
 * loudly named benchmark switch, on loopback, with a warning at start.
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { Health } from './health.js';
import { TokenService } from '../auth/tokens.js';
import { type Config, INSECURE_TCP_VAR, formatListen } from '../config.js';
import type { ChangeFeed } from '../changes.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { SecretRecord, SecretStore } from '../store/types.js';
import { AgentDirectory } from './agents.js';
import { type AccessTokenSource, Decider, secretKey, secretOfKey } from './decide.js';
import { ExtAuthzService, serviceDefinition } from './ext-authz.js';
import { GatewayDecider } from './gateway.js';
import { LoadingCache } from './loading-cache.js';
import { decisionObserver } from './observe.js';
import { PeerIdentity } from './peer-identity.js';
import { RequestLog } from './request-log.js';
import { INJECTOR_SERVER_OPTIONS } from './server-options.js';
import { METHOD_SHAPES } from './service-shapes.js';
import { UsageRecorder } from './usage.js';
import { claimSocketPath, removeSocket } from '../unix-socket.js';

export interface InjectorDeps {
  readonly config: Config;
  readonly store: SecretStore;
  readonly changes: ChangeFeed;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly accessTokens?: AccessTokenSource;
  /** Store reads on the request path give up after this long (Envoy's own timeout is ~200 ms). */
  readonly storeTimeoutMs?: number;
}

/** Extra services mounted on the same server (ext_proc, gateway) register here. */
export interface ServiceRegistrar {
  addToServer(server: grpc.Server, parts: InjectorParts): void;
}

/** The shared pieces every injector service decides with. */
export interface InjectorParts {
  readonly decider: Decider;
  readonly secrets: LoadingCache<SecretRecord>;
  readonly agents: AgentDirectory;
  readonly observer: ReturnType<typeof decisionObserver>;
  /** Shared mode (PAI_INJECTOR_IDENTITY=peer-certificate): the agent is the mTLS peer's SPIFFE ID. */
  readonly peer: PeerIdentity | undefined;
}

function credentials(config: Config, logger: Logger): grpc.ServerCredentials {
  const listen = config.injectorListen;
  if (listen.kind === 'unix') return grpc.ServerCredentials.createInsecure();
  const tls = config.injectorTls;
  if (tls) {
    if (config.injectorIdentity === 'route') {
      logger.warn(
        { listen: formatListen(listen), variable: 'PAI_INJECTOR_IDENTITY' },
        'the injector listens with mTLS but takes the agent from the route (PAI_INJECTOR_IDENTITY=route): ' +
          'any holder of a certificate of the client CA can speak for any agent',
      );
    }
    return grpc.ServerCredentials.createSsl(
      fs.readFileSync(tls.clientCaFile),
      [{ cert_chain: fs.readFileSync(tls.certFile), private_key: fs.readFileSync(tls.keyFile) }],
      true,
    );
  }
  logger.warn(
    { listen: formatListen(listen), variable: INSECURE_TCP_VAR },
    'INSECURE: the injector listens on plain TCP. Anyone who can connect can read injected credentials. ' +
      'This is for benchmarks on a developer machine only, never for a pod.',
  );
  return grpc.ServerCredentials.createInsecure();
}

export class InjectorServer {
  readonly server: grpc.Server;
  readonly parts: InjectorParts;
  private readonly health = new Health({ '': 'NOT_SERVING' });
  readonly requestLog: RequestLog;
  readonly usage: UsageRecorder;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: InjectorDeps,
    extra: readonly ServiceRegistrar[] = [],
  ) {
    const { config, store, changes, metrics, logger } = deps;
    const timeout = deps.storeTimeoutMs ?? 150;
    const maxStaleMs = Math.max(config.cacheTtlMs * 10, 5 * 60_000);
    const lookups = {
      hit: metrics.cacheRequests.child({ result: 'hit' }),
      miss: metrics.cacheRequests.child({ result: 'miss' }),
      stale: metrics.cacheRequests.child({ result: 'stale' }),
    };
    const secrets = new LoadingCache<SecretRecord>({
      load: (key) => {
        const { namespace, name } = secretOfKey(key);
        return store.readSecret(namespace, name);
      },
      ttlMs: config.cacheTtlMs,
      maxStaleMs,
      loadTimeoutMs: timeout,
      onLookup: (result) => lookups[result].inc(),
    });
    const agents = new AgentDirectory({ store, changes, ttlMs: config.cacheTtlMs, loadTimeoutMs: timeout, maxStaleMs });
    // Gateway mode's agent tokens: cached like the rest (no store read per request once warm), no
    // stale fallback (a revoked token must stop working within the TTL even when the store is down).
    const usage = new UsageRecorder({ store, logger, flushMs: config.usageFlushMs });
    this.usage = usage;
    // An agent token's last use goes to the usage counts: the injector never writes a token record.
    const tokens = new TokenService({
      store,
      cacheTtlMs: config.cacheTtlMs,
      loadTimeoutMs: timeout,
      kinds: ['agenttokens'],
      onUse: (p) => {
        if (p.agent !== undefined) usage.count(p.agentNamespace ?? 'default', { agent: p.agent, kind: 'Token', name: p.tokenId });
      },
    });
    this.unsubscribe = changes.subscribe((c) => {
      if (c.type === 'secret') secrets.invalidate(secretKey(c.namespace, c.name));
      else if (c.kind === 'tokens' || c.kind === 'agenttokens') tokens.forget(c.name.replace(/^t/, ''));
    });
    const decider = new Decider({
      storeBudgetMs: timeout,
      agents,
      secrets,
      ...(deps.accessTokens ? { accessTokens: deps.accessTokens } : {}),
    });
    this.requestLog = new RequestLog({
      file: config.requestLogFile,
      maxBytes: config.requestLogMaxBytes,
      logger,
      onDrop: (n) => metrics.requestLogDropped.inc({}, n),
    });
    const observer = decisionObserver(metrics, logger, { requestLog: this.requestLog, usage: this.usage });
    const peer = config.injectorIdentity === 'peer-certificate' ? new PeerIdentity(config.spiffeTrustDomain) : undefined;
    this.parts = { decider, secrets, agents, observer, peer };
    this.server = new grpc.Server(INJECTOR_SERVER_OPTIONS);
    const gateway = new GatewayDecider({ tokens, agents, secrets, trustDomain: config.spiffeTrustDomain, metrics });
    const { definition, serialize } = serviceDefinition();
    const authz = new ExtAuthzService(decider, observer, gateway, serialize, peer);
    this.server.addService(definition, { Check: authz.check });
    this.health.addToServer(this.server);
    for (const registrar of extra) registrar.addToServer(this.server, this.parts);
  }

  /**
   * Binds the configured address; resolves with its text form. A unix path must be free or a stale
   * socket (claimSocketPath): throws ConfigError naming PAI_INJECTOR_LISTEN otherwise.
   */
  async listen(): Promise<string> {
    const { config, logger } = this.deps;
    const listen = config.injectorListen;
    let target: string;
    if (listen.kind === 'unix') {
      await claimSocketPath(listen.path, 'PAI_INJECTOR_LISTEN');
      target = `unix:${listen.path}`;
    } else {
      target = `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
    }
    const creds = credentials(config, logger);
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(target, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    if (listen.kind === 'unix') fs.chmodSync(listen.path, 0o600);
    this.health.setStatus('', 'SERVING');
    this.health.setStatus(METHOD_SHAPES.auth.service, 'SERVING');
    this.health.setStatus(METHOD_SHAPES.extProc.service, 'SERVING');
    return listen.kind === 'unix' ? target : `${listen.host}:${port}`;
  }

  /** Stops serving: health goes NOT_SERVING, in-flight calls finish (bounded), the socket is removed. */
  async close(graceMs = 2000): Promise<void> {
    this.unsubscribe?.();
    this.health.setStatus('', 'NOT_SERVING');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    const listen = this.deps.config.injectorListen;
    if (listen.kind === 'unix') removeSocket(listen.path);
    await Promise.all([this.requestLog.close(), this.usage.close()]);
  }
}
