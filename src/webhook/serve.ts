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
import type https from 'node:https';
import type { Config } from '../config.js';
import { toPaiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SidecarInjector } from '../resources/sidecar-config.js';
import type { SecretStore } from '../store/types.js';
import type { CaAuthority } from '../tls/authority.js';
import { issueLeaf } from '../tls/leaf.js';
import type { InjectionOptions } from './containers.js';
import { startWebhookServer } from './server.js';
import { StoreSidecarPieces } from './store-pieces.js';

/** A failed renewal is retried this often (the certificate in use still has a third of its life). */
const RENEW_RETRY_MS = 60_000;

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

interface ServingCert {
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

/** Renews the certificate of `server` at 2/3 of its life, forever; returns the function that stops it. */
function keepRenewing(server: https.Server, first: ServingCert, config: Config, deps: WebhookRoleDeps): () => void {
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number): void => {
    timer = setTimeout(() => void renew(), Math.min(Math.max(ms, 1000), 2 ** 31 - 1));
    timer.unref();
  };
  const renew = async (): Promise<void> => {
    try {
      await deps.authority.refresh().catch(() => false);
      const next = await issueServingCert(config, deps.authority);
      server.setSecureContext({ cert: next.cert, key: next.key });
      deps.logger.info({ notAfter: next.notAfter.toISOString() }, 'webhook serving certificate renewed');
      schedule(((next.notAfter.getTime() - Date.now()) * 2) / 3);
    } catch (err) {
      deps.logger.warn({ code: toPaiError(err).code }, 'the webhook serving certificate could not be renewed; retrying');
      schedule(RENEW_RETRY_MS);
    }
  };
  schedule(((first.notAfter.getTime() - Date.now()) * 2) / 3);
  return () => clearTimeout(timer);
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
  const stop = keepRenewing(server, first, config, deps);
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
