/**
 * The webhook's HTTPS server: POST /mutate takes an AdmissionReview and answers one; GET /healthz
 * and /readyz for probes. TLS only (the API server calls admission webhooks over HTTPS alone).
 */
import type { ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { toPaiError } from '../errors.js';
import { type ReviewDeps, reviewPod } from './review.js';

/** Largest AdmissionReview read: a pod spec is bounded by etcd's 1.5 MiB object limit. */
const MAX_BODY = 3 * 1024 * 1024;

export interface WebhookServerOptions extends ReviewDeps {
  readonly cert: string;
  readonly key: string;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Starts the server on `host:port` (0 for any); resolves with it and its bound port. Throws on bind errors. */
export async function startWebhookServer(
  options: WebhookServerOptions,
  host: string,
  port: number,
): Promise<{ server: https.Server; port: number }> {
  const server = https.createServer({ cert: options.cert, key: options.key }, (req, res) => {
    if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/readyz')) return send(res, 200, { status: 'ok' });
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/mutate') return send(res, 404, { error: 'not found' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(res, 400, { error: 'the body is not JSON' });
      }
      reviewPod(body, options).then(
        (out) => send(res, 200, out),
        (err: unknown) => send(res, toPaiError(err).status, { error: toPaiError(err).message }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
