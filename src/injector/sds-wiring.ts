/**
 * The TLS half of `pai serve`, put together from the TLS core: the pai CA over the real store,
 * the leaf book fed by the agent directory, and the SDS registrar for the injector's server.
 * Kept out of main.ts so that the composition root stays a list of parts.
 */
import type { ChangeFeed } from '../changes.js';
import type { Config } from '../config.js';
import { toPaiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SecretStore } from '../store/types.js';
import { CaAuthority } from '../tls/authority.js';
import { SecretStoreCaMaterial } from '../tls/secret-store-ca.js';
import { AgentDirectory } from './agents.js';
import { DirectoryLeafHosts } from './leaf-hosts.js';
import { SdsService } from './sds.js';
import { LeafBook } from './sds-leaves.js';

/** The pai CA of this process, kept in `store` (created on first use, compare-and-set). */
export function caAuthorityFor(store: SecretStore): CaAuthority {
  return new CaAuthority({ store: new SecretStoreCaMaterial(store) });
}

export interface SdsParts {
  readonly sds: SdsService;
  readonly book: LeafBook;
  /** Stops the refresh timer and the leaf book's timers. */
  close(): void;
}

export interface SdsDeps {
  readonly config: Config;
  readonly store: SecretStore;
  readonly changes: ChangeFeed;
  readonly logger: Logger;
  readonly authority: CaAuthority;
}

/**
 * The SDS service for the injector. Every `config.tlsRefreshMs` the CA is re-read from the store, so
 * that a rotation made by another process (the admin API of another replica) reaches open streams.
 */
export function sdsParts(deps: SdsDeps): SdsParts {
  const { config, store, changes, logger, authority } = deps;
  const agents = new AgentDirectory({
    store,
    changes,
    ttlMs: config.cacheTtlMs,
    loadTimeoutMs: config.tokenTimeoutMs,
    // As the injector's own directory: a store outage keeps the last hosts for a while.
    maxStaleMs: Math.max(config.cacheTtlMs * 10, 5 * 60_000),
  });
  const hosts = new DirectoryLeafHosts({ agents, changes, pollMs: config.tlsRefreshMs });
  const book = new LeafBook({ signer: authority, hosts, logger, lifetimeMs: config.leafTtlMs });
  const timer = setInterval(() => {
    authority.refresh().then(
      (changed) => {
        if (changed) logger.info({}, 'the pai CA changed in the store: open SDS streams get leaves of the new CA');
      },
      (err: unknown) =>
        logger.warn({ code: toPaiError(err).code }, 'the pai CA could not be re-read; the one in memory stays in use'),
    );
  }, config.tlsRefreshMs);
  timer.unref();
  return {
    sds: new SdsService({ book, logger }),
    book,
    close() {
      clearInterval(timer);
      book.close();
    },
  };
}
