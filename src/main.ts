/**
 * Composition root of `pai serve`: builds the store, the services and the servers from a Config,
 * and returns a handle to stop them. Nothing else wires dependencies together.
 */
import fs from 'node:fs';
import type * as YamlModule from 'yaml';
// The modules of one role only are imported by the code of that role (dynamic import() below), so
// that an injector does not carry the admin API's modules in memory (docs/PERFORMANCE.md).
import { TokenService } from './auth/tokens.js';
import type { AuditLog } from './admin/audit.js';
import type { AdminDeps } from './admin/routes.js';
import { ChangeFeed } from './changes.js';
import { ADMIN_INSECURE_VAR, type Config, formatListen } from './config.js';
import { PaiError, toPaiError } from './errors.js';
import type { Logger } from './log.js';
import { type Metrics, createMetrics, scrapeRegistry } from './metrics.js';
import { openStore } from './store/index.js';
import type { InjectorServer } from './injector/server.js';
import { collectWhenIdle } from './heap.js';
import { caAuthorityFor } from './injector/sds-wiring.js';
import { instrumentStore } from './store/instrumented.js';
import { ensurePrivateDir, writeFileDurably } from './store/local/files.js';
import type { LocalStore } from './store/local/sqlite-store.js';
import type { SecretStore } from './store/types.js';

export type ServeRole = 'all' | 'admin' | 'injector' | 'webhook';

export interface RunningServer {
  readonly adminAddress: string | undefined;
  readonly injectorAddress: string | undefined;
  /** The admission webhook's host:port (role webhook). */
  readonly webhookAddress?: string | undefined;
  /** The admin token created on first start (undefined when one existed already). */
  readonly bootstrapToken: string | undefined;
  readonly store: SecretStore;
  readonly metrics: Metrics;
  /** The injector of this process (role all or injector), for its request log and usage counts. */
  readonly injectorServer: InjectorServer | undefined;
  close(): Promise<void>;
}

interface ClientConfigFile {
  server?: string;
  token?: string;
}

// yaml is imported by the admin roles only, when they write the CLI's config file (an injector in
// every agent pod never needs it).
type Yaml = Pick<typeof YamlModule, 'parse' | 'stringify'>;
const loadYaml = (): Promise<Yaml> => import('yaml');

