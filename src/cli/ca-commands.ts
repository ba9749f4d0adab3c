/**
 * The pai CA from the CLI (issue 14): `pai get ca` (public certificates and their dates, never a
 * key), `pai rotate ca [--overlap 7d]`, `pai render ca-bundle` (system roots plus the pai CA, for
 * SSL_CERT_FILE) and `pai render hosts AGENT` (the agent container's hosts file).
 */
import type { AdminClient } from './client.js';
import type { CliIo } from './io.js';

interface CaItem {
  readonly id: string;
  readonly state: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly trustedUntil?: string;
  readonly certPem: string;
}

/** `pai get ca`: one comment line per CA (id, state, validity) before its PEM certificate. */
export async function getCa(client: AdminClient, io: CliIo): Promise<void> {
  const res = await client.request<{ items: CaItem[] }>('GET', '/v1/ca');
  for (const ca of res.body.items) {
    const until = ca.trustedUntil === undefined ? '' : `, trusted until ${ca.trustedUntil}`;
    io.stdout(`# pai CA ${ca.id}: ${ca.state}, valid ${ca.notBefore} to ${ca.notAfter}${until}\n${ca.certPem.trimEnd()}\n`);
  }
}

/** `pai rotate ca`: a new signing CA; the previous one stays trusted for the overlap. */
export async function rotateCa(client: AdminClient, overlap: string | undefined, io: CliIo): Promise<void> {
  const res = await client.request<{ previousId: string; activeId: string }>(
    'POST',
    '/v1/ca/rotate',
    overlap === undefined ? {} : { overlap },
  );
  io.stdout(`pai CA rotated: ${res.body.previousId} -> ${res.body.activeId} (the previous CA stays trusted for the overlap)\n`);
}

/** `pai render ca-bundle` and `pai render hosts AGENT`: the server's text, unchanged. */
export async function renderText(client: AdminClient, path: string, io: CliIo): Promise<void> {
  io.stdout((await client.requestRaw('GET', path)).toString('utf8'));
}
