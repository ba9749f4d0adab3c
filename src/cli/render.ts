/**
 * `pai render env AGENT [-o dotenv|json]`: the one command that prints secret values, for a
 * launcher that starts the agent with them. The server audits every render.
 */
import type { AdminClient } from './client.js';
import { CliError } from './client.js';
import type { CliIo } from './io.js';

/** Writes the agent's env (dotenv by default) to stdout exactly as the server rendered it. */
export async function renderEnv(client: AdminClient, agent: string, format: string, io: CliIo): Promise<void> {
  if (format !== 'dotenv' && format !== 'json')
    throw new CliError(`unknown output format "${format}" (expected dotenv or json)`, 2);
  const res = await client.requestRaw('GET', client.nsPath(`agents/${encodeURIComponent(agent)}/env?format=${format}`));
  io.stdoutBytes(res);
}