function readClientConfig(YAML: Yaml, file: string): ClientConfigFile {
  try {
    const parsed: unknown = YAML.parse(fs.readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

/** The admin API's URL as the CLI wants it: `unix:/path`, or http(s)://host:port. */
export function adminUrl(adminAddress: string, tls: boolean): string {
  if (adminAddress.startsWith('unix:')) return adminAddress;
  return `${tls ? 'https' : 'http'}://${adminAddress}`;
}

function clientConfigText(YAML: Yaml, config: Config, adminAddress: string, token: string | undefined): string {
  const server = adminUrl(adminAddress, config.adminTls !== undefined);
  return (
    '# Written by `pai serve`: where the pai CLI finds the admin API, and its token. Keep it private (0600).\n' +
    YAML.stringify({ server, ...(token ? { token } : {}) })
  );
}

/**
 * Makes sure the CLI on this machine can reach the server: keeps a valid token from the config
 * file, creates or renews one when needed (auth/local-token.ts), and writes `server` and `token` (0600).
 */
async function bootstrapClientConfig(
  config: Config,
  tokens: TokenService,
  adminAddress: string,
  logger: Logger,
  now: () => Date,
): Promise<string | undefined> {
  const { localToken } = await import('./auth/local-token.js');
  const YAML = await loadYaml();
  const { token, created } = await localToken(tokens, readClientConfig(YAML, config.configFile).token, logger, now);
  writeFileDurably(config.configFile, clientConfigText(YAML, config, adminAddress, token));
  return created;
}

/** A store that cannot answer for now (Vault sealed, unreachable, timing out), not one that refuses pai. */
function isTransient(err: unknown): boolean {
  return err instanceof PaiError && err.code === 'store_unavailable' && err.details?.['vaultStatus'] !== 403;
}

const BOOTSTRAP_RETRY_FIRST_MS = 1000;
const BOOTSTRAP_RETRY_MAX_MS = 30_000;

/**
 * bootstrapClientConfig, tolerant of a store that is down at start (Vault sealed or unreachable:
 * the admin API must still start, and answer 503 on /readyz): the config file then gets the
 * server and the token it already held (unverified), and the bootstrap is retried in the
 * background (1 s doubling to 30 s) until it succeeds. Returns the token created now, if any, and
 * a function that stops the retries. Throws what is not transient (a Vault policy that refuses pai).
 */
async function bootstrapOrRetry(
  config: Config,
  tokens: TokenService,
  adminAddress: string,
  logger: Logger,
  now: () => Date,
): Promise<{ created: string | undefined; stop: () => void }> {
  try {
    return { created: await bootstrapClientConfig(config, tokens, adminAddress, logger, now), stop: () => undefined };
  } catch (err) {
    if (!isTransient(err)) throw err;
    const YAML = await loadYaml();
    const text = clientConfigText(YAML, config, adminAddress, readClientConfig(YAML, config.configFile).token);
    writeFileDurably(config.configFile, text);
    logger.warn(
      { code: 'store_unavailable', configFile: config.configFile },
      'the store is unavailable: serving anyway (not ready); the admin token bootstrap is retried in the background',
    );
  }
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const retry = (delayMs: number): void => {
    timer = setTimeout(() => {
      bootstrapClientConfig(config, tokens, adminAddress, logger, now).then(
        () => logger.info({ configFile: config.configFile }, 'the store answers again: admin token bootstrap done'),
        (err: unknown) => {
          if (stopped) return;
          if (isTransient(err)) {
            retry(Math.min(delayMs * 2, BOOTSTRAP_RETRY_MAX_MS));
            return;
          }
          const code = toPaiError(err).code;
          logger.error({ code }, 'the admin token bootstrap failed; restart pai serve once the store is fixed');
        },
      );
    }, delayMs);
    timer.unref();
  };
  retry(BOOTSTRAP_RETRY_FIRST_MS);
  return {
    created: undefined,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** /readyz answers within this long (a probe with a short timeout must see 503, not a hang). */
const READY_TIMEOUT_MS = 1000;

function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PaiError('store_unavailable', `the store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export interface StartOptions {
  readonly role: ServeRole;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => Date;
}

/** Starts the servers of `role` on `config`. Throws ConfigError / PaiError when it cannot start. */
/**
 * Logs the document rows of pai.db that fail their MAC (written without the master key): they are
 * refused on every read already; this says so once at start, naming kind, namespace and name only.
 */
/** The local store behind `raw`, if it is one (imported only then: a Vault process never loads SQLite). */
async function localStoreOf(config: Config, raw: SecretStore): Promise<LocalStore | undefined> {
  if (config.store === 'vault') return undefined;
  const { LocalStore } = await import('./store/local/sqlite-store.js');
  return raw instanceof LocalStore ? raw : undefined;
}

function reportTamperedRows(store: LocalStore, logger: Logger): void {
  const bad = store.integrityReport();
  if (bad.length === 0) return;
  logger.error(
    { rows: bad.slice(0, 50).map((r) => `${r.kind}/${r.namespace === '' ? '' : `${r.namespace}/`}${r.name}`), count: bad.length },
    'pai.db holds rows that fail their integrity check (written without the master key): they are refused, never acted on',
  );
}

export async function startServer(config: Config, options: StartOptions): Promise<RunningServer> {
  const { logger, role } = options;
  // Only the admin API serves /metrics: a process without it (an injector, a webhook) keeps its
  // counters (tests and a future endpoint read them) but not prom-client's default process metrics,
  // whose event-loop-delay monitor alone wakes the process every 10 ms.
  const metrics = options.metrics ?? createMetrics(role === 'all' || role === 'admin' ? await scrapeRegistry() : undefined);
  ensurePrivateDir(config.dataDir);
  const raw = await openStore(config);
  const store = instrumentStore(raw, metrics);
  const changes = new ChangeFeed();
  const now = options.now ?? ((): Date => new Date());
  const tokens = new TokenService({ store, now, defaultTtlMs: config.tokenDefaultTtlMs });
  const closers: (() => Promise<void> | void)[] = [() => store.close()];
  let adminAddress: string | undefined;
  let injectorAddress: string | undefined;
  let webhookAddress: string | undefined;
  let bootstrapToken: string | undefined;
  let audit: AuditLog | undefined;
  let injectorServer: InjectorServer | undefined;
  // One pai CA per process, shared by the admin API (get/rotate) and the SDS leaf book, so that a
  // rotation made here reaches this process's open SDS streams at once.
  const authority = caAuthorityFor(store);
  try {
    const local = await localStoreOf(config, raw);
    if (local) reportTamperedRows(local, logger);
    if (role === 'all' || role === 'admin') {
      const [{ openAuditLog }, { buildAdminRouter }, { AdminServer }, { hostCheck }, { loadAdminTls }] = await Promise.all([
        import('./admin/audit.js'),
        import('./admin/routes.js'),
        import('./admin/server.js'),
        import('./admin/host-check.js'),
        import('./admin/tls.js'),
      ]);
      audit = openAuditLog(config.auditLogFile);
      const auditLog = audit;
      closers.push(() => auditLog.close());
      const deps: AdminDeps = {
        store,
        tokens,
        audit,
        changes,
        authority,
        ...(local ? { localStore: local } : {}),
      };
      const ready = (): Promise<void> => withTimeout(store.ping(), READY_TIMEOUT_MS);
      const hosts = hostCheck(config.adminListen, config.adminAllowedHosts);
      const admin = new AdminServer({
        router: buildAdminRouter(deps),
        tokens,
        metrics,
        logger,
        ready,
        ...(config.adminTls ? { tls: loadAdminTls(config.adminTls) } : {}),
        ...(hosts ? { hostCheck: hosts } : {}),
      });
      if (config.adminInsecurePlainHttp) {
        logger.warn(
          { listen: formatListen(config.adminListen), variable: ADMIN_INSECURE_VAR },
          'INSECURE: the admin API serves plain HTTP on a non-loopback address; tokens and rendered values cross the network in clear unless a TLS proxy on this host or pod fronts it',
        );
      }
      adminAddress = await admin.listen(config.adminListen);
      closers.unshift(() => admin.close());
      const bootstrap = await bootstrapOrRetry(config, tokens, adminAddress, logger, now);
      closers.unshift(bootstrap.stop);
      bootstrapToken = bootstrap.created;
    }
    if (role === 'all' || role === 'injector') {
      const [{ OAuthTokenSource }, { ExtProcService }, { InjectorServer }, { sdsParts }] = await Promise.all([
        import('./injector/oauth.js'),
        import('./injector/ext-proc.js'),
        import('./injector/server.js'),
        import('./injector/sds-wiring.js'),
      ]);
      const accessTokens = new OAuthTokenSource({
        timeoutMs: config.tokenTimeoutMs,
        metrics,
        logger,
        allowedTokenUrls: config.allowedTokenUrls,
      });
      if (config.allowedTokenUrls.length > 0) {
        logger.warn(
          { allowedTokenUrls: config.allowedTokenUrls },
          "token endpoints outside the clouds' documented ones are allowed",
        );
      }
      const extProc = new ExtProcService({ maxSignedBodyBytes: config.maxSignedBodyBytes });
      const tlsParts = sdsParts({ config, store, changes, logger, authority });
      closers.unshift(() => tlsParts.close());
      const injector = new InjectorServer({ config, store, changes, metrics, logger, accessTokens }, [extProc, tlsParts.sds]);
      injectorAddress = await injector.listen();
      injectorServer = injector;
      closers.unshift(() => injector.close());
    }
    if (role === 'webhook') {
      // Loaded only by this role (issue 15: each role imports what it uses).
      const { startWebhookRole } = await import('./webhook/serve.js');
      const webhook = await startWebhookRole(config, { store, authority, logger });
      webhookAddress = webhook.address;
      closers.unshift(() => webhook.close());
    }
  } catch (err) {
    for (const close of closers) await close();
    throw err;
  }
  logger.info(
    {
      role,
      store: config.store,
      admin: adminAddress,
      injector: injectorAddress,
      ...(injectorAddress === undefined ? {} : { injectorIdentity: config.injectorIdentity }),
      webhook: webhookAddress,
      dataDir: config.dataDir,
    },
    'pai serve started',
  );
  const mib = (bytes: number): number => Math.round(bytes / 104_857.6) / 10;
  closers.push(
    collectWhenIdle({
      onCollect: (before, after) => logger.debug({ heapMiB: mib(before), afterMiB: mib(after) }, 'heap collected while idle'),
    }),
  );
  return {
    adminAddress,
    injectorAddress,
    webhookAddress,
    bootstrapToken,
    store,
    metrics,
    injectorServer,
    async close() {
      for (const close of closers) await close();
    },
  };
}

export { formatListen };
