/**
 * Composition root of `pai serve`: builds the store, the services and the servers from a Config,
 * and returns a handle to stop them. Nothing else wires dependencies together.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { TokenService } from './auth/tokens.js';
import { openAuditLog, type AuditLog } from './admin/audit.js';
import { type AdminDeps, buildAdminRouter } from './admin/routes.js';
import { AdminServer } from './admin/server.js';
import { ChangeFeed } from './changes.js';
import { type Config, formatListen } from './config.js';
import { PaiError, toPaiError } from './errors.js';
import type { Logger } from './log.js';
import { type Metrics, createMetrics } from './metrics.js';
import { openStore } from './store/index.js';
import { ExtProcService } from './injector/ext-proc.js';
import { OAuthTokenSource } from './injector/oauth.js';
import { InjectorServer } from './injector/server.js';
import { instrumentStore } from './store/instrumented.js';
import { ensurePrivateDir, writeFileDurably } from './store/local/files.js';
import { LocalStore } from './store/local/sqlite-store.js';
import type { SecretStore } from './store/types.js';

export type ServeRole = 'all' | 'admin' | 'injector';

export interface RunningServer {
  readonly adminAddress: string | undefined;
  readonly injectorAddress: string | undefined;
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

function readClientConfig(file: string): ClientConfigFile {
  try {
    const parsed: unknown = YAML.parse(fs.readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

function clientConfigText(adminAddress: string, token: string | undefined): string {
  const server = adminAddress.startsWith('unix:') ? adminAddress : `http://${adminAddress}`;
  return (
    '# Written by `pai serve`: where the pai CLI finds the admin API, and its token. Keep it private (0600).\n' +
    YAML.stringify({ server, ...(token ? { token } : {}) })
  );
}

/**
 * Makes sure the CLI on this machine can reach the server: keeps a valid token from the config
 * file, creates an admin token on first start, and writes `server` and `token` (0600).
 */
async function bootstrapClientConfig(
  config: Config,
  tokens: TokenService,
  adminAddress: string,
  logger: Logger,
): Promise<string | undefined> {
  const existing = readClientConfig(config.configFile);
  let token = existing.token;
  let created: string | undefined;
  if (token) {
    try {
      await tokens.verify(token);
    } catch (err) {
      if (err instanceof PaiError && err.code === 'store_unavailable') throw err;
      token = undefined;
    }
  }
  if (!token) {
    const made = await tokens.createFirstAdmin('created by pai serve on first start');
    if (made) {
      token = made.token;
      created = made.token;
      logger.info({ tokenId: made.info.id }, 'created the first admin token');
    } else {
      logger.info(
        { configFile: config.configFile },
        'an admin token exists (or another pai serve on this store is creating the first one) but none is in the config file; not creating another',
      );
    }
  }
  writeFileDurably(config.configFile, clientConfigText(adminAddress, token));
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
): Promise<{ created: string | undefined; stop: () => void }> {
  try {
    return { created: await bootstrapClientConfig(config, tokens, adminAddress, logger), stop: () => undefined };
  } catch (err) {
    if (!isTransient(err)) throw err;
    writeFileDurably(config.configFile, clientConfigText(adminAddress, readClientConfig(config.configFile).token));
    logger.warn(
      { code: 'store_unavailable', configFile: config.configFile },
      'the store is unavailable: serving anyway (not ready); the admin token bootstrap is retried in the background',
    );
  }
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const retry = (delayMs: number): void => {
    timer = setTimeout(() => {
      bootstrapClientConfig(config, tokens, adminAddress, logger).then(
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
export async function startServer(config: Config, options: StartOptions): Promise<RunningServer> {
  const { logger, role } = options;
  const metrics = options.metrics ?? createMetrics();
  ensurePrivateDir(config.dataDir);
  const raw = await openStore(config);
  const store = instrumentStore(raw, metrics);
  const changes = new ChangeFeed();
  const tokens = new TokenService({ store, ...(options.now ? { now: options.now } : {}) });
  const closers: (() => Promise<void> | void)[] = [() => store.close()];
  let adminAddress: string | undefined;
  let injectorAddress: string | undefined;
  let bootstrapToken: string | undefined;
  let audit: AuditLog | undefined;
  let injectorServer: InjectorServer | undefined;
  try {
    if (role === 'all' || role === 'admin') {
      audit = openAuditLog(config.auditLogFile);
      const auditLog = audit;
      closers.push(() => auditLog.close());
      const deps: AdminDeps = {
        store,
        tokens,
        audit,
        changes,
        ...(raw instanceof LocalStore ? { localStore: raw } : {}),
      };
      const ready = (): Promise<void> => withTimeout(store.ping(), READY_TIMEOUT_MS);
      const admin = new AdminServer({ router: buildAdminRouter(deps), tokens, metrics, logger, ready });
      adminAddress = await admin.listen(config.adminListen);
      closers.unshift(() => admin.close());
      const bootstrap = await bootstrapOrRetry(config, tokens, adminAddress, logger);
      closers.unshift(bootstrap.stop);
      bootstrapToken = bootstrap.created;
    }
    if (role === 'all' || role === 'injector') {
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
      const injector = new InjectorServer({ config, store, changes, metrics, logger, accessTokens }, [extProc]);
      injectorAddress = await injector.listen();
      injectorServer = injector;
      closers.unshift(() => injector.close());
    }
  } catch (err) {
    for (const close of closers) await close();
    throw err;
  }
  logger.info(
    { role, store: config.store, admin: adminAddress, injector: injectorAddress, dataDir: config.dataDir },
    'pai serve started',
  );
  return {
    adminAddress,
    injectorAddress,
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
