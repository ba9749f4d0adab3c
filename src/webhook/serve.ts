/**
 * `pai serve --role webhook`: the admission webhook over HTTPS with a serving certificate from the
 * pai CA, answering from the store (StoreSidecarPieces).
 *
 * The certificate (decided): issued at start for PAI_WEBHOOK_DNS_NAMES (the Service's names), for
 * PAI_WEBHOOK_CERT_TTL (24 h), and re-issued in the process at 2/3 of its life after re-reading the
 * CA, so a leaked key is worth a day at most and nothing outside the process (no Secret, no
 * cert-manager) holds it. The API server trusts it through the MutatingWebhookConfiguration's
 * caBundle (`pai render install`); after `pai rotate ca`, apply the install again so the bundle
 * holds the new CA before the next renewal (the old CA stays trusted for the overlap).
 */
import type { Config } from '../config.js';
import { toPaiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SidecarInjector } from '../resources/sidecar-config.js';
import type { SecretStore } from '../store/types.js';
import type { CaAuthority } from '../tls/authority.js';
import { issueLeaf } from '../tls/leaf.js';
import { type Clock, systemClock } from '../tls/types.js';
import type { InjectionOptions } from './containers.js';
import { startWebhookServer } from './server.js';
import { StoreSidecarPieces } from './store-pieces.js';

/** A failed renewal is retried this often (the certificate in use still has a third of its life). */
export const RENEW_RETRY_MS = 60_000;

export interface WebhookRoleDeps {
  readonly store: SecretStore;
  readonly authority: CaAuthority;
  readonly logger: Logger;
}

export interface RunningWebhook {
  /** `host:port` the webhook listens on. */
  readonly address: string;
  close(): Promise<void>;
}

export interface ServingCert {
  readonly cert: string;
  readonly key: string;
  readonly notAfter: Date;
}

async function issueServingCert(config: Config, authority: CaAuthority): Promise<ServingCert> {
  const ca = await authority.signing();
  const { namespace, name } = { namespace: 'pai-system', name: 'pai-webhook' };
  const leaf = await issueLeaf(ca, { namespace, name }, config.webhook.dnsNames, Date.now(), {
    lifetimeMs: config.webhook.certTtlMs,
  });
  return { cert: leaf.chainPem, key: leaf.key.reveal(), notAfter: leaf.notAfter };
}

function injectionOptions(config: Config): InjectionOptions {
  const w = config.webhook;
  return {
    mode: w.mode,
    paiImage: w.paiImage,
    envoyImage: w.envoyImage,
    redirectImage: w.redirectImage,
    injectorEnv: w.injectorEnv,
    tokenAudience: w.tokenAudience,
  };
}

function injectorOf(config: Config): SidecarInjector {
  const shared = config.webhook.sharedInjector;
  // SPIRE's SDS names the workload's own certificate "default".
  return config.webhook.mode === 'shared' && shared !== undefined
    ? { kind: 'mtls', address: shared, sdsCertName: 'default' }
    : { kind: 'unix' };
}

export interface RenewalDeps {
  /** Issues a fresh certificate (after re-reading the CA). */
  readonly issue: () => Promise<ServingCert>;
  /** Puts it in use (server.setSecureContext). */
  readonly apply: (cert: ServingCert) => void;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Renews `first` at 2/3 of its life, then each new certificate likewise; a failed renewal is
 * retried after RENEW_RETRY_MS. Returns the function that stops renewing.
 */
export function keepRenewing(first: ServingCert, deps: RenewalDeps): () => void {
  let cancel: () => void = () => undefined;
  const schedule = (ms: number): void => {
    cancel = deps.clock.setTimer(() => void renew(), Math.max(ms, 1000));
  };
  const lifeLeft = (cert: ServingCert): number => ((cert.notAfter.getTime() - deps.clock.now()) * 2) / 3;
  const renew = async (): Promise<void> => {
    try {
      const next = await deps.issue();
      deps.apply(next);
      deps.logger.info({ notAfter: next.notAfter.toISOString() }, 'webhook serving certificate renewed');
      schedule(lifeLeft(next));
    } catch (err) {
      deps.logger.warn({ code: toPaiError(err).code }, 'the webhook serving certificate could not be renewed; retrying');
      schedule(RENEW_RETRY_MS);
    }
  };
  schedule(lifeLeft(first));
  return () => cancel();
}

/** Starts the webhook on config.webhook.listen. Rejects when the CA cannot be read or the port cannot be bound. */
export async function startWebhookRole(config: Config, deps: WebhookRoleDeps): Promise<RunningWebhook> {
  const first = await issueServingCert(config, deps.authority);
  const pieces = new StoreSidecarPieces({ store: deps.store, authority: deps.authority, injector: injectorOf(config) });
  const { host, port: wanted } = config.webhook.listen;
  const { server, port } = await startWebhookServer(
    { cert: first.cert, key: first.key, pieces, options: injectionOptions(config) },
    host,
    wanted,
  );
  const stop = keepRenewing(first, {
    issue: async () => {
      await deps.authority.refresh().catch(() => false);
      return issueServingCert(config, deps.authority);
    },
    apply: (next) => server.setSecureContext({ cert: next.cert, key: next.key }),
    clock: systemClock,
    logger: deps.logger,
  });
  deps.logger.info(
    { dnsNames: config.webhook.dnsNames, notAfter: first.notAfter.toISOString(), mode: config.webhook.mode },
    'webhook serving certificate issued by the pai CA',
  );
  return {
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    async close() {
      stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
