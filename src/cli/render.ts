/**
 * `pai render env AGENT [-o dotenv|json] [--ca-bundle PATH | --no-ca-bundle]`: the one command that
 * prints secret values, for a launcher that starts the agent with them. The server audits every
 * render. Besides the agent's env it prints the six variables that point TLS stacks at the pai CA
 * bundle mounted in the agent container (docs/TLS.md §4).
 */
import type { AdminClient } from './client.js';
import { CliError } from './client.js';
import type { CliIo } from './io.js';

/**
 * Writes the agent's env (dotenv by default) to stdout exactly as the server rendered it. `caBundle`:
 * the bundle's path in the agent container (undefined: the server's default), or false for none.
 */
export async function renderEnv(
  client: AdminClient,
  agent: string,
  format: string,
  io: CliIo,
  caBundle?: string | false,
): Promise<void> {
  if (format !== 'dotenv' && format !== 'json')
    throw new CliError(`unknown output format "${format}" (expected dotenv or json)`, 2);
  if (typeof caBundle === 'string' && !caBundle.startsWith('/'))
    throw new CliError(`--ca-bundle must be an absolute path in the agent container, got "${caBundle}"`, 2);
  const query = new URLSearchParams({ format });
  if (caBundle !== undefined) query.set('caBundle', caBundle === false ? 'none' : caBundle);
  const res = await client.requestRaw('GET', client.nsPath(`agents/${encodeURIComponent(agent)}/env?${query.toString()}`));
  io.stdoutBytes(res);
}
