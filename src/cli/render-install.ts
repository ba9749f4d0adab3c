/**
 * `pai render install [--namespace pai-system] [--store local|vault] [--image ...] [--ca-bundle FILE]`:
 * the Kubernetes manifests of pai-secrets (src/resources/install-manifests.ts) on stdout.
 *
 * The MutatingWebhookConfiguration needs the pai CA (its caBundle): from `--ca-bundle FILE` (a
 * PEM file, e.g. the output of `pai get ca`) when given, else read from a reachable admin API
 * (GET /v1/ca, any viewer token), so that rendering needs no server when the CA is at hand. Prints
 * no secret and no key: the CA's certificates are public.
 */
import fs from 'node:fs';
import { nameProblem } from '../resources/names.js';
import { type InstallOptions, INSTALL_PREREQUISITES, installYaml, renderInstall } from '../resources/install-manifests.js';
import { type AdminClient, CliError } from './client.js';
import type { CliIo } from './io.js';

export interface RenderInstallFlags {
  readonly namespace: string;
  readonly store: string;
  readonly image: string;
  readonly envoyImage: string;
  readonly redirectImage: string;
  readonly caBundle: string | undefined;
  readonly vaultAddr: string;
  readonly vaultMount: string;
  readonly vaultCa: string | undefined;
  readonly agentNamespaces: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function usage(message: string): CliError {
  return new CliError(message, 2);
}

function readPemCerts(file: string, flag: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(`${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const certs = text.match(PEM_CERT);
  if (certs === null) throw usage(`${flag}: ${file} holds no PEM certificate`);
  // Certificates only: a private key that happens to sit in the same file is never copied out.
  return `${certs.join('\n')}\n`;
}

/** The pai CA's certificates that clients trust now, from GET /v1/ca (retired ones past their overlap left out). */
async function caFromServer(client: AdminClient, now: Date): Promise<string> {
  const res = await client.request<{ items: { certPem: string; trustedUntil?: string; state: string }[] }>('GET', '/v1/ca');
  const trusted = res.body.items.filter((ca) => ca.trustedUntil === undefined || Date.parse(ca.trustedUntil) > now.getTime());
  if (trusted.length === 0) throw new CliError('the server lists no trusted pai CA');
  return `${trusted.map((ca) => ca.certPem.trimEnd()).join('\n')}\n`;
}

function checked(flags: RenderInstallFlags): Omit<InstallOptions, 'caBundle'> {
  if (nameProblem(flags.namespace) !== undefined) throw usage(`--namespace is not a DNS label: "${flags.namespace}"`);
  if (flags.store !== 'local' && flags.store !== 'vault') throw usage(`--store must be local or vault, got "${flags.store}"`);
  for (const [flag, image] of [
    ['--image', flags.image],
    ['--envoy-image', flags.envoyImage],
    ['--redirect-image', flags.redirectImage],
  ] as const) {
    if (!/^[a-z0-9][a-z0-9._/:@-]*$/i.test(image)) throw usage(`${flag} is not an image reference: "${image}"`);
  }
  if (!/^https?:\/\/[^/\s,]+\/?$/.test(flags.vaultAddr)) throw usage(`--vault-addr is not a URL: "${flags.vaultAddr}"`);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_/-]*$/.test(flags.vaultMount)) throw usage(`--vault-mount is not a mount path`);
  const agentNamespaces = flags.agentNamespaces === '' ? [] : flags.agentNamespaces.split(',').map((n) => n.trim());
  const bad = agentNamespaces.find((n) => nameProblem(n) !== undefined);
  if (bad !== undefined) throw usage(`--agent-namespaces: "${bad}" is not a namespace name`);
  return {
    namespace: flags.namespace,
    store: flags.store,
    image: flags.image,
    envoyImage: flags.envoyImage,
    redirectImage: flags.redirectImage,
    vaultAddr: flags.vaultAddr.replace(/\/$/, ''),
    vaultMount: flags.vaultMount,
    vaultCaPem: flags.vaultCa === undefined ? undefined : readPemCerts(flags.vaultCa, '--vault-ca'),
    agentNamespaces,
  };
}

/** Prints the install manifests; notes the Secrets to create first on stderr. `client` is called only without --ca-bundle. */
export async function renderInstallCommand(
  client: () => Promise<AdminClient>,
  flags: RenderInstallFlags,
  io: CliIo,
): Promise<void> {
  const options = checked(flags);
  const caBundle =
    flags.caBundle === undefined ? await caFromServer(await client(), new Date()) : readPemCerts(flags.caBundle, '--ca-bundle');
  io.stdout(installYaml(renderInstall({ ...options, caBundle })));
  for (const [name, what] of Object.entries(INSTALL_PREREQUISITES)) io.stderr(`note: create Secret ${name} first: ${what}\n`);
}
