/**
 * `pai render gateway [-o yaml|json] [--port N] [--injector-socket PATH] [--client-cert MODE]
 * [--trust-domain TD] [--tls-dir DIR]`: the shared LLM gateway's Envoy bootstrap, one route and one
 * cluster per ModelProvider read through the admin API (viewer or admin token). Prints no value:
 * the gateway file names hosts and ModelProviders only.
 */
import { type ClientCertificateMode, renderGatewayConfig } from '../resources/gateway-config.js';
import type { ModelProvider } from '../resources/types.js';
import { parseResource } from '../resources/validate.js';
import { type AdminClient, CliError } from './client.js';
import type { CliIo } from './io.js';

export interface RenderGatewayOptions {
  readonly output: string;
  readonly port: string;
  readonly injectorSocket: string;
  readonly clientCert: string;
  readonly trustDomain: string;
  readonly tlsDir: string;
}

const MODES: readonly ClientCertificateMode[] = ['required', 'optional', 'none'];

function usage(message: string): CliError {
  return new CliError(message, 2);
}

function checked(opts: RenderGatewayOptions): { port: number; mode: ClientCertificateMode } {
  if (opts.output !== 'yaml' && opts.output !== 'json')
    throw usage(`unknown output format "${opts.output}" (expected yaml or json)`);
  const port = Number(opts.port);
  if (!/^\d{1,5}$/.test(opts.port) || port < 1 || port > 65535)
    throw usage(`--port must be a TCP port (1-65535), got "${opts.port}"`);
  if (!opts.injectorSocket.startsWith('/')) throw usage('--injector-socket must be an absolute path');
  if (!opts.tlsDir.startsWith('/')) throw usage('--tls-dir must be an absolute path');
  if (!/^[a-z0-9._-]{1,255}$/.test(opts.trustDomain))
    throw usage(`--trust-domain is not a SPIFFE trust domain: "${opts.trustDomain}"`);
  const mode = MODES.find((m) => m === opts.clientCert);
  if (!mode) throw usage(`--client-cert must be one of ${MODES.join(', ')}`);
  return { port, mode };
}

/** Fetches every ModelProvider and prints the gateway bootstrap; notes skipped ones on stderr. */
export async function renderGateway(client: AdminClient, opts: RenderGatewayOptions, io: CliIo): Promise<void> {
  const { port, mode } = checked(opts);
  const res = await client.request<{ items: { resource: unknown }[] }>('GET', client.nsPath('modelproviders'));
  const modelProviders = res.body.items.map((item, i): ModelProvider => {
    const resource = parseResource(item.resource, `modelproviders item ${i}`);
    if (resource.kind !== 'ModelProvider') throw new CliError(`the server listed a ${resource.kind} among the model providers`);
    return resource;
  });
  const rendered = renderGatewayConfig(modelProviders, {
    port,
    injectorSocket: opts.injectorSocket,
    clientCertificates: mode,
    trustDomain: opts.trustDomain,
    tlsDir: opts.tlsDir,
  });
  for (const s of rendered.skipped) io.stderr(`note: ModelProvider ${s.name} is not routed by the gateway: ${s.reason}\n`);
  if (modelProviders.length === rendered.skipped.length)
    io.stderr('note: no ModelProvider to route; the gateway answers 404 to everything\n');
  io.stdout(opts.output === 'json' ? `${JSON.stringify(rendered.config, null, 2)}\n` : rendered.yaml);
}
